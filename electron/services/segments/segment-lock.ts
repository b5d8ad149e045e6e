/**
 * The lock of a segment as every mask write checks it: a locked segment refuses paint,
 * erase, SAM and deletion in the service, whatever the renderer did. Runtime: node.
 */
import { ApiError } from '../../contract/api.js';
import type { Statement } from 'better-sqlite3';
import type { Db } from '../store/project-database.js';
import { defaultSegmentName } from './segment-summary.js';
import { seriesKeyOf } from './series-stack.js';

type Stmt = Statement<unknown[]>;

/** Statements prepared once per open database: the check runs on every mask save. */
const prepared = new WeakMap<Db, { image: Stmt; locked: Stmt }>();

function statements(db: Db): { image: Stmt; locked: Stmt } {
  let s = prepared.get(db);
  if (!s) {
    s = {
      image: db.prepare('SELECT id, kind, series_uid AS seriesUid, frames FROM images WHERE id = ?'),
      locked: db.prepare(
        `SELECT s.name, l.name AS labelName FROM segments s JOIN labels l ON l.id = s.label_id
         WHERE s.series_key = ? AND s.label_id = ? AND s.instance = ? AND s.locked = 1`,
      ),
    };
    prepared.set(db, s);
  }
  return s;
}

/** The shown name of the segment (the image's stack, label, instance) when it is locked, else null (two indexed reads). */
export function lockedSegmentName(db: Db, imageId: number, labelId: number, instance: number): string | null {
  const st = statements(db);
  const img = st.image.get(imageId) as { id: number; kind: 'dicom' | 'raster'; seriesUid: string | null; frames: number } | undefined;
  if (!img) return null;
  const r = st.locked.get(seriesKeyOf(img), labelId, instance) as { name: string | null; labelName: string } | undefined;
  return r ? (r.name ?? defaultSegmentName(r.labelName, instance)) : null;
}

/** Throws ApiError('conflict') with a sentence naming the segment when it is locked. */
export function assertSegmentUnlocked(db: Db, key: { imageId: number; labelId: number; instance: number }): void {
  const name = lockedSegmentName(db, key.imageId, key.labelId, key.instance);
  if (name !== null) throw new ApiError('conflict', `"${name}" is locked: unlock it in the segment list before changing its masks.`);
}
