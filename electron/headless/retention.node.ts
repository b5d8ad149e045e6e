/**
 * Retention: the received instances and the SEG of a series processed more than `keepDays`
 * ago are deleted, and the series forgotten by the queue, so a node that runs for years does
 * not fill its disk with copies of what the PACS already holds. Run at start and hourly, with
 * the clock passed in. Runtime: node.
 *
 * Only the files the queue lists are deleted, never a whole series folder: the SCP (another
 * process) may be writing a new instance of that series into it at this very moment, and
 * that instance must survive (it reopens the series; forget() then keeps its rows).
 */
import { readdirSync, rmdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { NodeLog } from './node-log.js';
import type { SeriesQueue } from './series-queue.node.js';

const DAY_MS = 86_400_000;

export interface Pruned {
  series: number;
  files: number;
}

/** Delete what expired by `now` (ms epoch); keepDays 0: nothing ever expires. */
export function pruneExpired(queue: SeriesQueue, opts: { keepDays: number; segDir: string; now: number }, log: NodeLog): Pruned {
  if (opts.keepDays <= 0) return { series: 0, files: 0 };
  let series = 0;
  let files = 0;
  for (const e of queue.expired(opts.now - opts.keepDays * DAY_MS)) {
    const doomed = [...e.files, ...(e.segSopUid ? [path.join(opts.segDir, `${e.segSopUid}.dcm`)] : [])];
    try {
      for (const f of doomed) rmSync(f, { force: true });
      for (const dir of new Set(e.files.map((f) => path.dirname(f)))) removeIfEmpty(dir);
    } catch (err) {
      // Left for the next round; the rows stay so the files are still listed then.
      log('retention_problem', { series: e.seriesUid, message: (err as Error).message });
      continue;
    }
    if (queue.forget(e.seriesUid)) {
      series++;
      files += doomed.length;
    }
  }
  if (series > 0) log('retention_pruned', { series, files, keep_days: opts.keepDays });
  return { series, files };
}

function removeIfEmpty(dir: string): void {
  try {
    if (readdirSync(dir).length === 0) rmdirSync(dir);
  } catch {
    // Gone already, or an instance arrived in between: either way nothing to do.
  }
}

/**
 * Copies of packages unpacked into `scratch` (state/package) by earlier starts: every entry
 * there except the one in use (`inUse`, or the entry holding it) is deleted, so a node
 * upgraded many times does not keep every old model on disk. A package given as a folder
 * outside `scratch` leaves every unpacked copy stale. Returns what was removed.
 */
export function pruneUnpackedPackages(scratch: string, inUse: string): string[] {
  const keep = path.resolve(inUse);
  let entries: string[];
  try {
    entries = readdirSync(scratch);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of entries) {
    const entry = path.resolve(scratch, name);
    if (entry === keep || keep.startsWith(entry + path.sep)) continue;
    rmSync(entry, { recursive: true, force: true });
    removed.push(entry);
  }
  return removed;
}
