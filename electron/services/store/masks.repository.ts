/** Masks per (image, frame, label, instance); counts stored as LEB128 blobs. */
import type { MaskRecord } from '../../contract/api.js';
import { countsFromBlob, countsToBlob } from './counts-blob.js';
import type { Db } from './project-database.js';

export interface MaskKey {
  imageId: number;
  frame: number;
  labelId: number;
  instance: number;
}

interface MaskRow {
  id: number;
  imageId: number;
  frame: number;
  labelId: number;
  instance: number;
  height: number;
  width: number;
  counts: Uint8Array;
  area: number;
  updatedAt: string;
  author: string;
  source: string;
  draft: number;
}

/** A mask as training reads it: the RLE, and the window it was drawn through (JSON or null). */
export type TrainingMaskRow = Omit<MaskRow, 'id' | 'area' | 'author' | 'source' | 'draft'> & { viewWindow: string | null };

/** A labelled frame with what the train/validation split groups by. */
export interface LabelledFrameRow {
  imageId: number;
  frame: number;
  patientId: string | null;
  studyUid: string | null;
  seriesUid: string | null;
  folder: string;
  seriesIndex: number;
  pinned: number;
}

const columns =
  'id, image_id AS imageId, frame, label_id AS labelId, instance, height, width, counts, area, updated_at AS updatedAt, author, source, draft';

export class MasksRepository {
  private readonly findStmt;
  private readonly insertStmt;
  private readonly updateStmt;
  private readonly deleteStmt;
  private readonly listStmt;

  constructor(private readonly db: Db) {
    this.findStmt = db.prepare(`SELECT id, area FROM masks WHERE image_id = ? AND frame = ? AND label_id = ? AND instance = ?`);
    this.insertStmt = db.prepare(
      `INSERT INTO masks (image_id, frame, label_id, instance, height, width, counts, area, prompts, source, view_window, model_id, author, draft, created_at, updated_at)
       VALUES (@imageId, @frame, @labelId, @instance, @height, @width, @counts, @area, @prompts, @source, @viewWindow, @modelId, @author, @draft, @at, @at)`,
    );
    this.updateStmt = db.prepare(
      `UPDATE masks SET height = @height, width = @width, counts = @counts, area = @area, prompts = @prompts, source = @source,
       view_window = @viewWindow, model_id = @modelId, author = @author, draft = @draft, updated_at = @at WHERE id = @id`,
    );
    this.deleteStmt = db.prepare('DELETE FROM masks WHERE id = ?');
    this.listStmt = db.prepare(`SELECT ${columns} FROM masks WHERE image_id = ? ORDER BY frame, label_id, instance`);
  }

  find(k: MaskKey): { id: number; area: number } | undefined {
    return this.findStmt.get(k.imageId, k.frame, k.labelId, k.instance) as { id: number; area: number } | undefined;
  }

  insert(k: MaskKey, m: MaskWrite): number {
    return Number(this.insertStmt.run({ ...k, ...toRow(m) }).lastInsertRowid);
  }

  update(id: number, m: MaskWrite): void {
    this.updateStmt.run({ id, ...toRow(m) });
  }

  delete(id: number): void {
    this.deleteStmt.run(id);
  }

  listForImage(imageId: number): MaskRecord[] {
    return (this.listStmt.all(imageId) as MaskRow[]).map((r) => ({
      id: r.id,
      imageId: r.imageId,
      frame: r.frame,
      labelId: r.labelId,
      instance: r.instance,
      rle: { size: [r.height, r.width], counts: countsFromBlob(r.counts) },
      area: r.area,
      updatedAt: r.updatedAt,
      author: r.author,
      source: r.source,
      draft: r.draft === 1,
    }));
  }

