/**
 * Measurements per segment in patient units (geometry.ts): areas, volume, RECIST axes, HU
 * statistics; CSV and DICOM SR. Runtime: node.
 *
 * The I/O half: which slices a segment spans (series-stack.ts), their geometry (the images
 * table: Pixel Spacing, Image Position/Orientation stored at import; for a multi-frame image,
 * whose table row holds its first frame's only, every frame's plane read from its file), its
 * accepted masks (drafts are not measured) and the modality values under them (the project's
 * pixel service, rescale applied); the arithmetic is measure.ts.
 */
import { ApiError, type ImageDetail, type MeasurementsHandlers } from '../../contract/api.js';
import { decodeRle } from '../../contract/rle.js';
import { measurementsCsv, sliceAreasCsv } from '../../contract/measurement-text.js';
import type { SegmentMeasurement } from '../../contract/measurements.js';
import { defaultSegmentName } from '../../contract/segments.js';
import type { Orientation, Spacing, Vec3 } from '../../contract/geometry.js';
import { dicomExportDetail, startExportJob } from '../dicom-export/export-job.node.js';
import { dicomLock } from '../dicom-export/export.service.js';
import { exportDepsFor } from '../dicom-export/export-writer.node.js';
import { exportSr } from '../dicom-export/sr-export.node.js';
import type { FramePlane } from '../imaging/dicom-header.js';
import { samplesOf } from '../inference/sam-window.js';
import type { ProjectService } from '../project.service.js';
import { findPython } from '../runtime/python-path.node.js';
import { countsFromBlob } from '../store/counts-blob.js';
import { ImagesRepository } from '../store/images.repository.js';
import { LabelsRepository } from '../store/labels.repository.js';
import type { MaskKey } from '../store/masks.repository.js';
import type { Db } from '../store/project-database.js';
import { framePlanesOf } from './frame-planes.node.js';
import { measureSegment, valueSums, type StackSliceIn } from './measure.js';
import { seriesStack, type SeriesStack } from './series-stack.js';

export interface MeasurementsServiceOptions {
  user: string;
  appVersion: string;
  /** Names of installed models: the SEG an SR refers to names them, as the SEG export does. */
  modelNames?: () => Record<string, { name: string }>;
}

interface MaskRow extends MaskKey {
  height: number;
  width: number;
  counts: Uint8Array;
}

export class MeasurementsService implements MeasurementsHandlers {

  constructor(
    private readonly project: ProjectService,
    private readonly opts: MeasurementsServiceOptions,
  ) {}

  private open(): { dir: string; db: Db } {
    const p = this.project.openProject();
    if (!p) throw new ApiError('no_project', 'Open or create a project first');
    return p;
  }

  'segments.measure': MeasurementsHandlers['segments.measure'] = async ({ imageId, labelId, instance }) => {
    const { dir, db } = this.open();
    const stack = stackOf(db, imageId);
    const [m] = await this.measureStack(dir, db, stack, imageId, [{ labelId, instance }]);
    if (!m) {
      const label = new LabelsRepository(db).list().find((l) => l.id === labelId)?.name ?? `label ${labelId}`;
      throw new ApiError('not_found', `${label} ${instance} has no accepted pixels in this series (drafts are not measured)`);
    }
    return m;
  };

