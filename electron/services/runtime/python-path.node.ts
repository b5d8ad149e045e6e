/**
 * Where the Python runtime's interpreter is, and how to start it. Runtime: node.
 *
 * Order: DELINEATE_PYTHON (an explicit choice wins), the dev venv python-runtime/.venv, then
 * `python3 python-runtime/tools/ensure_env.py`: the one place that knows where the shared
 * environment lives (named by the hash of requirements.lock) and how to build it. It prints
 * the venv's python as the last line of stdout and `[ensure_env] step N/M: ...` progress and a
 * final `[ensure_env] error: ...` line on stderr.
 *
 * The environment holds third-party packages only; the runtime package is imported from its
 * source folder, so every spawn of the runtime adds `runtimeEnv()` (PYTHONPATH) to its env.
 *
 * Building it downloads PyTorch (about 5.6 GB), so nothing builds it until asked:
 * `findPython()` builds unless `{ build: false }`; `pythonEnvStatus()` only looks.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository (or app resources) folder that holds python-runtime/. */
export function runtimeRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(path.join(dir, 'python-runtime', 'delineate_runtime'))) return path.join(dir, 'python-runtime');
    dir = path.dirname(dir);
  }
  throw new Error('python-runtime/ not found above ' + path.dirname(fileURLToPath(import.meta.url)));
}

/**
 * Environment additions for spawning the runtime's python: PYTHONPATH = python-runtime/
 * (before any PYTHONPATH already set), so `-m delineate_runtime` works from any cwd, and
 * unbuffered output.
 */
export function runtimeEnv(): Record<string, string> {
  const prior = process.env.PYTHONPATH;
  return {
    PYTHONPATH: prior ? `${runtimeRoot()}${path.delimiter}${prior}` : runtimeRoot(),
    PYTHONUNBUFFERED: '1',
  };
}

export interface PythonEnvProgress {
  /** From `[ensure_env] step N/M: ...`; the last step seen for other lines (pip's); null before the first. */
  step: number | null;
  steps: number | null;
  message: string;
}

export interface FindPythonOptions {
  /** Build the environment when it is missing (default true); false: throw PythonEnvError instead. */
  build?: boolean;
  /** Every stderr line of a build, with its step. */
  onProgress?: (p: PythonEnvProgress) => void;
  /** Stop waiting; the build itself is stopped when no other caller waits for it. */
  signal?: AbortSignal;
  /** Another lock file (`--lock`); tests. DELINEATE_PYTHON and .venv are skipped when set. */
  lock?: string;
  /** Another folder for the environments (`--root`); tests. DELINEATE_PYTHON and .venv are skipped when set. */
  root?: string;
}

/** The environment could not be found or made; the message says why and what to do. */
export class PythonEnvError extends Error {
  constructor(
    message: string,
    /** The `[ensure_env] error: ...` line's text, when ensure_env.py printed one. */
    readonly reason: string | null = null,
    /** The tail of ensure_env.py's stderr. */
    readonly stderrTail = '',
    readonly exitCode: number | null = null,
  ) {
    super(message);
    this.name = 'PythonEnvError';
  }
}

const basePython = (): string => (process.platform === 'win32' ? 'python' : 'python3');
const ensureScript = (): string => path.join(runtimeRoot(), 'tools', 'ensure_env.py');

function devVenvPython(): string {
  const root = runtimeRoot();
  return process.platform === 'win32' ? path.join(root, '.venv', 'Scripts', 'python.exe') : path.join(root, '.venv', 'bin', 'python');
}

/** DELINEATE_PYTHON or the dev venv, when they apply (not with a test's own lock/root). */
function explicitPython(opts: FindPythonOptions): string | null {
  if (opts.lock !== undefined || opts.root !== undefined) return null;
  if (process.env.DELINEATE_PYTHON) return process.env.DELINEATE_PYTHON;
  const venv = devVenvPython();
  return existsSync(venv) ? venv : null;
}

function ensureArgs(opts: FindPythonOptions, check: boolean): string[] {
  const args = [ensureScript()];
  if (opts.lock !== undefined) args.push('--lock', opts.lock);
  if (opts.root !== undefined) args.push('--root', opts.root);
  if (check) args.push('--check');
  return args;
}

const keyOf = (opts: FindPythonOptions): string => JSON.stringify([opts.lock ?? null, opts.root ?? null]);

const lastLine = (s: string): string => s.trim().split(/\r?\n/).at(-1)?.trim() ?? '';

