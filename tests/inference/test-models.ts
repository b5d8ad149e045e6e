/**
 * Tiny SAM bundles for tests, built by the Python runtime and cached under .cache/ (git-
 * ignored), keyed by the hash of the scripts that build them, so the slow training runs once.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findPythonSync, runtimeEnv } from '../../electron/services/runtime/python-path.node.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const referenceScript = path.join(repoRoot, 'tests/inference/sam_reference.py');

/** What a bundle's files depend on besides the model: the runtime's exporter. */
const EXPORTER = ['bundle_writer.py', 'fast_decoder.py', 'manifest.py', 'onnx_export.py', 'modules.py', 'quantize.py'].map((f) => `python-runtime/delineate_runtime/export/${f}`);

function hashOf(files: string[], extra: string): string {
  const h = createHash('sha256');
  for (const f of files) h.update(readFileSync(path.join(repoRoot, f)));
  h.update(extra);
  return h.digest('hex').slice(0, 16);
}

export function runPython(args: string[], timeoutMs = 20 * 60_000): string {
  // sam_reference.py imports delineate_runtime from its source folder (runtimeEnv's PYTHONPATH).
  return execFileSync(findPythonSync(), [referenceScript, ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...runtimeEnv() },
    encoding: 'utf8',
    timeout: timeoutMs,
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 << 20,
  });
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Build `name` once: into a temp folder renamed into place, so a killed build leaves nothing.
 * Test files run in parallel processes: the first takes a lock folder, the others wait for it.
 * The cache key hashes `inputs` (and the runtime's exporter) with `key`; `build(tmp)` writes
 * the bundle into `tmp`.
 */
export function cachedModel(name: string, inputs: string[], key: string, build: (out: string) => void): string {
  const dir = path.join(repoRoot, '.cache/sam-test-models', `${name}-${hashOf([...inputs, ...EXPORTER], key)}`);
  if (existsSync(path.join(dir, 'model.json'))) return dir;
  mkdirSync(path.dirname(dir), { recursive: true });
  const lock = `${dir}.lock`;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (existsSync(path.join(dir, 'model.json'))) return dir;
      // A lock older than 30 minutes belongs to a build that was killed.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 30 * 60_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        /* gone meanwhile */
      }
      sleepSync(2000);
    }
  }
  try {
    if (existsSync(path.join(dir, 'model.json'))) return dir;
    process.stderr.write(`building test model ${path.basename(dir)} with the Python runtime (once; cached under .cache/)\n`);
    const tmp = `${dir}.partial-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    build(tmp);
    renameSync(tmp, dir);
    return dir;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** A bundle that sam_reference.py builds with `args(out)`. */
function cachedBundle(name: string, inputs: string[], args: (out: string) => string[]): string {
  return cachedModel(name, inputs, args('').join(' '), (out) => runPython(args(out)));
}

/** The runtime's tiny_demo model trained to segment bright blobs (a few minutes on 2 cores, once). */
export function tinyBlobBundle(): string {
  return cachedBundle(
    'tiny-blob',
    ['python-runtime/delineate_runtime/training/tiny_demo.py', 'python-runtime/delineate_runtime/data/synthetic.py', 'tests/inference/sam_reference.py'],
    (out) => ['train-bundle', out],
  );
}

/** A SAM-architecture bundle with random weights (e.g. vit_b-shaped, for benches). */
export function randomBundle(arch: string): string {
  return cachedBundle(arch, ['tests/inference/sam_reference.py'], (out) => ['random-bundle', out, '--arch', arch]);
}

/**
 * The tiny blob model with an encoder made slow on purpose (same embeddings, plus an
 * input-dependent chain of MatMuls): for scheduling tests, where a click must not wait for
 * encoder work. About a second per embed on 2 cores with the default `iterations`.
 */
export function slowEncoderBundle(iterations = 2500): string {
  const src = tinyBlobBundle();
  return cachedBundle('slow-encoder', ['tests/inference/sam_reference.py', path.relative(repoRoot, path.join(src, 'model.json'))], (out) => ['slow-bundle', src, out, '--iterations', String(iterations)]);
}