  /** Every non-empty mask, in a stable order (a dataset snapshot's content). */
  forTraining(): TrainingMaskRow[] {
    return this.db
      .prepare(
        `SELECT image_id AS imageId, frame, label_id AS labelId, instance, height, width, counts, view_window AS viewWindow, updated_at AS updatedAt
         FROM masks WHERE area > 0 AND draft = 0 ORDER BY image_id, frame, label_id, instance`,
      )
      .all() as TrainingMaskRow[];
  }

  /** Non-empty masks of these images, with the model that made each (null: by hand): what an export (SEG, RTSTRUCT, COCO) holds. */
  forExport(imageIds: readonly number[]): { id: number; imageId: number; frame: number; labelId: number; instance: number; height: number; width: number; counts: Uint8Array; source: string; modelId: string | null; updatedAt: string }[] {
    if (imageIds.length === 0) return [];
    const stmt = this.db.prepare(
      `SELECT id, image_id AS imageId, frame, label_id AS labelId, instance, height, width, counts, source, model_id AS modelId, updated_at AS updatedAt
       FROM masks WHERE area > 0 AND draft = 0 AND image_id = ? ORDER BY frame, label_id, instance`,
    );
    return imageIds.flatMap((id) => stmt.all(id) as ReturnType<MasksRepository['forExport']>);
  }

  /** The frames that have a non-empty mask, with their patient, study and series. */
  labelledFrames(): LabelledFrameRow[] {
    return this.db
      .prepare(
        `SELECT DISTINCT m.image_id AS imageId, m.frame, i.patient_id AS patientId, i.study_uid AS studyUid, i.series_uid AS seriesUid,
                i.folder, i.series_index AS seriesIndex, i.pinned_val AS pinned
         FROM masks m JOIN images i ON i.id = m.image_id WHERE m.area > 0 AND m.draft = 0 ORDER BY m.image_id, m.frame`,
      )
      .all() as LabelledFrameRow[];
  }

  /** The windows a frame's masks were drawn through, most recent first (valid ones only). */
  viewWindows(imageId: number, frame: number): { center: number; width: number }[] {
    const rows = this.db
      .prepare(`SELECT view_window AS w FROM masks WHERE image_id = ? AND frame = ? AND view_window IS NOT NULL ORDER BY updated_at DESC`)
      .all(imageId, frame) as { w: string }[];
    return rows.flatMap((r) => {
      const w = parseWindow(r.w);
      return w ? [w] : [];
    });
  }
}

/** A stored view window, or null when it is not a usable one. */
export function parseWindow(json: string | null): { center: number; width: number } | null {
  if (!json) return null;
  try {
    const w = JSON.parse(json) as { center: number; width: number };
    return Number.isFinite(w.center) && Number.isFinite(w.width) && w.width > 0 ? { center: w.center, width: w.width } : null;
  } catch {
    return null;
  }
}

/** What a mask write stores: the RLE, its area, the prompts that made it, and who/when. */
export interface MaskWrite {
  height: number;
  width: number;
  counts: number[];
  area: number;
  prompts: unknown;
  source: string;
  /** The window the image was shown through while drawing; null when shown as stored. */
  window?: { center: number; width: number } | null | undefined;
  /** The SAM model that produced the mask, if any. */
  modelId?: string | null | undefined;
  author: string;
  at: string;
  /** A proposal (propagation) awaiting review: not trained on or exported. Any other write accepts. */
  draft?: boolean | undefined;
}

/** The column values of a mask write (counts as LEB128, prompts as JSON or NULL). */
function toRow(m: MaskWrite) {
  return {
    height: m.height,
    width: m.width,
    counts: countsToBlob(m.counts),
    area: m.area,
    prompts: m.prompts === undefined ? null : JSON.stringify(m.prompts),
    source: m.source,
    viewWindow: m.window ? JSON.stringify({ center: m.window.center, width: m.window.width }) : null,
    modelId: m.modelId ?? null,
    author: m.author,
    at: m.at,
    draft: m.draft ? 1 : 0,
  };
}
