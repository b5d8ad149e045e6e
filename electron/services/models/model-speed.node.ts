/**
 * How fast each installed model runs on this machine, as measured while it was used: the
 * median of its recent embeddings and clicks, per variant, and the execution provider.
 * The model manager shows it, so a user choosing between vit_b int8 and fp32 (or a GPU
 * machine and a laptop) sees real numbers, not a guess. Runtime: node.
 *
 * Kept in `models/speed.json`, written at most every few seconds (atomically), so a busy
 * session does not write on every click; an unreadable file only loses the numbers.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const SPEED_FILE = 'speed.json';
const KEEP = 25; // recent samples per measure: the median follows a change of machine load or provider
const WRITE_EVERY_MS = 3000;

export interface MeasuredSpeed {
  /** Median ms of the recent embeddings and clicks; null before the first. */
  encodeMs: number | null;
  decodeMs: number | null;
  encodes: number;
  decodes: number;
  /** The execution provider of the last measurement, as shown to the user ("CPU", "CUDA", ...). */
  provider: string | null;
  updated: string;
}

interface Samples {
  encode: number[];
  decode: number[];
  encodes: number;
  decodes: number;
  provider: string | null;
  updated: string;
}

const median = (xs: readonly number[]): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

export class ModelSpeedLog {
  private samples: Record<string, Samples> | null = null;
  private lastWrite = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly modelsDir: string) {}

  private all(): Record<string, Samples> {
    if (this.samples) return this.samples;
    try {
      const raw = JSON.parse(readFileSync(path.join(this.modelsDir, SPEED_FILE), 'utf8')) as Record<string, Samples>;
      this.samples = Object.fromEntries(Object.entries(raw).filter(([, v]) => v && Array.isArray(v.encode) && Array.isArray(v.decode)));
    } catch {
      this.samples = {};
    }
    return this.samples;
  }

  /** One embedding (`encode`) or click (`decode`) of the model variant `key` (ModelFiles.key), in ms. */
  record(key: string, kind: 'encode' | 'decode', ms: number, provider: string | null, now = new Date()): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    const all = this.all();
    const s = (all[key] ??= { encode: [], decode: [], encodes: 0, decodes: 0, provider: null, updated: now.toISOString() });
    const list = kind === 'encode' ? s.encode : s.decode;
    list.push(Math.round(ms * 10) / 10);
    if (list.length > KEEP) list.splice(0, list.length - KEEP);
    if (kind === 'encode') s.encodes++;
    else s.decodes++;
    s.provider = provider ?? s.provider;
    s.updated = now.toISOString();
    this.scheduleWrite();
  }

  /** What was measured for `key`, or null when it has not run here yet. */
  get(key: string): MeasuredSpeed | null {
    const s = this.all()[key];
    if (!s) return null;
    return { encodeMs: median(s.encode), decodeMs: median(s.decode), encodes: s.encodes, decodes: s.decodes, provider: s.provider, updated: s.updated };
  }

  /** Forget a deleted model's numbers. */
  forget(id: string): void {
    const all = this.all();
    for (const k of Object.keys(all)) if (k === id || k.startsWith(`${id}:`)) delete all[k];
    this.flush();
  }

  private scheduleWrite(): void {
    const due = this.lastWrite + WRITE_EVERY_MS - Date.now();
    if (due <= 0) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), due).unref();
  }

  /** Write now (also at close). Never throws: the numbers are a convenience. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.samples) return;
    this.lastWrite = Date.now();
    try {
      const file = path.join(this.modelsDir, SPEED_FILE);
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(this.samples));
      renameSync(tmp, file);
    } catch {
      /* a read-only or deleted models folder: the numbers stay in memory */
    }
  }
}
