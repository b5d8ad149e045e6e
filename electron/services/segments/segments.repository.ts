/**
 * SQL for segments: the settings rows (segments table), the mask rows of a segment across
 * its stack, and the whole mask rows a deletion keeps so a restore can put them back byte
 * for byte. No rules here beyond what the queries say (segment-summary.ts has those).
 *
 * Runtime: node.
 */
import type { MaskKey } from '../store/masks.repository.js';
import type { Db } from '../store/project-database.js';
import type { SegmentMaskRow, SegmentSettings } from './segment-summary.js';

/** A mask row in full, as a deletion stores it for its restore (counts as base64 of the stored blob). */
export interface StoredMask extends MaskKey {
  id: number;
  height: number;
  width: number;
  counts: string;
  area: number;
  prompts: string | null;
  source: string;
  author: string;
  createdAt: string;
  updatedAt: string;
  viewWindow: string | null;
  modelId: string | null;
  draft: number;
}

interface SettingsRow {
  id: number;
  labelId: number;
  instance: number;
  name: string | null;
  color: string | null;
  hidden: number;
  locked: number;
}

const toSettings = (r: SettingsRow): SegmentSettings & { id: number } => ({
  id: r.id,
  labelId: r.labelId,
  instance: r.instance,
  name: r.name,
  color: r.color,
  hidden: r.hidden === 1,
  locked: r.locked === 1,
});

const settingsColumns = 'id, label_id AS labelId, instance, name, color, hidden, locked';

export class SegmentsRepository {
  constructor(private readonly db: Db) {}

  settingsOf(seriesKey: string): (SegmentSettings & { id: number })[] {
    return (this.db.prepare(`SELECT ${settingsColumns} FROM segments WHERE series_key = ? ORDER BY label_id, instance`).all(seriesKey) as SettingsRow[]).map(toSettings);
  }

  settings(seriesKey: string, labelId: number, instance: number): (SegmentSettings & { id: number }) | undefined {
    const r = this.db.prepare(`SELECT ${settingsColumns} FROM segments WHERE series_key = ? AND label_id = ? AND instance = ?`).get(seriesKey, labelId, instance) as SettingsRow | undefined;
    return r ? toSettings(r) : undefined;
  }

  /** Insert or replace a segment's settings; returns the row id. */
  upsertSettings(seriesKey: string, s: SegmentSettings, at: string): number {
    return Number(
      (
        this.db
          .prepare(
            `INSERT INTO segments (series_key, label_id, instance, name, color, hidden, locked, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (series_key, label_id, instance) DO UPDATE SET name = excluded.name, color = excluded.color, hidden = excluded.hidden,
             locked = excluded.locked, updated_at = excluded.updated_at RETURNING id`,
          )
          .get(seriesKey, s.labelId, s.instance, s.name, s.color, s.hidden ? 1 : 0, s.locked ? 1 : 0, at) as { id: number }
      ).id,
    );
  }

  /** Put a deleted settings row back under its old id when that is free. */
  restoreSettings(seriesKey: string, s: SegmentSettings & { id: number }, at: string): void {
    const free = !this.db.prepare('SELECT 1 FROM segments WHERE id = ?').get(s.id);
    this.db
      .prepare('INSERT INTO segments (id, series_key, label_id, instance, name, color, hidden, locked, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(free ? s.id : null, seriesKey, s.labelId, s.instance, s.name, s.color, s.hidden ? 1 : 0, s.locked ? 1 : 0, at);
  }

  deleteSettings(id: number): void {
    this.db.prepare('DELETE FROM segments WHERE id = ?').run(id);
  }

  /** Mask rows (no pixels) on the given images; a stack's images hold all of its slices. */
  maskRowsOn(imageIds: readonly number[], only?: { labelId: number; instance: number }): SegmentMaskRow[] {
    const filter = only ? ' AND label_id = ? AND instance = ?' : '';
    const rows = this.db
      .prepare(
        `SELECT image_id AS imageId, frame, label_id AS labelId, instance, area, source, draft FROM masks
         WHERE image_id IN (SELECT value FROM json_each(?))${filter}`,
      )
      .all(JSON.stringify(imageIds), ...(only ? [only.labelId, only.instance] : [])) as (Omit<SegmentMaskRow, 'draft'> & { draft: number })[];
    return rows.map((r) => ({ ...r, draft: r.draft === 1 }));
  }

  /** A segment's masks in full, for a deletion to keep. */
  storedMasks(imageIds: readonly number[], labelId: number, instance: number): StoredMask[] {
    const rows = this.db
      .prepare(
        `SELECT id, image_id AS imageId, frame, label_id AS labelId, instance, height, width, counts, area, prompts, source, author,
                created_at AS createdAt, updated_at AS updatedAt, view_window AS viewWindow, model_id AS modelId, draft
         FROM masks WHERE image_id IN (SELECT value FROM json_each(?)) AND label_id = ? AND instance = ? ORDER BY image_id, frame`,
      )
      .all(JSON.stringify(imageIds), labelId, instance) as (Omit<StoredMask, 'counts'> & { counts: Buffer })[];
    return rows.map((r) => ({ ...r, counts: Buffer.from(r.counts).toString('base64') }));
  }

  deleteMask(id: number): void {
    this.db.prepare('DELETE FROM masks WHERE id = ?').run(id);
  }

  /** Insert a kept mask as it was (its id too, when nobody took it since); returns the id it got. */
  restoreMask(m: StoredMask): number {
    const free = !this.db.prepare('SELECT 1 FROM masks WHERE id = ?').get(m.id);
    const r = this.db
      .prepare(
        `INSERT INTO masks (id, image_id, frame, label_id, instance, height, width, counts, area, prompts, source, author, created_at, updated_at, view_window, model_id, draft)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        free ? m.id : null, m.imageId, m.frame, m.labelId, m.instance, m.height, m.width, Buffer.from(m.counts, 'base64'), m.area, m.prompts,
        m.source, m.author, m.createdAt, m.updatedAt, m.viewWindow, m.modelId, m.draft,
      );
    return Number(r.lastInsertRowid);
  }

  /** Whether (label, instance) has any mask on these images. */
  hasMasks(imageIds: readonly number[], labelId: number, instance: number): boolean {
    return !!this.db
      .prepare('SELECT 1 FROM masks WHERE image_id IN (SELECT value FROM json_each(?)) AND label_id = ? AND instance = ? LIMIT 1')
      .get(JSON.stringify(imageIds), labelId, instance);
  }

  imagesExist(imageIds: readonly number[]): number[] {
    return this.db.prepare('SELECT id FROM images WHERE id IN (SELECT value FROM json_each(?))').pluck().all(JSON.stringify(imageIds)) as number[];
  }

  /** The audit row of a segment deletion (its detail keeps what was deleted). */
  deletionRecord(auditId: number): { detail: string; imageId: number | null } | undefined {
    return this.db
      .prepare("SELECT detail, image_id AS imageId FROM audit WHERE id = ? AND entity = 'segment' AND action = 'delete'")
      .get(auditId) as { detail: string; imageId: number | null } | undefined;
  }

  /** Whether the deletion `auditId` was restored already (its restore's audit row names it). */
  wasRestored(auditId: number): boolean {
    return !!this.db
      .prepare("SELECT 1 FROM audit WHERE entity = 'segment' AND action = 'create' AND json_extract(detail, '$.restoredFrom') = ? LIMIT 1")
      .get(auditId);
  }

  lastAuditId(): number {
    return Number(this.db.prepare('SELECT max(id) FROM audit').pluck().get() ?? 0);
  }
}

