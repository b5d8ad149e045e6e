/** The project scripts' pure parts: install staleness, test discovery, summary parsing, renderer staleness. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
// @ts-expect-error plain .mjs (standard library only, runs before npm ci)
import { staleReason } from '../../scripts/lib/deps.mjs';
// @ts-expect-error plain .mjs
import { collectFiles, nodeTestCounts, pytestCounts } from '../../scripts/lib/test-files.mjs';
// @ts-expect-error plain .mjs
import { rendererIsStale } from '../../scripts/lib/build.mjs';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'delineate-tooling-'));
const writeJson = (file: string, value: unknown) => {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(value));
};

test('node_modules staleness is judged package by package against package-lock.json', () => {
  const root = tmp();
  const lock = {
    packages: {
      '': { name: 'x' },
      'node_modules/zod': { version: '3.25.1' },
      'node_modules/@esbuild/win32-x64': { version: '0.28.2', optional: true },
      'node_modules/ws': { version: '8.18.0', dev: true },
    },
  };
  writeJson(path.join(root, 'package-lock.json'), lock);
  assert.equal(staleReason(root), 'node_modules is missing');
  mkdirSync(path.join(root, 'node_modules'));
  assert.match(staleReason(root), /not installed by npm/);
  const hidden = path.join(root, 'node_modules', '.package-lock.json');
  writeJson(hidden, { packages: { 'node_modules/zod': { version: '3.25.1' } } });
  assert.equal(staleReason(root), 'ws is not installed');
  writeJson(hidden, { packages: { 'node_modules/zod': { version: '3.24.0' }, 'node_modules/ws': { version: '8.18.0' } } });
  assert.equal(staleReason(root), 'zod is 3.24.0, package-lock wants 3.25.1');
  writeJson(hidden, { packages: { 'node_modules/zod': { version: '3.25.1' }, 'node_modules/ws': { version: '8.18.0' } } });
  assert.equal(staleReason(root), null, 'an absent optional package for another platform is fine');
});

test('test files are collected recursively, skipping node_modules and excluded folders', () => {
  const root = tmp();
  for (const f of ['tests/a.test.ts', 'tests/deep/b.test.ts', 'tests/e2e/c.test.ts', 'tests/node_modules/d.test.ts', 'tests/e.ts', 'electron/x/f.test.ts']) {
    mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    writeFileSync(path.join(root, f), '');
  }
  assert.deepEqual(collectFiles(root, ['electron', 'tests', 'missing'], '.test.ts', { excludeDirs: ['tests/e2e'] }), [
    path.join('electron', 'x', 'f.test.ts'),
    path.join('tests', 'a.test.ts'),
    path.join('tests', 'deep', 'b.test.ts'),
  ]);
});

test('summaries of node:test (spec and TAP) and pytest are counted', () => {
  assert.deepEqual(nodeTestCounts('ℹ tests 7\nℹ pass 5\nℹ fail 1\nℹ cancelled 1\n'), { passed: 5, failed: 2 });
  assert.deepEqual(nodeTestCounts('# tests 3\n# pass 3\n# fail 0\n'), { passed: 3, failed: 0 });
  assert.deepEqual(nodeTestCounts('crashed before any summary'), { passed: 0, failed: 0 });
  assert.deepEqual(pytestCounts('...F\n==== 3 passed, 1 failed, 2 errors in 4.20s ====\n'), { passed: 3, failed: 3 });
  assert.deepEqual(pytestCounts('12 passed, 1 warning in 9.1s'), { passed: 12, failed: 0 });
});

test('the renderer is rebuilt when any of its inputs is newer than the build', () => {
  const root = tmp();
  mkdirSync(path.join(root, 'renderer', 'src'), { recursive: true });
  writeFileSync(path.join(root, 'renderer', 'src', 'App.svelte'), '<p>hi</p>');
  assert.equal(rendererIsStale(root), true, 'no build yet');
  mkdirSync(path.join(root, 'dist', 'renderer'), { recursive: true });
  const index = path.join(root, 'dist', 'renderer', 'index.html');
  writeFileSync(index, '');
  const now = Date.now() / 1000;
  utimesSync(path.join(root, 'renderer', 'src', 'App.svelte'), now - 100, now - 100);
  utimesSync(index, now - 50, now - 50);
  assert.equal(rendererIsStale(root), false);
  mkdirSync(path.join(root, 'electron', 'contract'), { recursive: true });
  writeFileSync(path.join(root, 'electron', 'contract', 'api.ts'), '// changed');
  assert.equal(rendererIsStale(root), true, 'a contract change rebuilds the renderer');
});
