#!/usr/bin/env node
// `npm run node -- <flags>`: the headless DICOM node (electron/headless/main.ts) in plain Node,
// no Electron, no display. Flags: see `npm run node -- --help` or the README's "Headless DICOM
// node". The node runs as a child (TypeScript through tsx); SIGTERM/SIGINT are passed on to
// it, and its exit code is ours, so a service manager sees the node itself.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'electron/headless/main.ts'), ...process.argv.slice(2)], { cwd: process.cwd(), stdio: 'inherit' });
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