  'segments.measurementsCsv': MeasurementsHandlers['segments.measurementsCsv'] = async ({ imageId }) => {
    const { dir, db } = this.open();
    const rows = await this.measureSeries(dir, db, imageId);
    const d = new ImagesRepository(db).detail(imageId)!;
    const base = (d.seriesDescription || d.fileName).replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 60) || 'series';
    return { csv: measurementsCsv(rows), fileName: `${base}-measurements.csv`, rows: rows.length, slicesCsv: sliceAreasCsv(rows), slicesFileName: `${base}-slice-areas.csv` };
  };

  'export.srStart': MeasurementsHandlers['export.srStart'] = ({ imageId }) => {
    const open = this.open();
    return startExportJob({
      project: this.project,
      db: open.db,
      user: this.opts.user,
      imageId,
      kind: 'sr',
      what: 'the measurement report',
      run: async ({ signal, stage }) => {
        const python = () => findPython({ lock: dicomLock(), signal, onProgress: (g) => stage('environment', `Preparing the DICOM environment: ${g.message}`, g) });
        const r = await exportSr(imageId, {
          ...exportDepsFor(open, this.opts, python, signal),
          onStage: (s, detail) => stage(s === 'environment' ? 'environment' : 'exporting', detail),
          measure: () => {
            stage('exporting', 'Measuring the segments');
            return this.measureSeries(open.dir, open.db, imageId);
          },
        });
        const exported = { kind: 'sr' as const, file: r.file, sopInstanceUid: r.sopInstanceUid, seriesInstanceUid: r.seriesInstanceUid, version: r.version, frames: r.frames, segments: r.segments, reused: r.reused };
        return { detail: `${dicomExportDetail('SR', exported)}; it refers to SEG version ${r.seg.version} (${r.seg.file})`, exported };
      },
    });
  };

  /** Every segment of `imageId`'s series with accepted pixels, measured in one pass over the stack (what a PACS send's report records). */
  seriesMeasurements(imageId: number): Promise<SegmentMeasurement[]> {
    const { dir, db } = this.open();
    return this.measureSeries(dir, db, imageId);
  }

  /** Every segment of `imageId`'s stack with accepted pixels, measured, by label then instance. */
  private async measureSeries(dir: string, db: Db, imageId: number): Promise<SegmentMeasurement[]> {
    const stack = stackOf(db, imageId);
    const masks = masksOf(db, stack);
    const keys = masks
      .map((m) => `${m.labelId}:${m.instance}`)
      .filter((k, i, all) => all.indexOf(k) === i)
      .map((k) => ({ labelId: Number(k.split(':')[0]), instance: Number(k.split(':')[1]) }))
      .sort((a, b) => a.labelId - b.labelId || a.instance - b.instance);
    return this.measureStack(dir, db, stack, imageId, keys, masks);
  }

  /** The segments `keys` of one stack, measured (those without accepted pixels are left out); `stackMasks`: masksOf(stack), when the caller has it. */
  private async measureStack(dir: string, db: Db, stack: SeriesStack, imageId: number, keys: readonly { labelId: number; instance: number }[], stackMasks?: MaskRow[]): Promise<SegmentMeasurement[]> {
    if (keys.length === 0) return [];
    const images = new ImagesRepository(db);
    const details = new Map<number, ImageDetail>();
    for (const s of stack.slices) if (!details.has(s.imageId)) details.set(s.imageId, images.detail(s.imageId)!);
    const planes = new Map<number, FramePlane[]>();
    for (const d of details.values()) if (d.kind === 'dicom' && d.frames > 1) planes.set(d.id, await framePlanesOf(dir, images, d));
    const masks = stackMasks ?? masksOf(db, stack);
    const labels = new Map(new LabelsRepository(db).list().map((l) => [l.id, l.name]));
    const nameStmt = db.prepare('SELECT name FROM segments WHERE series_key = ? AND label_id = ? AND instance = ?').pluck();
    const first = details.get(stack.slices[0]!.imageId)!;
    const valueUnit = (first.modality ?? '').toUpperCase() === 'CT' ? 'HU' : null;
    const colour = first.samplesPerPixel > 1 || first.photometric.toUpperCase().startsWith('PALETTE');
    const out: SegmentMeasurement[] = [];
    for (const key of keys) {
      const mine = new Map(masks.filter((m) => m.labelId === key.labelId && m.instance === key.instance).map((m) => [`${m.imageId}:${m.frame}`, m]));
      if (mine.size === 0) continue;
      const slices: StackSliceIn[] = [];
      for (const s of stack.slices) {
        const d = details.get(s.imageId)!;
        const row = mine.get(`${s.imageId}:${s.frame}`);
        const mask = row ? decodeRle({ size: [row.height, row.width], counts: countsFromBlob(row.counts) }) : null;
        let sums = null;
        if (mask && !colour) {
          const f = await this.project['image.pixels']({ imageId: s.imageId, frame: s.frame });
          if (f.width !== row!.width || f.height !== row!.height) throw new ApiError('conflict', `The mask on ${d.fileName} is ${row!.width}x${row!.height}, the image ${f.width}x${f.height}`);
          sums = valueSums(mask, samplesOf(f.dtype, f.data), f.rescaleSlope, f.rescaleIntercept);
        }
        // A multi-frame image's frames are placed by their own planes (read from the file); a
        // frame without a position has none here, and the segment then gets no volume.
        const plane = d.frames > 1 ? (planes.get(d.id)?.[s.frame] ?? { position: null, orientation: null, pixelSpacing: null }) : null;
        slices.push({
          imageId: s.imageId,
          frame: s.frame,
          width: d.width,
          height: d.height,
          spacing: validSpacing(plane?.pixelSpacing ?? d.pixelSpacing),
          position: plane ? plane.position : (d.imagePosition as Vec3 | null),
          orientation: plane ? plane.orientation : (d.imageOrientation as Orientation | null),
          mask,
          sums,
        });
      }
      const figures = measureSegment(slices, { valueUnit, colour });
      if (!figures) continue;
      const label = labels.get(key.labelId) ?? `label ${key.labelId}`;
      const name = (nameStmt.get(stack.key, key.labelId, key.instance) as string | null | undefined) ?? defaultSegmentName(label, key.instance);
      out.push({ imageId, labelId: key.labelId, instance: key.instance, name, label, seriesKey: stack.key, ...figures });
    }
    return out;
  }
}

function stackOf(db: Db, imageId: number): SeriesStack {
  const stack = seriesStack(db, imageId);
  if (!stack) throw new ApiError('not_found', `No image with id ${imageId}`);
  return stack;
}

/** The accepted, non-empty masks on the stack's slices (drafts are proposals: not measured). */
function masksOf(db: Db, stack: SeriesStack): MaskRow[] {
  const stmt = db.prepare(
    `SELECT image_id AS imageId, frame, label_id AS labelId, instance, height, width, counts FROM masks
     WHERE image_id = ? AND area > 0 AND draft = 0 ORDER BY frame, label_id, instance`,
  );
  const ids = [...new Set(stack.slices.map((s) => s.imageId))];
  return ids.flatMap((id) => stmt.all(id) as MaskRow[]);
}

/** Pixel Spacing only when it is two positive numbers (a zero or negative one is no spacing at all). */
function validSpacing(s: [number, number] | null): Spacing | null {
  return s && s[0] > 0 && s[1] > 0 && Number.isFinite(s[0]) && Number.isFinite(s[1]) ? s : null;
}
