/**
 * The decisions of the embedding cache, apart from its I/O: file names, which temp files are
 * abandoned, which entries to evict. Runtime: pure.
 *
 * Several processes may share one cache folder (two app windows on one project, the app and
 * the headless node, a project on a network share). Nothing here keeps state between calls:
 * every decision is made from what is on disk now, so no process needs to know the others.
 */

export const ENTRY_SUFFIX = '.emb';
const TEMP_MARK = '.tmp-';

/**
 * A temp file older than this belongs to a writer that died. A live writer holds its temp file
 * for one synchronous write + fsync (milliseconds; seconds on a slow share), so minutes leave
 * a wide margin while a crash's leftovers still go away soon.
 */
export const STALE_TEMP_MS = 5 * 60_000;

/** Unique per process and per write: pid for the humans reading the folder, random part for pid reuse and for two writes of one key. */
export function tempName(entryName: string, pid: number, random: string): string {
  return `${entryName}${TEMP_MARK}${pid}-${random}`;
}

export const isTempName = (name: string): boolean => name.includes(TEMP_MARK);
export const isEntryName = (name: string): boolean => name.endsWith(ENTRY_SUFFIX) && !isTempName(name);

export function isStaleTemp(mtimeMs: number, nowMs: number, staleMs = STALE_TEMP_MS): boolean {
  return nowMs - mtimeMs > staleMs;
}

export interface OnDisk {
  name: string;
  bytes: number;
  /** Last use: the file's mtime, refreshed on every hit, so recency is shared and survives restarts. */
  usedMs: number;
}

/**
 * The entries to delete so the total fits `limit`: least recently used first, never `keep`
 * (the entry just written, which its writer is about to use).
 */
export function planEviction(entries: readonly OnDisk[], limit: number, keep: string): string[] {
  let total = entries.reduce((s, e) => s + e.bytes, 0);
  if (total <= limit) return [];
  const victims: string[] = [];
  const byAge = entries.filter((e) => e.name !== keep).sort((a, b) => a.usedMs - b.usedMs || a.name.localeCompare(b.name));
  for (const e of byAge) {
    if (total <= limit) break;
    victims.push(e.name);
    total -= e.bytes;
  }
  return victims;
}
