/**
 * The sandboxed preload cannot import our modules, so it repeats the channel names and the
 * menu commands. This keeps the copies honest.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { DIALOG_CHANNELS, IPC_CHANNEL, MENU_CHANNEL, MENU_COMMANDS, METHODS_ARG } from '../../electron/ipc/bridge-types.js';

const preload = readFileSync(new URL('../../electron/preload.cts', import.meta.url), 'utf8');
const quoted = (s: string) => `'${s}'`;

test('preload uses the same channel names as the main process', () => {
  for (const channel of [IPC_CHANNEL, MENU_CHANNEL, METHODS_ARG, ...Object.values(DIALOG_CHANNELS)]) {
    assert.ok(preload.includes(quoted(channel)), `preload.cts must contain ${quoted(channel)}`);
  }
  for (const command of MENU_COMMANDS) assert.ok(preload.includes(quoted(command)), `preload.cts must accept menu command ${command}`);
});

test('preload imports nothing but electron at run time (a sandboxed preload cannot)', () => {
  const runtimeImports = [...preload.matchAll(/^import\s+(?!type\b)[^;]*from\s+'([^']+)'/gm)].map((m) => m[1]);
  assert.deepEqual(runtimeImports, ['electron']);
  assert.doesNotMatch(preload, /\brequire\(/);
});
