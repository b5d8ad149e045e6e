/**
 * Image embeddings on disk, so reopening an image is instant. Runtime: node.
 *
 * Key: model id + variant + image sha256 + frame + display window (see `embeddingKey`): a
 * different window shows SAM different pixels, so it is a different embedding. Files are
 * written to a temp name and renamed (a crash leaves no half file under a real name). The
 * total size is capped; the least recently used entries go first (recency is the file's
 * mtime, refreshed on every hit, so it survives restarts). A corrupt entry is deleted and
 * reported as a miss, so the caller recomputes it and never shows it.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CorruptEntryError, decodeEntry, encodeEntry, type CachedEmbedding } from './embedding-file.js';

export type { CachedEmbedding } from './embedding-file.js';

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

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

interface Entry {
  file: string;
  bytes: number;
  usedMs: number;
}

export interface CacheStats {
  entries: number;
  bytes: number;
  limitBytes: number;
  hits: number;
  misses: number;
  corrupt: number;
  evicted: number;
}

export class EmbeddingCache {
  private readonly entries = new Map<string, Entry>(); // file name -> entry
  private total = 0;
  private readonly counters = { hits: 0, misses: 0, corrupt: 0, evicted: 0 };

  constructor(
    readonly dir: string,
    readonly limitBytes: number,
  ) {
    mkdirSync(dir, { recursive: true });
    for (const name of readdirSync(dir)) {
      const file = path.join(dir, name);
      if (name.includes('.tmp-')) {
        rmSync(file, { force: true }); // left by a crash mid-write
        continue;
      }
      if (!name.endsWith('.emb')) continue;
      const st = statSync(file);
      this.entries.set(name, { file, bytes: st.size, usedMs: st.mtimeMs });
      this.total += st.size;
    }
  }

  private nameOf(key: string): string {
    return `${sha256(new TextEncoder().encode(key)).slice(0, 40)}.emb`;
  }

  get(key: string): CachedEmbedding | null {
    const name = this.nameOf(key);
    const entry = this.entries.get(name);
    if (!entry) {
      this.counters.misses++;
      return null;
    }
    try {
      const value = decodeEntry(readFileSync(entry.file), key, sha256);
      entry.usedMs = Date.now();
      const t = new Date(entry.usedMs);
      utimesSync(entry.file, t, t);
      this.counters.hits++;
      return value;
    } catch (e) {
      if (!(e instanceof CorruptEntryError) && (e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      if (e instanceof CorruptEntryError) this.counters.corrupt++;
      this.remove(name);
      this.counters.misses++;
      return null;
    }
  }

  put(value: CachedEmbedding): void {
    const name = this.nameOf(value.key);
    const bytes = encodeEntry(value, sha256);
    if (bytes.length > this.limitBytes) return; // larger than the whole cache: do not thrash it
    const file = path.join(this.dir, name);
    const tmp = `${file}.tmp-${randomUUID().slice(0, 8)}`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, file);
    const old = this.entries.get(name);
    if (old) this.total -= old.bytes;
    this.entries.set(name, { file, bytes: bytes.length, usedMs: Date.now() });
    this.total += bytes.length;
    this.evict(name);
  }

  /** Drop least recently used entries until the total fits; never the one just written. */
  private evict(keep: string): void {
    if (this.total <= this.limitBytes) return;
    const byAge = [...this.entries].filter(([n]) => n !== keep).sort((a, b) => a[1].usedMs - b[1].usedMs);
    for (const [name] of byAge) {
      if (this.total <= this.limitBytes) break;
      this.remove(name);
      this.counters.evicted++;
    }
  }

  private remove(name: string): void {
    const e = this.entries.get(name);
    if (!e) return;
    rmSync(e.file, { force: true });
    this.entries.delete(name);
    this.total -= e.bytes;
  }

  has(key: string): boolean {
    return this.entries.has(this.nameOf(key));
  }

  /** Path of the file for `key` (tests corrupt it to check the recovery). */
  fileOf(key: string): string {
    return path.join(this.dir, this.nameOf(key));
  }

  stats(): CacheStats {
    return { entries: this.entries.size, bytes: this.total, limitBytes: this.limitBytes, ...this.counters };
  }
}
