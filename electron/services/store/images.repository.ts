/** Image rows: what was imported, where its copy lives, and how to read and group it. */
import type { ImageDetail, ImageStatus, ImageSummary, WindowPreset } from '../../contract/api.js';
import type { Db } from './project-database.js';
import { type ImageListing, listingBuilder } from '../../contract/image-listing.js';

/** Everything the importer knows about one file, ready to insert. */
export interface NewImage {
  sha256: string;
  kind: 'dicom' | 'raster';
  format: string;
  fileName: string;
  folder: string;
  mediaPath: string;
  byteSize: number;
  width: number;
  height: number;
  frames: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  signed: boolean;
  photometric: string;
  rescaleSlope: number;
  rescaleIntercept: number;
  pixelSpacing: [number, number] | null;
  windows: WindowPreset[];
  transferSyntax: string | null;
  modality: string | null;
  patientName: string | null;
  patientId: string | null;
  studyUid: string | null;
  studyDescription: string | null;
  seriesUid: string | null;
  seriesDescription: string | null;
  seriesNumber: number | null;
  sopInstanceUid: string | null;
  instanceNumber: number | null;
  slicePosition: number | null;
  imagePosition?: number[] | null;
  imageOrientation?: number[] | null;
  sliceThickness?: number | null;
  accessionNumber?: string | null;
  studyDate?: string | null;
}

/** The columns needed to read pixels back. */
export interface ImageMediaRow {
  id: number;
  sha256: string;
  kind: 'dicom' | 'raster';
  format: string;
  mediaPath: string;
  width: number;
  height: number;
  frames: number;
  photometric: string;
  samplesPerPixel: number;
  windows: WindowPreset[];
  rescaleSlope: number;
  rescaleIntercept: number;
}

const summaryColumns = `
  i.id, i.kind, i.file_name AS fileName, i.folder, i.status, i.width, i.height, i.frames, i.modality,
  i.patient_name AS patientName, i.patient_id AS patientId, i.study_uid AS studyUid,
  i.study_description AS studyDescription, i.series_uid AS seriesUid, i.series_description AS seriesDescription,
  i.series_number AS seriesNumber, i.series_index AS seriesIndex,
  (SELECT count(*) FROM masks m WHERE m.image_id = i.id) AS maskCount, i.pinned_val AS validationPinned,
  i.accession_number AS accessionNumber, i.study_date AS studyDate, i.slice_position AS slicePosition,
  i.slice_thickness AS sliceThickness`;

/** One row of `summaryColumns` in their order, written into `row` (a fresh object unless one is given to refill). */
function summaryFromColumns(c: unknown[], row = {} as ImageSummary): ImageSummary {
  row.id = c[0] as number;
  row.kind = c[1] as ImageSummary['kind'];
  row.fileName = c[2] as string;
  row.folder = c[3] as string;
  row.status = c[4] as ImageSummary['status'];
  row.width = c[5] as number;
  row.height = c[6] as number;
  row.frames = c[7] as number;
  row.modality = c[8] as string | null;
  row.patientName = c[9] as string | null;
  row.patientId = c[10] as string | null;
  row.studyUid = c[11] as string | null;
  row.studyDescription = c[12] as string | null;
  row.seriesUid = c[13] as string | null;
  row.seriesDescription = c[14] as string | null;
  row.seriesNumber = c[15] as number | null;
  row.seriesIndex = c[16] as number;
  row.maskCount = c[17] as number;
  row.validationPinned = c[18] === 1;
  row.accessionNumber = c[19] as string | null;
  row.studyDate = c[20] as string | null;
  row.slicePosition = c[21] as number | null;
  row.sliceThickness = c[22] as number | null;
  return row;
}

export class ImagesRepository {
  private readonly insertStmt;
  private readonly shaStmt;

