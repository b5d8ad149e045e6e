/**
 * The Electron shell cannot start here (no Electron binary), so its decisions are tested as
 * data: the window's web preferences and navigation policy, and the compiled preload run in
 * a VM against a recording stand-in for the two Electron objects it touches.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import vm from 'node:vm';
import ts from 'typescript';
import { methodNames } from '../../electron/contract/api.js';
import { IPC_CHANNEL, MENU_CHANNEL, METHODS_ARG, type DelineateBridge } from '../../electron/ipc/bridge-types.js';
import { navigationAllowed, secureWebPreferences, windowOpenDecision } from '../../electron/window-policy.js';

test('the window is isolated and sandboxed, without Node or webviews', () => {
  const prefs = secureWebPreferences('/app/out/electron/preload.cjs');
  assert.equal(prefs.contextIsolation, true);
  assert.equal(prefs.sandbox, true);
  assert.equal(prefs.nodeIntegration, false);
  assert.equal(prefs.nodeIntegrationInWorker, false);
  assert.equal(prefs.nodeIntegrationInSubFrames, false);
  assert.equal(prefs.webviewTag, false);
  assert.equal(prefs.webSecurity, true);
  assert.equal(prefs.allowRunningInsecureContent, false);
  assert.equal(prefs.preload, '/app/out/electron/preload.cjs');
});

test('navigation stays inside app://delineate; new windows are always denied', () => {
  assert.equal(navigationAllowed('app://delineate/index.html'), true);
  for (const url of ['https://example.com/', 'file:///etc/passwd', 'app://other/', 'http://127.0.0.1:8080/', 'javascript:alert(1)']) {
    assert.equal(navigationAllowed(url), false, url);
  }
  assert.deepEqual(windowOpenDecision('https://docs.example/'), { action: 'deny', openExternally: true });
  assert.deepEqual(windowOpenDecision('file:///etc/passwd'), { action: 'deny', openExternally: false });
  assert.deepEqual(windowOpenDecision('http://insecure.example/'), { action: 'deny', openExternally: false });
  assert.deepEqual(windowOpenDecision('not a url'), { action: 'deny', openExternally: false });
});

/** Compile preload.cts as tsc would and run it with fake `electron` and `process`. */
function loadPreload(argv: string[]) {
  const source = readFileSync(new URL('../../electron/preload.cts', import.meta.url), 'utf8');
  const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
  const invoked: { channel: string; args: unknown[] }[] = [];
  const listeners = new Map<string, ((event: unknown, ...args: unknown[]) => void)[]>();
  let exposed: { name: string; api: DelineateBridge } | null = null;
  const electron = {
    contextBridge: { exposeInMainWorld: (name: string, api: DelineateBridge) => (exposed = { name, api }) },
    webUtils: { getPathForFile: (file: { fakePath: string }) => file.fakePath },
    ipcRenderer: {
      invoke: (channel: string, ...args: unknown[]) => {
        invoked.push({ channel, args });
        return Promise.resolve({ ok: true, result: 'from main' });
      },
      on: (channel: string, f: (event: unknown, ...args: unknown[]) => void) => listeners.set(channel, [...(listeners.get(channel) ?? []), f]),
      removeListener: (channel: string, f: unknown) => listeners.set(channel, (listeners.get(channel) ?? []).filter((g) => g !== f)),
    },
  };
  const requireStub = (name: string) => {
    if (name !== 'electron') throw new Error(`a sandboxed preload cannot require ${name}`);
    return electron;
  };
  const module = { exports: {} };
  vm.runInNewContext(js, { require: requireStub, module, exports: module.exports, process: { argv } });
  assert.ok(exposed, 'preload exposed something');
  const found = exposed as { name: string; api: DelineateBridge };
  return { name: found.name, bridge: found.api, invoked, emit: (channel: string, ...args: unknown[]) => listeners.get(channel)?.forEach((f) => f({}, ...args)), listeners };
}

test('the preload forwards only contract methods, on the one channel', async () => {
  const p = loadPreload(['electron', '--foo', METHODS_ARG + methodNames.join(',')]);
  assert.equal(p.name, 'delineate');
  assert.deepEqual(await p.bridge.call('image.pixels', { imageId: 1, frame: 0 }), { ok: true, result: 'from main' });
  assert.deepEqual(p.invoked, [{ channel: IPC_CHANNEL, args: ['image.pixels', { imageId: 1, frame: 0 }] }]);
  for (const bad of ['shell.openExternal', '__proto__', '', 'image.pixels ']) {
    const answer = await p.bridge.call(bad, {});
    assert.equal(answer.ok, false, bad);
  }
  assert.equal(p.invoked.length, 1, 'nothing outside the allow-list reached ipcRenderer');
});

test('dropped files resolve to their paths through webUtils', () => {
  const p = loadPreload([]);
  assert.equal(p.bridge.pathForFile({ fakePath: '/data/ct/slice1.dcm' } as unknown as File), '/data/ct/slice1.dcm');
});

test('without the allow-list argument the preload forwards nothing', async () => {
  const p = loadPreload(['electron']);
  assert.equal((await p.bridge.call('app.info', {})).ok, false);
  assert.equal(p.invoked.length, 0);
});

test('menu commands reach the renderer only when known, and unsubscribe works', () => {
  const p = loadPreload([METHODS_ARG + 'app.info']);
  const got: string[] = [];
  const off = p.bridge.onMenu((c) => got.push(c));
  p.emit(MENU_CHANNEL, 'project.open');
  p.emit(MENU_CHANNEL, 'format.disk');
  p.emit(MENU_CHANNEL, { toString: () => 'project.new' });
  assert.deepEqual(got, ['project.open']);
  off();
  p.emit(MENU_CHANNEL, 'import.files');
  assert.deepEqual(got, ['project.open']);
});
