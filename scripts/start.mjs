#!/usr/bin/env node
// `npm start`: install what is missing, build what is stale, then open Delineate.
//
// With an Electron binary (downloaded on first start where the internet allows) it opens
// the desktop window; without one it starts the browser host on 127.0.0.1 and prints the
// address to open. Options: --browser (always the browser host), --port N, --prepare-python.
//
// The Python training environment (PyTorch, about 5.6 GB) is not built here: the app builds it
// the first time the user presses "Retrain on my data". --prepare-python builds it now, in the
// foreground, before the app opens. (--no-python and DELINEATE_NO_PYTHON=1 are still accepted
// and do nothing: nothing Python is built by default.)
//
// Standard library only at the top level: this runs on a fresh clone before `npm ci`.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildRenderer, compileElectron } from './lib/build.mjs';
import { ensureDeps, ensureNativeForNode } from './lib/deps.mjs';
import { ensureElectronBinary, ensureNativeForElectron } from './lib/electron-binary.mjs';
import { log, run } from './lib/proc.mjs';
import { ensurePythonEnv } from './lib/python-env.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    browser: { type: 'boolean', default: false },
    port: { type: 'string' },
    'prepare-python': { type: 'boolean', default: false },
    'no-python': { type: 'boolean', default: false }, // accepted, does nothing (see above)
  },
  strict: true,
});

if (!(await ensureDeps(root))) process.exit(1);
if (!(await buildRenderer(root))) process.exit(1);

if (values['prepare-python']) {
  // Training needs the Python runtime; annotation does not. Only on request: it is big.
  log('preparing the Python training environment (PyTorch, about 5.6 GB download and disk; several minutes the first time)…');
  const python = await ensurePythonEnv(root);
  if (!python) process.exit(1);
  log(`Python training environment ready: ${python}`);
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
