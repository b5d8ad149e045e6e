/**
 * The installers cannot be built here (no Electron download), so check what can be checked:
 * the electron-builder config passes electron-builder's own schema, and it packs what the
 * app needs at run time.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';

const require = createRequire(import.meta.url);
const root = new URL('../../', import.meta.url);
const yaml = require('js-yaml') as { load(text: string): unknown };
const config = yaml.load(readFileSync(new URL('build/electron-builder.yml', root), 'utf8')) as Record<string, any>;

test('build/electron-builder.yml passes electron-builder schema validation', async () => {
  const { validateConfiguration } = require('app-builder-lib/out/util/config/config') as {
    validateConfiguration(c: unknown, logger: unknown): Promise<void>;
  };
  const { DebugLogger } = require('builder-util/out/DebugLogger') as { DebugLogger: new (enabled: boolean) => unknown };
  await validateConfiguration(config, new DebugLogger(false));
  await assert.rejects(validateConfiguration({ ...config, notAnOption: 1 }, new DebugLogger(false)), /unknown property/);
});

test('it targets Linux AppImage+deb, Windows nsis, macOS dmg and packs main, preload, renderer and the Python runtime', () => {
  assert.deepEqual(config.linux.target, ['AppImage', 'deb']);
  assert.deepEqual(config.win.target, ['nsis']);
  assert.deepEqual(config.mac.target, ['dmg']);
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { main: string };
  assert.equal(pkg.main, 'out/electron/main.js');
  const files: string[] = config.files;
  assert.ok(files.includes('out/electron/**/*.js') && files.includes('out/electron/**/*.cjs'), 'main.js and preload.cjs');
  assert.ok(files.includes('dist/renderer/**'));
  const py = config.extraResources.find((r: { from: string }) => r.from === 'python-runtime');
  assert.ok(py, 'python-runtime shipped as an extra resource');
  assert.ok(py.filter.includes('!.venv/**'), 'never ship a developer venv');
});
