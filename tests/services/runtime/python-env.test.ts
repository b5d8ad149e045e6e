/**
 * The Python environment lookup against the real tools/ensure_env.py, with tiny lock files
 * (no packages, so pip installs nothing) and temp environment folders: never the real
 * ~/.cache/delineate. The env depends on the lock only, so two copies of the app share it;
 * findPython never blocks the event loop, shares one build, and explains a failed pip.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { findPython, PythonEnvError, pythonEnvStatus, runtimeEnv, runtimeRoot, type PythonEnvProgress } from '../../../electron/services/runtime/python-path.node.js';

const python3 = process.platform === 'win32' ? 'python' : 'python3';
const MARKER = '.delineate-env-ready';
const SAVED = ['DELINEATE_PYTHON', 'XDG_CACHE_HOME', 'PIP_NO_INDEX', 'PIP_FIND_LINKS', 'PYTHONPATH'] as const;
const saved: Partial<Record<(typeof SAVED)[number], string | undefined>> = {};
let tmp: string;

before(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'pyenv-'));
  for (const k of SAVED) saved[k] = process.env[k];
  delete process.env.DELINEATE_PYTHON;
  // Belt and braces: anything that fell back to the default cache would land in tmp too.
  process.env.XDG_CACHE_HOME = path.join(tmp, 'xdg');
});
after(() => {
  for (const k of SAVED) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  rmSync(tmp, { recursive: true, force: true });
});

/** A lock file with no packages; `tag` makes its digest (and so its environment) distinct. */
function emptyLock(dir: string, tag: string): string {
  mkdirSync(dir, { recursive: true });
  const lock = path.join(dir, 'requirements.lock');
  writeFileSync(lock, `# no packages (${tag}): the mechanics are under test, not pip's downloads\n`);
  return lock;
}

/** A second "installed copy" of the runtime's tools (what another checkout of the app would run). */
function toolsCopy(name: string): string {
  const dir = path.join(tmp, name, 'python-runtime', 'tools');
  cpSync(path.join(runtimeRoot(), 'tools'), dir, { recursive: true });
  return path.join(dir, 'ensure_env.py');
}