  constructor(private readonly db: Db) {
    this.insertStmt = db.prepare(`
      INSERT INTO images (sha256, kind, format, file_name, folder, media_path, byte_size, width, height, frames,
        samples_per_pixel, bits_allocated, bits_stored, signed, photometric, rescale_slope, rescale_intercept,
        pixel_spacing, windows, transfer_syntax, modality, patient_name, patient_id, study_uid, study_description,
        series_uid, series_description, series_number, sop_instance_uid, instance_number, slice_position,
        image_position, image_orientation, slice_thickness, accession_number, study_date, header_fields,
        imported_at, imported_by)
      VALUES (@sha256, @kind, @format, @fileName, @folder, @mediaPath, @byteSize, @width, @height, @frames,
        @samplesPerPixel, @bitsAllocated, @bitsStored, @signed, @photometric, @rescaleSlope, @rescaleIntercept,
        @pixelSpacing, @windows, @transferSyntax, @modality, @patientName, @patientId, @studyUid, @studyDescription,
        @seriesUid, @seriesDescription, @seriesNumber, @sopInstanceUid, @instanceNumber, @slicePosition,
        @imagePosition, @imageOrientation, @sliceThickness, @accessionNumber, @studyDate, ${HEADER_FIELDS},
        @importedAt, @importedBy)`);
    this.shaStmt = db.prepare('SELECT id FROM images WHERE sha256 = ?').pluck();
  }

  idBySha(sha256: string): number | undefined {
    return this.shaStmt.get(sha256) as number | undefined;
  }

  insert(img: NewImage, importedAt: string, importedBy: string): number {
    const r = this.insertStmt.run({
      ...img,
      signed: img.signed ? 1 : 0,
      pixelSpacing: img.pixelSpacing ? JSON.stringify(img.pixelSpacing) : null,
      imagePosition: img.imagePosition ? JSON.stringify(img.imagePosition) : null,
      imageOrientation: img.imageOrientation ? JSON.stringify(img.imageOrientation) : null,
      sliceThickness: img.sliceThickness ?? null,
      accessionNumber: img.accessionNumber ?? null,
      studyDate: img.studyDate ?? null,
      windows: JSON.stringify(img.windows),
      importedAt,
      importedBy,
    });
    return Number(r.lastInsertRowid);
  }

  count(): number {
    return this.db.prepare('SELECT count(*) FROM images').pluck().get() as number;
  }

  list(): ImageSummary[] {
    // Rows as arrays, made into objects of one fixed shape here: better-sqlite3's named-column
    // objects cost 2.3x the query itself at 50,000 images (issue 10's open-to-list goal).
    return this.listRows().map((c) => summaryFromColumns(c));
  }

  /** list()'s rows in its order, straight into the browser's columns: one object refilled, not one per row. */
  listing(): ImageListing {
    const rows = this.listRows();
    const b = listingBuilder(rows.length);
    const row = {} as ImageSummary;
    for (const c of rows) b.add(summaryFromColumns(c, row));
    return b.done();
  }

  private listRows(): unknown[][] {
    return this.db
      .prepare(`SELECT ${summaryColumns} FROM images i ORDER BY i.kind, i.patient_name, i.study_uid, i.series_uid, i.folder, i.series_index, i.id`)
      .raw()
      .all() as unknown[][];
  }

  detail(id: number): ImageDetail | undefined {
    const row = this.db
      .prepare(
        `SELECT ${summaryColumns}, i.sha256, i.photometric, i.samples_per_pixel AS samplesPerPixel, i.bits_stored AS bitsStored,
         i.signed, i.rescale_slope AS rescaleSlope, i.rescale_intercept AS rescaleIntercept, i.pixel_spacing AS pixelSpacing,
         i.windows, i.transfer_syntax AS transferSyntax, i.image_position AS imagePosition,
         i.image_orientation AS imageOrientation FROM images i WHERE i.id = ?`,
      )
      .get(id) as
      | (Omit<ImageDetail, 'signed' | 'pixelSpacing' | 'windows' | 'validationPinned' | 'imagePosition' | 'imageOrientation'> & {
          signed: number;
          pixelSpacing: string | null;
          windows: string;
          validationPinned: number;
          imagePosition: string | null;
          imageOrientation: string | null;
        })
      | undefined;
    if (!row) return undefined;
    return {
      ...row,
      imagePosition: parseVector(row.imagePosition, 3) as ImageDetail['imagePosition'],
      imageOrientation: parseVector(row.imageOrientation, 6) as ImageDetail['imageOrientation'],
      validationPinned: row.validationPinned === 1,
      signed: row.signed === 1,
      pixelSpacing: row.pixelSpacing ? (JSON.parse(row.pixelSpacing) as [number, number]) : null,
      windows: JSON.parse(row.windows) as WindowPreset[],
    };
  }

