#!/usr/bin/env node
// `npm run dist`: installers with electron-builder (build/electron-builder.yml).
// Builds the renderer and compiles electron/ to out/ first. Extra arguments go to
// electron-builder, e.g. `npm run dist -- --linux AppImage` or `-- --win nsis`.
// Needs the internet (electron-builder downloads Electron and its tools for each target).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildRenderer, compileElectron } from './lib/build.mjs';
import { ensureDeps } from './lib/deps.mjs';
import { log, npmCmd, run } from './lib/proc.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
if (!(await ensureDeps(root))) process.exit(1);
if (!(await buildRenderer(root, { force: true })) || !(await compileElectron(root, { force: true }))) process.exit(1);

const args = ['exec', '--', 'electron-builder', '--config', 'build/electron-builder.yml', '--publish', 'never', ...process.argv.slice(2)];
const { code } = await run(npmCmd, args, { cwd: root, shell: process.platform === 'win32' });
if (code !== 0) log(`electron-builder failed (exit ${code}). Without internet access it cannot fetch Electron; see the messages above.`);
process.exit(code);
