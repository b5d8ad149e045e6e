/**
 * Header backfill: rows imported before migration 7 lack Image Position and Orientation
 * (Patient), Slice Thickness, Accession Number and Study Date. When a project opens, the
 * files of those DICOM rows are read again in the background, a batch at a time, and each row
 * is marked read (header_fields 7): also when its file cannot be read (missing, damaged, or a
 * stored path that leads out of the folder), then with the fields left empty and a line in the
 * log, so no row is ever tried again at every open.
 *
 * The open itself never waits: the first batch starts on a later turn of the event loop, files
 * are read asynchronously, and each batch is one short transaction.
 *
 * Runtime: Node.
 */
import { readFile } from 'node:fs/promises';
import { parseDicomFile } from '../imaging/dicom-file.js';
import { insideProjectMany } from '../project-folder.node.js';
import { type HeaderFields, ImagesRepository } from '../store/images.repository.js';
import type { Db } from '../store/project-database.js';

export interface BackfillOptions {
  /** Rows read per transaction (default 25). */
  batchSize?: number;
  /** Where rows whose file could not be read are reported (default: console.warn). */
  log?: (message: string) => void;
  /** Stops the backfill after the file being read (the project is closing); that batch is not stored. */
  signal?: AbortSignal;
}

export interface BackfillResult {
  /** Rows whose header was read and stored. */
  read: number;
  /** Rows whose file could not be read: marked read, fields empty. */
  failed: number;
  /** True when the signal stopped it before every row was read. */
  stopped: boolean;
}

const defaultLog = (m: string): void => console.warn(`[delineate] header backfill: ${m}`);

/** A later turn of the event loop: whatever is waiting (the open's reply, the first requests) goes first. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Read the migration 7 fields of every stale DICOM row of the project in `dir` again from its file. */
export async function backfillHeaders(dir: string, db: Db, opts: BackfillOptions = {}): Promise<BackfillResult> {
  const batchSize = opts.batchSize ?? 25;
  const log = opts.log ?? defaultLog;
  const stopped = () => opts.signal?.aborted === true || !db.open;
  const result: BackfillResult = { read: 0, failed: 0, stopped: false };
  await nextTurn();
  if (stopped()) return { ...result, stopped: true };
  const images = new ImagesRepository(db);
  images.markNonDicomHeadersRead();
  let after = 0;
  for (;;) {
    if (stopped()) return { ...result, stopped: true };
    const rows = images.staleHeaders(after, batchSize);
    if (rows.length === 0) return result;
    after = rows[rows.length - 1]!.id;
    const files = insideProjectMany(dir, rows.map((r) => r.mediaPath));
    const found: { id: number; fields: HeaderFields | null }[] = [];
    for (const [i, row] of rows.entries()) {
      const file = files[i];
      try {
        if (!file) throw new Error('its stored path leads out of the project folder');
        const bytes = await readFile(file);
        if (stopped()) return { ...result, stopped: true };
        const h = parseDicomFile(bytes).header;
        found.push({
          id: row.id,
          fields: { imagePosition: h.imagePosition, imageOrientation: h.imageOrientation, sliceThickness: h.sliceThickness, accessionNumber: h.accessionNumber, studyDate: h.studyDate },
        });
      } catch (e) {
        if (stopped()) return { ...result, stopped: true };
        log(`image ${row.id} (${row.fileName}) could not be read again (${describe(e)}); its position, orientation, thickness, accession number and study date stay empty`);
        found.push({ id: row.id, fields: null });
      }
    }
    if (stopped()) return { ...result, stopped: true };
    db.transaction(() => {
      for (const f of found) images.setHeaderFields(f.id, f.fields);
    })();
    for (const f of found) {
      if (f.fields) result.read++;
      else result.failed++;
    }
    await nextTurn();
  }
}

function describe(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  const text = e instanceof Error ? e.message : String(e);
  return typeof code === 'string' && !text.includes(code) ? `${code}: ${text}` : text;
}

/**
 * The project service's hook (ProjectService.onSwitch): starts the backfill for each project
 * that opens and stops it when that project closes. `done` is the run in progress, for tests.
 */
export function headerBackfillOnOpen(opts: Omit<BackfillOptions, 'signal'> = {}): ((p: { dir: string; db: Db } | null) => void) & { done: Promise<BackfillResult> | null } {
  let running: AbortController | null = null;
  const log = opts.log ?? defaultLog;
  const hook = Object.assign(
    (p: { dir: string; db: Db } | null): void => {
      running?.abort();
      running = null;
      hook.done = null;
      if (!p) return;
      const controller = new AbortController();
      running = controller;
      hook.done = backfillHeaders(p.dir, p.db, { ...opts, log, signal: controller.signal }).catch((e: unknown) => {
        log(`stopped: ${describe(e)}`);
        return { read: 0, failed: 0, stopped: true };
      });
    },
    { done: null as Promise<BackfillResult> | null },
  );
  return hook;
}