  media(id: number): ImageMediaRow | undefined {
    const row = this.db
      .prepare(
        `SELECT id, sha256, kind, format, media_path AS mediaPath, width, height, frames, photometric,
         samples_per_pixel AS samplesPerPixel, windows, rescale_slope AS rescaleSlope, rescale_intercept AS rescaleIntercept
         FROM images WHERE id = ?`,
      )
      .get(id) as (Omit<ImageMediaRow, 'windows'> & { windows: string }) | undefined;
    return row ? { ...row, windows: JSON.parse(row.windows) as WindowPreset[] } : undefined;
  }

  status(id: number): ImageStatus | undefined {
    return this.db.prepare('SELECT status FROM images WHERE id = ?').pluck().get(id) as ImageStatus | undefined;
  }

  setStatus(id: number, status: ImageStatus): void {
    this.db.prepare('UPDATE images SET status = ? WHERE id = ?').run(status, id);
  }

  /** Slices of a series with what orders them. */
  seriesMembers(seriesUid: string): { id: number; slicePosition: number | null; instanceNumber: number | null; fileName: string }[] {
    return this.db
      .prepare('SELECT id, slice_position AS slicePosition, instance_number AS instanceNumber, file_name AS fileName FROM images WHERE series_uid = ?')
      .all(seriesUid) as { id: number; slicePosition: number | null; instanceNumber: number | null; fileName: string }[];
  }

  /** Raster images of one folder. */
  folderMembers(folder: string): { id: number; slicePosition: null; instanceNumber: null; fileName: string }[] {
    return this.db
      .prepare("SELECT id, NULL AS slicePosition, NULL AS instanceNumber, file_name AS fileName FROM images WHERE kind = 'raster' AND folder = ?")
      .all(folder) as { id: number; slicePosition: null; instanceNumber: null; fileName: string }[];
  }

  setSeriesIndex(ids: readonly number[]): void {
    const stmt = this.db.prepare('UPDATE images SET series_index = ? WHERE id = ? AND series_index IS NOT ?');
    ids.forEach((id, index) => stmt.run(index, id, index));
  }

  /**
   * DICOM rows whose header was read before the fields of migration 7 existed (header_fields
   * below HEADER_FIELDS), by id after `afterId`: what the header backfill reads again (walking
   * by id, each batch reads on from where the last stopped instead of scanning the table again).
   */
  staleHeaders(afterId: number, limit: number): { id: number; mediaPath: string; fileName: string }[] {
    return this.db
      .prepare("SELECT id, media_path AS mediaPath, file_name AS fileName FROM images WHERE id > ? AND header_fields < ? AND kind = 'dicom' ORDER BY id LIMIT ?")
      .all(afterId, HEADER_FIELDS, limit) as { id: number; mediaPath: string; fileName: string }[];
  }

  /** Rows of other kinds than DICOM have no more fields to read: marked read. Returns how many. */
  markNonDicomHeadersRead(): number {
    return this.db.prepare("UPDATE images SET header_fields = ? WHERE header_fields < ? AND kind <> 'dicom'").run(HEADER_FIELDS, HEADER_FIELDS).changes;
  }

  /** Stores the fields read again from a row's file (all null when it could not be read) and marks the row read, so it is never read again. */
  setHeaderFields(id: number, f: HeaderFields | null): void {
    this.db
      .prepare(
        `UPDATE images SET image_position = @imagePosition, image_orientation = @imageOrientation, slice_thickness = @sliceThickness,
         accession_number = @accessionNumber, study_date = @studyDate, header_fields = @version WHERE id = @id`,
      )
      .run({
        id,
        version: HEADER_FIELDS,
        imagePosition: f?.imagePosition ? JSON.stringify(f.imagePosition) : null,
        imageOrientation: f?.imageOrientation ? JSON.stringify(f.imageOrientation) : null,
        sliceThickness: f?.sliceThickness ?? null,
        accessionNumber: f?.accessionNumber ?? null,
        studyDate: f?.studyDate ?? null,
      });
  }
}

/** images.header_fields of a row whose header was read for every column migration 7 added. */
export const HEADER_FIELDS = 7;

/** The header fields migration 7 added, as the backfill reads them again. */
export type HeaderFields = Required<Pick<NewImage, 'imagePosition' | 'imageOrientation' | 'sliceThickness' | 'accessionNumber' | 'studyDate'>>;

/** A stored JSON number array of `n` finite values, or null (absent or not that). */
function parseVector(json: string | null, n: number): number[] | null {
  if (!json) return null;
  try {
    const v = JSON.parse(json) as unknown;
    return Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'number' && Number.isFinite(x)) ? (v as number[]) : null;
  } catch {
    return null;
  }
}
