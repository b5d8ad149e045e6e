/**
 * Image embeddings on disk, so reopening an image is instant. Runtime: node.
 *
 * Key: model id + variant + image sha256 + frame + display window (see `embeddingKey`): a
 * different window shows SAM different pixels, so it is a different embedding.
 *
 * The cache is an optimisation and must never be why SAM fails:
 * - `get` never throws. An entry that cannot be read or does not check out (bit flip, truncation,
 *   a directory in its place, wrong shape for the model) is removed, logged and reported as a
 *   miss, so the caller recomputes it and it cannot fail again after a restart.
 * - `put` never throws. A failed write (full disk, read-only folder) removes its temp file and
 *   returns why; the caller keeps using the embedding it computed.
 * - Several processes may share the folder. Writes are atomic (unique temp file, fsync,
 *   rename); only stale temp files are swept, never another writer's. There is no in-memory
 *   index: reads go to the file, and every write re-scans the folder before evicting, so the
 *   size limit counts what every process has written. Re-scanning costs one readdir + one
 *   stat per entry (1.6 ms measured for 512 entries, 2 GiB of vit_b embeddings) after an
 *   encode of seconds; a shared ledger under a lock file would be cheaper per write but can go stale
 *   or be left locked by a crash, and the folder itself is always right.
 *   Bound: at any moment the entries plus live temp files take at most the limit plus one
 *   entry per process inside `put` (each put is synchronous: one temp, then one renamed entry
 *   not yet accounted for); once writers are idle, the entries take at most the limit.
 * - The folder is created on each write, so deleting it (or the project's cache folder) while
 *   the app runs costs the entries, nothing else.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeSync } from 'node:fs';
import path from 'node:path';
import { isEntryName, isStaleTemp, isTempName, planEviction, STALE_TEMP_MS, tempName, type OnDisk } from './cache-policy.js';
import { decodeEntry, encodeEntry, type CachedEmbedding } from './embedding-file.js';
import { misfit, type EntryExpectation } from './embedding-fit.js';

export type { CachedEmbedding } from './embedding-file.js';
export type { EntryExpectation } from './embedding-fit.js';

export interface EmbeddingKeyParts {
  modelKey: string;
  imageSha256: string;
  frame: number;
  window: { center: number; width: number } | null;
  photometric?: string;
}

/** The cache key; windows are rounded to 1/1000 so float noise from the UI does not miss. */
export function embeddingKey(p: EmbeddingKeyParts): string {
  const win = p.window ? `${+p.window.center.toFixed(3)}/${+p.window.width.toFixed(3)}` : 'none';
  return `${p.modelKey}|${p.imageSha256}|${p.frame}|${win}|${p.photometric ?? ''}`;
}

/** Where a project keeps the app's embeddings (the SAM service writes, training reads). */
export const embeddingCacheDir = (projectDir: string): string => path.join(projectDir, 'cache', 'embeddings');

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Whether `put` kept the entry on disk; when not, why (a sentence fragment for a log or the user). */
export type StoreResult = { stored: true } | { stored: false; reason: string };

export interface EmbeddingCacheOptions {
  /** Where the cache reports what it repaired or could not store (default: console.warn). */
  log?: (message: string) => void;
  /** Age after which a temp file is taken as abandoned (tests shorten it). */
  staleTempMs?: number;
}

export interface CacheStats {
  entries: number;
  bytes: number;
  limitBytes: number;
  hits: number;
  misses: number;
  corrupt: number;
  evicted: number;
  notStored: number;
}

