// Finding (and on a user's machine, fetching) the Electron binary without `require('electron')`,
// which in Electron 45 tries to download synchronously and throws when it cannot.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { log, npmCmd, run } from './proc.mjs';

export function electronBinary(root) {
  const dir = path.join(root, 'node_modules', 'electron');
  try {
    const rel = readFileSync(path.join(dir, 'path.txt'), 'utf8').trim();
    const exe = path.join(process.env.ELECTRON_OVERRIDE_DIST_PATH ?? path.join(dir, 'dist'), rel);
    return existsSync(exe) ? exe : null;
  } catch {
    return null;
  }
}

/**
 * The binary, downloading it first when allowed. Skipped (null) in CI, with
 * ELECTRON_SKIP_BINARY_DOWNLOAD=1, or when the download fails (no internet, blocked host):
 * the caller then falls back to the browser host.
 */
export async function ensureElectronBinary(root) {
  const found = electronBinary(root);
  if (found) return found;
  if (process.env.CI || process.env.ELECTRON_SKIP_BINARY_DOWNLOAD === '1') return null;
  const installer = path.join(root, 'node_modules', 'electron', 'install.js');
  if (!existsSync(installer)) return null;
  log('downloading the Electron binary (first start only)…');
  const { code, out } = await run(process.execPath, [installer], { cwd: root, capture: true, timeoutMs: 10 * 60 * 1000 });
  if (code !== 0) {
    log(`no Electron binary (download failed: ${out.trim().split('\n')[0]?.slice(0, 200)})`);
    return null;
  }
  return electronBinary(root);
}

/**
 * Native modules must match Electron's ABI inside the window. electron-builder rebuilds
 * them (better-sqlite3); the stamp avoids doing it on every start. Tests rebuild for Node
 * again when needed (deps.mjs ensureNativeForNode).
 */
export async function ensureNativeForElectron(root) {
  const stamp = path.join(root, 'node_modules', '.delineate-native-abi');
  const version = JSON.parse(readFileSync(path.join(root, 'node_modules', 'electron', 'package.json'), 'utf8')).version;
  const want = `electron-${version}`;
  if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === want) return true;
  log('rebuilding native modules for Electron…');
  const { code } = await run(npmCmd, ['exec', '--', 'electron-builder', 'install-app-deps'], { cwd: root, shell: process.platform === 'win32' });
  if (code === 0) writeFileSync(stamp, want);
  return code === 0;
}