function runScript(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(python3, [script, ...args], { encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

const lastLine = (s: string): string => s.trim().split(/\r?\n/).at(-1) ?? '';

function markerOf(py: string): string {
  return path.join(path.dirname(path.dirname(py)), MARKER);
}

test('runtimeEnv puts python-runtime/ first on PYTHONPATH and keeps what was there', () => {
  delete process.env.PYTHONPATH;
  assert.deepEqual(runtimeEnv(), { PYTHONPATH: runtimeRoot(), PYTHONUNBUFFERED: '1' });
  process.env.PYTHONPATH = '/elsewhere';
  assert.equal(runtimeEnv().PYTHONPATH, `${runtimeRoot()}${path.delimiter}/elsewhere`);
  delete process.env.PYTHONPATH;
});

test('two copies of the app with the same lock share one environment: built once, never rebuilt by the other', { timeout: 120_000 }, async () => {
  const root = path.join(tmp, 'envs-shared');
  const scriptA = toolsCopy('copyA');
  const scriptB = toolsCopy('copyB');
  const lockA = emptyLock(path.join(tmp, 'copyA', 'python-runtime'), 'shared');
  const lockB = path.join(tmp, 'copyB', 'python-runtime', 'requirements.lock');
  cpSync(lockA, lockB);

  const built = await runScript(scriptA, ['--lock', lockA, '--root', root]);
  assert.equal(built.code, 0, built.stderr);
  const py = lastLine(built.stdout);
  const marker = markerOf(py);
  const before = statSync(marker);
  assert.equal(JSON.parse(readFileSync(marker, 'utf8')).runtime, undefined, 'the env records no checkout');

  // Copy B: --check says ready, a full run builds nothing, and the marker is untouched.
  const checked = await runScript(scriptB, ['--lock', lockB, '--root', root, '--check']);
  assert.equal(checked.code, 0, checked.stderr);
  assert.equal(lastLine(checked.stdout), py);
  const again = await runScript(scriptB, ['--lock', lockB, '--root', root]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(lastLine(again.stdout), py);
  assert.doesNotMatch(again.stderr, /step \d\/\d|creating|removing/);

  // And the app's own lookup (this checkout's script) finds it without building.
  const progress: PythonEnvProgress[] = [];
  assert.equal(await findPython({ lock: lockB, root, onProgress: (p) => progress.push(p) }), py);
  assert.deepEqual(progress, []);
  const afterStat = statSync(marker);
  assert.equal(afterStat.ino, before.ino);
  assert.equal(afterStat.mtimeMs, before.mtimeMs);
});

test('findPython builds without blocking the event loop; concurrent callers share one build with progress', { timeout: 120_000 }, async () => {
  const root = path.join(tmp, 'envs-async');
  const lock = emptyLock(path.join(tmp, 'async'), 'async');
  assert.equal((await pythonEnvStatus({ lock, root })).ready, false);

  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const seen1: PythonEnvProgress[] = [];
  const seen2: PythonEnvProgress[] = [];
  const t0 = performance.now();
  let pys: string[];
  try {
    pys = await Promise.all([findPython({ lock, root, onProgress: (p) => seen1.push(p) }), findPython({ lock, root, onProgress: (p) => seen2.push(p) })]);
  } finally {
    clearInterval(timer);
  }
  const ms = performance.now() - t0;
  assert.equal(pys[0], pys[1]);
  assert.ok(ticks > 0, 'the event loop kept running');
  assert.ok(ticks >= Math.floor(ms / 5 / 4), `${ticks} ticks in ${ms.toFixed(0)} ms: the loop was blocked`);
  for (const seen of [seen1, seen2]) {
    // Both callers watched the same (single) build: a second build would have found it ready and said nothing.
    const steps = seen.filter((p) => p.step !== null && /^(creating the virtual|installing the pinned|marking)/.test(p.message));
    assert.deepEqual(steps.map((p) => [p.step, p.steps]), [[1, 3], [2, 3], [3, 3]]);
    assert.match(steps[1]!.message, /5\.6 GB/);
  }
  const status = await pythonEnvStatus({ lock, root });
  assert.deepEqual([status.ready, status.python], [true, pys[0]]);
});

test('without build, a missing environment is a PythonEnvError and the status says what building it takes', { timeout: 60_000 }, async () => {
  const root = path.join(tmp, 'envs-nobuild');
  const lock = emptyLock(path.join(tmp, 'nobuild'), 'nobuild');
  await assert.rejects(findPython({ lock, root, build: false }), (e: unknown) => e instanceof PythonEnvError && /not built yet/.test(e.message));
  const status = await pythonEnvStatus({ lock, root });
  assert.equal(status.ready, false);
  assert.equal(status.python, null);
  assert.match(status.note, /5\.6 GB/);
  assert.ok(status.note.includes(root), status.note);
  assert.match(status.note, /Retrain/);
});

test('a failing pip gives a PythonEnvError with the offline instruction and the lock file', { timeout: 120_000 }, async () => {
  const root = path.join(tmp, 'envs-fail');
  const dir = path.join(tmp, 'fail');
  mkdirSync(dir, { recursive: true });
  const lock = path.join(dir, 'requirements.lock');
  writeFileSync(lock, 'delineate-no-such-package==0.0.1\n');
  const wheels = path.join(tmp, 'no-wheels');
  mkdirSync(wheels, { recursive: true });
  process.env.PIP_NO_INDEX = '1'; // fail fast, no network
  process.env.PIP_FIND_LINKS = wheels;
  let caught: unknown;
  try {
    await findPython({ lock, root }).catch((e: unknown) => (caught = e));
  } finally {
    if (saved.PIP_NO_INDEX === undefined) delete process.env.PIP_NO_INDEX;
    else process.env.PIP_NO_INDEX = saved.PIP_NO_INDEX;
    if (saved.PIP_FIND_LINKS === undefined) delete process.env.PIP_FIND_LINKS;
    else process.env.PIP_FIND_LINKS = saved.PIP_FIND_LINKS;
  }
  assert.ok(caught instanceof PythonEnvError, `expected PythonEnvError, got ${String(caught)}`);
  assert.ok(caught.message.includes('PIP_FIND_LINKS=/path/to/wheels PIP_NO_INDEX=1'), caught.message);
  assert.ok(caught.message.includes(lock), caught.message);
  assert.match(caught.message, /delineate-no-such-package/);
  assert.match(caught.reason ?? '', /^pip could not install/);
  assert.match(caught.stderrTail, /No matching distribution/);
  assert.equal((await pythonEnvStatus({ lock, root })).ready, false, 'no marker: the next call starts over');
});

// An older version's marker counting as ready is ensure_env.py's own behaviour, tested in
// python-runtime/tests/test_ensure_env.py; here only what the Node side adds.

test('an aborted build rejects with AbortError and leaves no ready environment', { timeout: 120_000 }, async () => {
  const root = path.join(tmp, 'envs-abort');
  const lock = emptyLock(path.join(tmp, 'abort'), 'abort');
  const ac = new AbortController();
  await assert.rejects(
    findPython({ lock, root, signal: ac.signal, onProgress: (p) => p.step === 1 && ac.abort() }),
    (e: unknown) => e instanceof Error && e.name === 'AbortError',
  );
  assert.equal((await pythonEnvStatus({ lock, root })).ready, false);
  // A later call builds it.
  const py = await findPython({ lock, root });
  assert.equal((await pythonEnvStatus({ lock, root })).python, py);
});
