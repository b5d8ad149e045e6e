// Making sure node_modules matches package-lock.json, and that native modules load here.
// Standard library only (runs before npm ci).
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { log, npmCmd, run } from './proc.mjs';

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

/**
 * Why node_modules is out of date, or null when it matches package-lock.json. npm records
 * what it actually installed in node_modules/.package-lock.json; compare versions package
 * by package (optional packages for other platforms are legitimately absent).
 */
export function staleReason(root) {
  const lockFile = path.join(root, 'package-lock.json');
  const hiddenFile = path.join(root, 'node_modules', '.package-lock.json');
  if (!existsSync(path.join(root, 'node_modules'))) return 'node_modules is missing';
  if (!existsSync(hiddenFile)) return 'node_modules was not installed by npm (no .package-lock.json)';
  const wanted = readJson(lockFile).packages ?? {};
  const have = readJson(hiddenFile).packages ?? {};
  for (const [key, entry] of Object.entries(wanted)) {
    if (key === '' || !key.startsWith('node_modules/') || entry.link) continue;
    const installed = have[key];
    if (!installed) {
      if (entry.optional || entry.devOptional || entry.peer) continue;
      return `${key.slice('node_modules/'.length)} is not installed`;
    }
    if (entry.version && installed.version !== entry.version) {
      return `${key.slice('node_modules/'.length)} is ${installed.version}, package-lock wants ${entry.version}`;
    }
  }
  return null;
}

/** Install when node_modules does not match the lock file. Returns true when it is usable. */
export async function ensureDeps(root) {
  const reason = staleReason(root);
  if (reason === null) return true;
  log(`installing npm packages (${reason})…`);
  const shell = process.platform === 'win32';
  const ci = await run(npmCmd, ['ci', '--no-audit', '--no-fund'], { cwd: root, shell, capture: true });
  let { code } = ci;
  if (code !== 0) {
    // npm prints its whole usage text after the reason; the reason is enough.
    const lines = ci.out.split('\n').filter((l) => /^npm error \S/.test(l));
    const usage = lines.findIndex((l) => l.startsWith('npm error Clean install'));
    process.stderr.write(lines.slice(0, usage >= 0 ? usage : 12).join('\n') + '\n');
    // npm ci refuses a lock file that lacks an optional dependency the registry does not
    // serve (vite 8 lists a Windows-only helper that some registries lack). `npm install`
    // tolerates that and still takes every version from the lock file; --no-save leaves
    // package.json and package-lock.json untouched.
    log(`npm ci failed (exit ${code}); retrying with npm install --no-save…`);
    ({ code } = await run(npmCmd, ['install', '--no-save', '--no-audit', '--no-fund'], { cwd: root, shell }));
  }
  if (code !== 0) log(`npm install failed (exit ${code}); see the messages above`);
  return code === 0;
}

/**
 * better-sqlite3 is compiled against one ABI: Node's for tests and the browser host,
 * Electron's for the desktop window. Rebuild for Node when it does not load here (e.g.
 * after `npm start` rebuilt it for Electron, or when its install script was skipped).
 */
export async function ensureNativeForNode(root) {
  const probe = "const D=require('better-sqlite3'); new D(':memory:').prepare('select 1').get()";
  let r = await run(process.execPath, ['-e', probe], { cwd: root, capture: true });
  if (r.code === 0) return true;
  log('better-sqlite3 does not load in this Node; rebuilding it…');
  await run(npmCmd, ['rebuild', 'better-sqlite3'], { cwd: root, shell: process.platform === 'win32' });
  r = await run(process.execPath, ['-e', probe], { cwd: root, capture: true });
  if (r.code !== 0) log(`better-sqlite3 still does not load:\n${r.out}`);
  else rmSync(path.join(root, 'node_modules', '.delineate-native-abi'), { force: true }); // no longer built for Electron
  return r.code === 0;
}
