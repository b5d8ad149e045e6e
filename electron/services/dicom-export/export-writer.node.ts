/**
 * What every DICOM export of a series (SEG, RTSTRUCT) shares: one export of a series at a
 * time, the series' masks as the planners take them, running the light DICOM environment's
 * writer on the planned request, and recording the written object in the exports table and
 * the audit table, in one transaction. Runtime: node.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ApiError } from '../../contract/api.js';
import { AuditRepository } from '../store/audit.repository.js';
import { ExportsRepository, type ExportRecord } from '../store/exports.repository.js';
import { ImagesRepository } from '../store/images.repository.js';
import { countsFromBlob } from '../store/counts-blob.js';
import { MasksRepository } from '../store/masks.repository.js';
import type { Db } from '../store/project-database.js';
import { runDicomTool, type DicomToolCommand } from './dicom-tool.node.js';

/** Exports under way, by project, kind and series: a second export of the same waits for the first. */
const running = new Map<string, Promise<unknown>>();

export async function oneAtATime<T>(key: string, run: () => Promise<T>): Promise<T> {
  const mine = (running.get(key) ?? Promise.resolve()).catch(() => undefined).then(run);
  running.set(key, mine);
  try {
    return await mine;
  } finally {
    if (running.get(key) === mine) running.delete(key);
  }
}

/** The masks of these images as the SEG and RTSTRUCT planners take them; refuses a series without any. */
export function seriesMasks(db: Db, imageIds: readonly number[]) {
  const rows = new MasksRepository(db).forExport(imageIds);
  if (rows.length === 0) throw new ApiError('bad_request', 'This series has no masks to export');
  return rows.map((r) => ({ id: r.id, imageId: r.imageId, frame: r.frame, labelId: r.labelId, rle: { size: [r.height, r.width] as [number, number], counts: countsFromBlob(r.counts) }, modelId: r.modelId, updatedAt: r.updatedAt }));
}

/**
 * Write `request` next to the export (removed afterwards) and run `command` on it; the tool's
 * JSON answer. The tool names a source by its stored copy (media/<sha256>.dcm): the error
 * names the file as the user imported it.
 */
export async function runWriter<T>(w: {
  python: string;
  command: DicomToolCommand;
  request: unknown;
  /** Absolute folder the export is written into. */
  folder: string;
  /** "DICOM SEG not written": the start of an error sentence. */
  failed: string;
  db: Db;
  sources: readonly { imageId: number; file: string }[];
  signal?: AbortSignal;
}): Promise<T> {
  mkdirSync(w.folder, { recursive: true });
  const requestFile = path.join(w.folder, `.request-${randomUUID().slice(0, 8)}.json`);
  writeFileSync(requestFile, JSON.stringify(w.request));
  try {
    return JSON.parse(await runDicomTool(w.python, w.command, requestFile, w.failed, w.signal)) as T;
  } catch (e) {
    const culprit = e instanceof ApiError ? w.sources.find((src) => e.message.includes(src.file)) : undefined;
    const name = culprit && new ImagesRepository(w.db).detail(culprit.imageId)?.fileName;
    if (culprit && name && e instanceof ApiError) throw new ApiError(e.code, e.message.replaceAll(culprit.file, name), culprit.file);
    throw e;
  } finally {
    rmSync(requestFile, { force: true });
  }
}

/** Record a written export and its audit entry together; the export's id. */
export function recordExport(
  db: Db,
  row: Omit<ExportRecord, 'id'> & { masks: [number, string][]; models: string[] },
  audit: { imageId: number; detail: Record<string, unknown> },
): number {
  return db
    .transaction(() => {
      const id = new ExportsRepository(db).insert(row);
      new AuditRepository(db).record({
        at: row.createdAt,
        author: row.author,
        action: 'create',
        entity: 'export',
        entityId: id,
        imageId: audit.imageId,
        detail: { kind: row.kind, file: row.file, sopInstanceUid: row.sopInstanceUid, version: row.version, models: row.models, ...audit.detail },
      });
      return id;
    })
    .immediate();
}
