#!/usr/bin/env node
// `npm start`: install what is missing, build what is stale, then open Delineate.
//
// With an Electron binary (downloaded on first start where the internet allows) it opens
// the desktop window; without one it starts the browser host on 127.0.0.1 and prints the
// address to open. Options: --browser (always the browser host), --port N, --no-python.
//
// Standard library only at the top level: this runs on a fresh clone before `npm ci`.
import { mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildRenderer, compileElectron } from './lib/build.mjs';
import { ensureDeps, ensureNativeForNode } from './lib/deps.mjs';
import { ensureElectronBinary, ensureNativeForElectron } from './lib/electron-binary.mjs';
import { log, run } from './lib/proc.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: { browser: { type: 'boolean', default: false }, port: { type: 'string' }, 'no-python': { type: 'boolean', default: false } },
  strict: true,
});

if (!(await ensureDeps(root))) process.exit(1);
if (!(await buildRenderer(root))) process.exit(1);

if (!values['no-python'] && process.env.DELINEATE_NO_PYTHON !== '1') {
  // Training needs the Python runtime; annotation does not. Prepare it in the background so
  // the first "fine-tune" click does not wait, without ever delaying the window.
  const logDir = path.join(root, '.cache');
  mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, 'python-env.log');
  const fd = openSync(logFile, 'a');
  void run(process.platform === 'win32' ? 'python' : 'python3', [path.join(root, 'python-runtime', 'tools', 'ensure_env.py')], {
    cwd: root,
    stdio: ['ignore', fd, fd],
  }).then(({ code }) => {
    if (code !== 0) log(`Python runtime setup failed (exit ${code}); training will be unavailable. Details: ${logFile}`);
  });
}

const electron = values.browser ? null : await ensureElectronBinary(root);
// Ctrl+C reaches the child too; let it close the project cleanly and exit with its code.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
if (electron) {
  if (!(await compileElectron(root)) || !(await ensureNativeForElectron(root))) process.exit(1);
  const { code } = await run(electron, [root], { cwd: root });
  process.exit(code);
} else {
  if (!values.browser) log('no Electron binary here: starting the browser host instead');
  if (!(await ensureNativeForNode(root))) process.exit(1);
  const args = ['--import', 'tsx', path.join(root, 'electron', 'host', 'cli.ts')];
  if (values.port) args.push('--port', values.port);
  const { code } = await run(process.execPath, args, { cwd: root });
  process.exit(code);
}
