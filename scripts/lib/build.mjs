// Building the renderer (vite) and the Electron main/preload (tsc) when their sources changed.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { log, run } from './proc.mjs';

/** Newest modification time under the given files/folders (0 when none exist). */
export function newestMtime(paths) {
  let newest = 0;
  const visit = (p) => {
    let s;
    try {
      s = statSync(p);
    } catch {
      return;
    }
    if (s.isDirectory()) {
      for (const name of readdirSync(p)) if (name !== 'node_modules' && !name.startsWith('.')) visit(path.join(p, name));
    } else newest = Math.max(newest, s.mtimeMs);
  };
  paths.forEach(visit);
  return newest;
}

/** Everything the renderer bundle is made from. */
export function rendererInputs(root) {
  return ['renderer', 'electron/contract', 'electron/host/wire.ts', 'electron/ipc/bridge-types.ts', 'vite.config.ts', 'package-lock.json', 'svelte.config.js'].map((p) =>
    path.join(root, p),
  );
}

export function rendererIsStale(root) {
  const index = path.join(root, 'dist', 'renderer', 'index.html');
  if (!existsSync(index)) return true;
  return newestMtime(rendererInputs(root)) > statSync(index).mtimeMs;
}

export async function buildRenderer(root, { force = false } = {}) {
  if (!force && !rendererIsStale(root)) return true;
  log('building the renderer (vite)…');
  const vite = path.join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  const { code } = await run(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: root });
  if (code !== 0) log(`renderer build failed (exit ${code})`);
  return code === 0;
}

/** tsc -> out/ for Electron (main.js, preload.cjs, services), when electron/ changed since. */
export async function compileElectron(root, { force = false } = {}) {
  const main = path.join(root, 'out', 'electron', 'main.js');
  const inputs = ['electron', 'tsconfig.json', 'tsconfig.electron.json', 'package-lock.json'].map((p) => path.join(root, p));
  if (!force && existsSync(main) && newestMtime(inputs) <= statSync(main).mtimeMs) return true;
  log('compiling the Electron main process (tsc)…');
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const { code } = await run(process.execPath, [tsc, '-p', 'tsconfig.electron.json'], { cwd: root });
  return code === 0;
}
