/** Exports written from the project's masks (DICOM SEG, RTSTRUCT and SR, COCO folders), with their provenance. */
import type { Db } from './project-database.js';

export type ExportKind = 'seg' | 'rtstruct' | 'coco' | 'sr';

export interface ExportRecord {
  id: number;
  kind: ExportKind;
  sourceSeriesUid: string;
  file: string;
  sopInstanceUid: string;
  seriesInstanceUid: string;
  version: number;
  masksHash: string;
  replaces: string | null;
  frames: number;
  segments: number;
  author: string;
  createdAt: string;
}

const columns = `id, kind, source_series_uid AS sourceSeriesUid, file, sop_instance_uid AS sopInstanceUid, series_instance_uid AS seriesInstanceUid,
  version, masks_hash AS masksHash, replaces, frames, segments, author, created_at AS createdAt`;

export class ExportsRepository {
  constructor(private readonly db: Db) {}

  /** The newest export of a source series, or undefined. */
  latest(kind: ExportKind, sourceSeriesUid: string): ExportRecord | undefined {
    return this.db.prepare(`SELECT ${columns} FROM exports WHERE kind = ? AND source_series_uid = ? ORDER BY version DESC LIMIT 1`).get(kind, sourceSeriesUid) as ExportRecord | undefined;
  }

  byHash(kind: ExportKind, sourceSeriesUid: string, masksHash: string): ExportRecord | undefined {
    return this.db.prepare(`SELECT ${columns} FROM exports WHERE kind = ? AND source_series_uid = ? AND masks_hash = ?`).get(kind, sourceSeriesUid, masksHash) as ExportRecord | undefined;
  }

  insert(r: Omit<ExportRecord, 'id'> & { masks: [number, string][]; models: string[] }): number {
    return Number(
      this.db
        .prepare(
          `INSERT INTO exports (kind, source_series_uid, file, sop_instance_uid, series_instance_uid, version, masks_hash, masks, models, replaces, frames, segments, author, created_at)
           VALUES (@kind, @sourceSeriesUid, @file, @sopInstanceUid, @seriesInstanceUid, @version, @masksHash, @masks, @models, @replaces, @frames, @segments, @author, @createdAt)`,
        )
        .run({ ...r, masks: JSON.stringify(r.masks), models: JSON.stringify(r.models) }).lastInsertRowid,
    );
  }

  list(limit = 200): ExportRecord[] {
    return this.db.prepare(`SELECT ${columns} FROM exports ORDER BY id DESC LIMIT ?`).all(limit) as ExportRecord[];
  }
}
