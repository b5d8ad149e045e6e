#!/usr/bin/env node
// `npm test`: every suite, one summary. Installs npm packages and builds the renderer when
// needed, then runs: typecheck (tsc, svelte-check), node tests (**/*.test.ts), end-to-end
// tests in Chromium (tests/e2e/*.e2e.ts), and the Python runtime's pytest suite.
// The last line is "N passed, N failed"; the exit code is non-zero when anything failed.
//
//   npm test                       all suites
//   npm test -- --only node,e2e    some suites (typecheck, svelte, node, e2e, python)
//
// Standard library only at the top level: this runs on a fresh clone before `npm ci`.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildRenderer } from './lib/build.mjs';
import { ensureDeps, ensureNativeForNode } from './lib/deps.mjs';
import { log, run } from './lib/proc.mjs';
import { ensurePythonEnv } from './lib/python-env.mjs';
import { collectFiles, nodeTestCounts, pytestCounts } from './lib/test-files.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ALL = ['typecheck', 'svelte', 'node', 'e2e', 'python'];
const { values } = parseArgs({ options: { only: { type: 'string' } }, strict: true });
const selected = new Set(values.only ? values.only.split(',').map((s) => s.trim()) : ALL);
for (const s of selected) if (!ALL.includes(s)) throw new Error(`--only: unknown suite "${s}" (known: ${ALL.join(', ')})`);

/** @type {{ suite: string; passed: number; failed: number; seconds: number; note?: string }[]} */
const results = [];
const record = (suite, started, passed, failed, note) => {
  results.push({ suite, passed, failed, seconds: (performance.now() - started) / 1000, note });
};
const bin = (pkg, file) => path.join(root, 'node_modules', pkg, file);

async function setup() {
  const t = performance.now();
  const ok = (await ensureDeps(root)) && (await ensureNativeForNode(root));
  if (!ok) record('setup (npm packages, native modules)', t, 0, 1, 'see the messages above');
  return ok;
}

/** The renderer build is a check of its own; only the end-to-end suite needs its output. */
async function rendererBuild() {
  const t = performance.now();
  const ok = await buildRenderer(root);
  record('renderer build (vite)', t, ok ? 1 : 0, ok ? 0 : 1);
  return ok;
}

async function typecheck() {
  log('typecheck: tsc (electron + scripts as emitted, NodeNext; tests as run by tsx, Bundler)…');
  for (const config of ['tsconfig.json', 'tsconfig.tests.json']) {
    const started = performance.now();
    const { code } = await run(process.execPath, [bin('typescript', 'bin/tsc'), '-p', config, '--noEmit'], { cwd: root });
    record(`typecheck (tsc -p ${config})`, started, code === 0 ? 1 : 0, code === 0 ? 0 : 1);
  }
}

async function svelteCheck() {
  const t = performance.now();
  log('typecheck: svelte-check (renderer)…');
  const { code } = await run(
    process.execPath,
    [bin('svelte-check', 'bin/svelte-check'), '--tsconfig', './renderer/tsconfig.json', '--threshold', 'error', '--output', 'human'],
    { cwd: root },
  );
  record('typecheck (svelte-check)', t, code === 0 ? 1 : 0, code === 0 ? 0 : 1);
}

/** node:test over files, echoing its output, counting its summary. */
async function nodeTests(suite, files, extraArgs = []) {
  const t = performance.now();
  if (files.length === 0) {
    record(suite, t, 0, 0, 'no test files');
    return;
  }
  log(`${suite}: ${files.length} files…`);
  const { code, out } = await run(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-timeout=600000', ...extraArgs, ...files],
    { cwd: root, capture: true, echo: true, env: { FORCE_COLOR: '0' } },
  );
  const counts = nodeTestCounts(out);
  // A crash before the summary (e.g. a syntax error) must not count as success.
  if (code !== 0 && counts.failed === 0) counts.failed = 1;
  record(suite, t, counts.passed, counts.failed);
}

async function pythonTests() {
  const t = performance.now();
  const testsDir = path.join(root, 'python-runtime', 'tests');
  log('python: preparing the runtime environment…');
  const python = await ensurePythonEnv(root);
  if (!python) {
    record('python (pytest)', t, 0, 1, 'the Python environment could not be made');
    return;
  }
  log('python: pytest…');
  // The env holds the pinned packages only; the runtime is imported from its source folder
  // (also by the child processes the tests start: the CLI, torchrun).
  const runtimeDir = path.join(root, 'python-runtime');
  const pythonPath = [runtimeDir, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter);
  const { code, out } = await run(python, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', testsDir], {
    cwd: runtimeDir,
    capture: true,
    echo: true,
    env: { PYTHONPATH: pythonPath },
  });
  const counts = pytestCounts(out);
  // Exit 5 means no tests were collected: a suite that silently vanished is a failure.
  if (code !== 0 && counts.failed === 0) counts.failed = 1;
  record('python (pytest)', t, counts.passed, counts.failed, code === 5 ? 'no tests collected' : undefined);
}

if (await setup()) {
  const built = await rendererBuild();
  if (selected.has('typecheck')) await typecheck();
  if (selected.has('svelte')) await svelteCheck();
  if (selected.has('node')) await nodeTests('node tests', collectFiles(root, ['electron', 'tests', 'renderer/src', 'scripts'], '.test.ts', { excludeDirs: ['tests/e2e'] }));
  if (selected.has('e2e')) {
    if (!existsSync(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium')) {
      record('end-to-end (Chromium)', performance.now(), 0, 1, 'no /usr/bin/chromium (apt-get install chromium)');
    } else if (!built) {
      record('end-to-end (Chromium)', performance.now(), 0, 1, 'not run: the renderer did not build');
    } else {
      // One browser at a time: they share the CPU with the host and the services.
      await nodeTests('end-to-end (Chromium)', collectFiles(root, ['tests/e2e'], '.e2e.ts'), ['--test-concurrency=1']);
    }
  }
  if (selected.has('python')) await pythonTests();
}

const passed = results.reduce((n, r) => n + r.passed, 0);
const failed = results.reduce((n, r) => n + r.failed, 0);
console.log('\n── summary ──────────────────────────────────────────────');
for (const r of results) {
  const mark = r.failed ? 'FAIL' : 'ok  ';
  console.log(`${mark} ${r.suite.padEnd(44)} ${String(r.passed).padStart(4)} passed ${String(r.failed).padStart(3)} failed  ${r.seconds.toFixed(1).padStart(6)} s${r.note ? `  (${r.note})` : ''}`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