const codeOf = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | null)?.code;
const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export class EmbeddingCache {
  private readonly counters = { hits: 0, misses: 0, corrupt: 0, evicted: 0, notStored: 0 };
  private readonly log: (message: string) => void;
  private readonly staleTempMs: number;

  constructor(
    readonly dir: string,
    readonly limitBytes: number,
    opts: EmbeddingCacheOptions = {},
  ) {
    this.log = opts.log ?? ((m) => console.warn(`[delineate] embedding cache: ${m}`));
    this.staleTempMs = opts.staleTempMs ?? STALE_TEMP_MS;
  }

  private nameOf(key: string): string {
    return `${sha256(new TextEncoder().encode(key)).slice(0, 40)}.emb`;
  }

  /** The entry for `key`, or null (absent, or discarded because it is unreadable or does not fit `expect`). */
  get(key: string, expect?: EntryExpectation): CachedEmbedding | null {
    const file = this.fileOf(key);
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(file);
    } catch (e) {
      if (codeOf(e) === 'ENOENT') {
        this.counters.misses++;
        return null;
      }
      return this.discard(file, `cannot be read (${describe(e)})`); // EISDIR (a folder in its place), EIO, EACCES...
    }
    let value: CachedEmbedding;
    try {
      value = decodeEntry(bytes, key, sha256);
    } catch (e) {
      return this.discard(file, describe(e));
    }
    const why = expect ? misfit(value, expect) : null;
    if (why) return this.discard(file, `does not fit: ${why}`);
    try {
      const now = new Date();
      utimesSync(file, now, now); // recency for LRU eviction, shared with other processes
    } catch {
      /* evicted by another process meanwhile, or a read-only folder: the value is still good */
    }
    this.counters.hits++;
    return value;
  }

  private discard(file: string, reason: string): null {
    this.counters.corrupt++;
    this.counters.misses++;
    try {
      rmSync(file, { recursive: true, force: true });
      this.log(`removed ${path.basename(file)}: ${reason}; the embedding is recomputed`);
    } catch (e) {
      this.log(`could not remove ${path.basename(file)} (${reason}): ${describe(e)}`);
    }
    return null;
  }

  /** Store `value`; never throws. On failure nothing of this write is left on disk. */
  put(value: CachedEmbedding): StoreResult {
    const name = this.nameOf(value.key);
    const bytes = encodeEntry(value, sha256);
    if (bytes.length > this.limitBytes) return this.notStored(`the entry (${bytes.length} bytes) is larger than the whole cache (${this.limitBytes} bytes)`);
    const file = path.join(this.dir, name);
    const tmp = path.join(this.dir, tempName(name, process.pid, randomBytes(6).toString('hex')));
    try {
      mkdirSync(this.dir, { recursive: true }); // deleted while the app runs: recreate, do not loop on ENOENT
      writeDurably(tmp, bytes);
      replace(tmp, file);
    } catch (e) {
      try {
        rmSync(tmp, { force: true });
      } catch {
        /* nothing more to do: a stale temp is swept by a later write */
      }
      return this.notStored(describe(e));
    }
    syncFolder(this.dir);
    try {
      this.evict(name);
    } catch (e) {
      this.log(`eviction failed: ${describe(e)}`); // the entry is stored; the next write tries again
    }
    return { stored: true };
  }

  private notStored(reason: string): StoreResult {
    this.counters.notStored++;
    this.log(`could not store an embedding (${reason}); it is used from memory only`);
    return { stored: false, reason };
  }

  /** What is in the folder now, written by any process; sweeps abandoned temp files on the way. */
  private scan(): OnDisk[] {
    const now = Date.now();
    const out: OnDisk[] = [];
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (e) {
      if (codeOf(e) === 'ENOENT') return [];
      throw e;
    }
    for (const name of names) {
      const file = path.join(this.dir, name);
      try {
        const st = lstatSync(file);
        if (isTempName(name)) {
          if (isStaleTemp(st.mtimeMs, now, this.staleTempMs)) rmSync(file, { recursive: true, force: true });
        } else if (isEntryName(name) && st.isFile()) {
          out.push({ name, bytes: st.size, usedMs: st.mtimeMs });
        }
      } catch {
        /* removed by another process between readdir and stat */
      }
    }
    return out;
  }

  private evict(keep: string): void {
    for (const name of planEviction(this.scan(), this.limitBytes, keep)) {
      rmSync(path.join(this.dir, name), { force: true });
      this.counters.evicted++;
    }
  }

  has(key: string): boolean {
    try {
      return statSync(this.fileOf(key)).isFile();
    } catch {
      return false;
    }
  }

  /** Path of the file for `key` (tests corrupt it to check the recovery). */
  fileOf(key: string): string {
    return path.join(this.dir, this.nameOf(key));
  }

  /** Counters of this process; entries and bytes as on disk now (all processes). */
  stats(): CacheStats {
    const onDisk = this.scan();
    return { entries: onDisk.length, bytes: onDisk.reduce((s, e) => s + e.bytes, 0), limitBytes: this.limitBytes, ...this.counters };
  }
}

/** Write a new file completely and flush it to the disk, so the rename that follows publishes whole bytes only. */
function writeDurably(file: string, bytes: Uint8Array): void {
  const fd = openSync(file, 'wx'); // a unique name: never truncate someone else's file
  try {
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Rename over `file`; a folder squatting on the name (a corrupt entry) is removed first. */
function replace(tmp: string, file: string): void {
  try {
    renameSync(tmp, file);
  } catch (e) {
    if (!['EISDIR', 'ENOTEMPTY', 'EEXIST', 'EPERM'].includes(codeOf(e) ?? '')) throw e;
    rmSync(file, { recursive: true, force: true });
    renameSync(tmp, file);
  }
}

/** Make the rename itself durable. Best effort: not every platform can open a folder (Windows). */
function syncFolder(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* the entry is written and renamed; only its survival of a power cut is less certain */
  }
}