const errorLine = (stderr: string): string | null => {
  const lines = stderr.split(/\r?\n/).filter((l) => l.startsWith('[ensure_env] error: '));
  return lines.length ? lines.at(-1)!.slice('[ensure_env] error: '.length) : null;
};

const tailOf = (s: string, lines = 20): string => s.trimEnd().split(/\r?\n/).slice(-lines).join('\n');

function abortError(): Error {
  const e = new Error('Preparing the Python environment was cancelled');
  e.name = 'AbortError';
  return e;
}

interface EnsureResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run ensure_env.py without blocking; stderr lines go to `onLine` as they come. */
function runEnsure(args: string[], onLine: ((line: string) => void) | null, signal: AbortSignal | null): Promise<EnsureResult> {
  return new Promise((resolve, reject) => {
    // Its own process group on POSIX, so stopping it also stops pip.
    const child = spawn(basePython(), args, { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true, detached: process.platform !== 'win32' });
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (s: string) => (stdout += s));
    child.stderr.on('data', (s: string) => {
      stderr = (stderr + s).slice(-64_000);
      if (!onLine) return;
      const lines = (partial + s).split(/\r?\n|\r/);
      partial = lines.pop() ?? '';
      for (const l of lines) if (l.trim()) onLine(l);
    });
    const stop = (): void => {
      try {
        if (process.platform === 'win32' || child.pid === undefined) child.kill();
        else process.kill(-child.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    };
    signal?.addEventListener('abort', stop, { once: true });
    child.on('error', (e) => {
      signal?.removeEventListener('abort', stop);
      reject(new PythonEnvError(`Cannot run ${basePython()} to prepare the Python environment (${e.message}). Training needs Python 3.11 on the PATH.`));
    });
    child.on('close', (code) => {
      signal?.removeEventListener('abort', stop);
      if (onLine && partial.trim()) onLine(partial);
      if (signal?.aborted) reject(abortError());
      else resolve({ code, stdout, stderr });
    });
  });
}

function progressParser(emit: (p: PythonEnvProgress) => void): (line: string) => void {
  let step: number | null = null;
  let steps: number | null = null;
  return (line) => {
    const m = /^\[ensure_env\] step (\d+)\/(\d+): (.*)$/.exec(line);
    if (m) {
      step = Number(m[1]);
      steps = Number(m[2]);
      emit({ step, steps, message: m[3]! });
    } else {
      emit({ step, steps, message: line.replace(/^\[ensure_env\] /, '') });
    }
  };
}

function failure(res: EnsureResult, what: string): PythonEnvError {
  const reason = errorLine(res.stderr);
  const tail = tailOf(res.stderr);
  const msg =
    `${what} (ensure_env.py exit ${res.code ?? 'signal'})` +
    (reason ? `: ${reason}` : '') +
    (tail ? `\n\nLast output of ensure_env.py:\n${tail}` : '');
  return new PythonEnvError(msg, reason, tail, res.code);
}

function pathFrom(res: EnsureResult): string {
  const last = lastLine(res.stdout);
  if (!last || !existsSync(last)) throw new PythonEnvError(`ensure_env.py did not print a python path (got ${JSON.stringify(last)})`, null, tailOf(res.stderr), res.code);
  return last;
}

const found = new Map<string, string>();

interface Build {
  key: string;
  promise: Promise<string>;
  listeners: Set<(p: PythonEnvProgress) => void>;
  waiters: number;
  controller: AbortController;
}
const building = new Map<string, Build>();

function startBuild(opts: FindPythonOptions): Build {
  const key = keyOf(opts);
  const controller = new AbortController();
  const listeners = new Set<(p: PythonEnvProgress) => void>();
  const emit = progressParser((p) => {
    for (const l of listeners) {
      try {
        l(p);
      } catch {
        /* a listener's error is not the build's */
      }
    }
  });
  const promise = (async () => {
    const res = await runEnsure(ensureArgs(opts, false), emit, controller.signal);
    if (res.code !== 0) throw failure(res, 'Could not prepare the Python training environment');
    const py = pathFrom(res);
    found.set(key, py);
    return py;
  })().finally(() => {
    if (building.get(key) === b) building.delete(key);
  });
  const b: Build = { key, promise, listeners, waiters: 0, controller };
  building.set(key, b);
  return b;
}

/** Wait for the shared build as one more caller, with its own progress and signal. */
function join(b: Build, opts: FindPythonOptions): Promise<string> {
  const { onProgress, signal } = opts;
  if (signal?.aborted) return Promise.reject(abortError());
  b.waiters++;
  if (onProgress) b.listeners.add(onProgress);
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    if (!signal) return;
    onAbort = () => {
      reject(abortError());
      // The last one waiting stops the build; a later caller starts a new one.
      if (b.waiters === 1) {
        if (building.get(b.key) === b) building.delete(b.key);
        b.controller.abort();
      }
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  return Promise.race([b.promise, aborted]).finally(() => {
    b.waiters--;
    if (onProgress) b.listeners.delete(onProgress);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  });
}

/**
 * The runtime's python, without blocking the event loop. Builds the environment when it is
 * missing (minutes, about 5.6 GB) unless `build: false`; concurrent callers share one build.
 * Throws PythonEnvError (with ensure_env.py's explanation, e.g. how to install offline), or
 * an AbortError when `signal` fires.
 */
export async function findPython(opts: FindPythonOptions = {}): Promise<string> {
  const explicit = explicitPython(opts);
  if (explicit) return explicit;
  const key = keyOf(opts);
  const known = found.get(key);
  if (known && existsSync(known)) return known;
  const inflight = building.get(key);
  if (inflight) return join(inflight, opts);

  if (opts.signal?.aborted) throw abortError();
  const check = await runEnsure(ensureArgs(opts, true), null, opts.signal ?? null);
  if (check.code === 0) {
    const py = pathFrom(check);
    found.set(key, py);
    return py;
  }
  if (check.code !== 3) throw failure(check, 'Could not look up the Python training environment');
  if (opts.build === false) throw new PythonEnvError(`The Python training environment is not built yet: ${notReadyNote(check.stderr)}`, null, tailOf(check.stderr), 3);
  // Another caller may have started the build while we checked.
  return join(building.get(key) ?? startBuild(opts), opts);
}

function notReadyNote(checkStderr: string): string {
  const m = /environment not ready: (.+)$/m.exec(checkStderr);
  const where = m ? m[1]!.trim() : 'the cache folder (~/.cache/delineate)';
  return `Training needs a one-time Python environment (PyTorch, about 5.6 GB download/disk) in ${where}; it is built when you first press Retrain.`;
}

/** Whether the environment is there, without building anything (fast). */
export async function pythonEnvStatus(opts: Pick<FindPythonOptions, 'lock' | 'root'> = {}): Promise<{ ready: boolean; python: string | null; note: string }> {
  const explicit = explicitPython(opts);
  if (explicit) return { ready: true, python: explicit, note: `Using ${explicit}` };
  const key = keyOf(opts);
  const known = found.get(key);
  if (known && existsSync(known)) return { ready: true, python: known, note: `Training environment ready (${known})` };
  let check: EnsureResult;
  try {
    check = await runEnsure(ensureArgs(opts, true), null, null);
  } catch (e) {
    return { ready: false, python: null, note: (e as Error).message };
  }
  if (check.code === 0) {
    const py = lastLine(check.stdout);
    if (py && existsSync(py)) {
      found.set(key, py);
      return { ready: true, python: py, note: `Training environment ready (${py})` };
    }
  }
  if (building.has(key)) return { ready: false, python: null, note: 'The Python training environment (PyTorch, about 5.6 GB) is being prepared.' };
  if (check.code === 3) return { ready: false, python: null, note: notReadyNote(check.stderr) };
  return { ready: false, python: null, note: failure(check, 'Cannot look up the Python training environment').message };
}

/**
 * TEST AND BENCH CODE ONLY: the same lookup, synchronously (execFileSync; a build blocks the
 * whole process for minutes). For test helpers that are synchronous by nature; the app uses
 * findPython().
 */
export function findPythonSync(): string {
  const explicit = explicitPython({});
  if (explicit) return explicit;
  const known = found.get(keyOf({}));
  if (known && existsSync(known)) return known;
  let out: string;
  try {
    out = execFileSync(basePython(), ensureArgs({}, false), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  } catch (e) {
    throw new PythonEnvError(`Could not prepare the Python training environment: ${(e as Error).message}`);
  }
  const py = lastLine(out);
  if (!py || !existsSync(py)) throw new PythonEnvError(`ensure_env.py did not print a python path (got ${JSON.stringify(py)})`);
  found.set(keyOf({}), py);
  return py;
}
