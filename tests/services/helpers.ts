/** Shared test helpers: temporary folders, a corpus generated once per test file, typed pixel access, waiting for a job. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Handlers, PixelFrame } from '../../electron/contract/api.js';
import { jobIsLive, type JobInfo } from '../../electron/contract/training.js';
import { ProjectService } from '../../electron/services/index.js';
import { generateCorpus, type Expected } from '../fixtures/generate-corpus.js';

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `delineate-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

let corpus: Promise<{ dir: string; manifest: Record<string, Expected> }> | null = null;
/** The corpus, generated into a private temp folder (other test runs may use the default folder); removed at exit. */
export function sharedCorpus(): Promise<{ dir: string; manifest: Record<string, Expected> }> {
  if (!corpus) {
    const root = tempDir('corpus');
    process.once('exit', () => removeDir(root));
    corpus = generateCorpus(path.join(root, 'corpus'));
  }
  return corpus;
}

/** The project half of the services (the SAM half has its own tests under tests/inference). */
export function newServices(user = 'tester'): ProjectService {
  return new ProjectService({ user, transport: 'browser', version: '0.0.0-test' });
}

/** A fresh project in a temp folder; returns services and the folder. */
export function newProject(user = 'tester'): { s: ProjectService; dir: string } {
  const dir = path.join(tempDir('project'), 'proj');
  const s = newServices(user);
  s['project.create']({ path: dir, name: 'Test project' });
  return { s, dir };
}

/** Sample `c` of pixel (x, y) of a decoded frame. */
export function sample(f: PixelFrame, x: number, y: number, c = 0): number {
  const i = (y * f.width + x) * f.samplesPerPixel + c;
  const b = f.data;
  switch (f.dtype) {
    case 'uint8': return b[i]!;
    case 'int8': return new Int8Array(b.buffer, b.byteOffset, b.byteLength)[i]!;
    case 'uint16': return new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2)[i]!;
    case 'int16': return new Int16Array(b.buffer, b.byteOffset, b.byteLength / 2)[i]!;
    case 'float32': return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4)[i]!;
  }
}

/** A row-major mask with a filled disc. */
export function discMask(h: number, w: number, cx: number, cy: number, r: number): Uint8Array {
  const m = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) m[y * w + x] = 1;
  return m;
}

/** Poll jobs.get until the job has ended; the job as it ended. Fails after `timeoutMs`. */
export async function jobEnded(s: Pick<Handlers, 'jobs.get'>, jobId: string, timeoutMs = 10 * 60_000, intervalMs = 50): Promise<JobInfo> {
  const t0 = Date.now();
  for (;;) {
    const j = await s['jobs.get']({ jobId });
    if (!jobIsLive(j.state)) return j;
    if (Date.now() - t0 > timeoutMs) throw new Error(`job ${jobId} still ${j.state}/${j.stage} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
