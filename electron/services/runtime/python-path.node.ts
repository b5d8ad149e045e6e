/**
 * Where the Python runtime's interpreter is. Runtime: node.
 *
 * Order: DELINEATE_PYTHON (an explicit choice wins), the dev venv inside python-runtime/,
 * then `python3 python-runtime/tools/ensure_env.py`, which creates or finds the venv and
 * prints its python as the last line of stdout.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository (or app resources) folder that holds python-runtime/. */
export function runtimeRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(path.join(dir, 'python-runtime', 'delineate_runtime'))) return path.join(dir, 'python-runtime');
    dir = path.dirname(dir);
  }
  throw new Error('python-runtime/ not found above ' + path.dirname(fileURLToPath(import.meta.url)));
}

let cached: string | undefined;

export function findPython(): string {
  if (process.env.DELINEATE_PYTHON) return process.env.DELINEATE_PYTHON;
  if (cached) return cached;
  const root = runtimeRoot();
  const venv = process.platform === 'win32' ? path.join(root, '.venv', 'Scripts', 'python.exe') : path.join(root, '.venv', 'bin', 'python');
  if (existsSync(venv)) return (cached = venv);
  const ensure = path.join(root, 'tools', 'ensure_env.py');
  if (!existsSync(ensure)) throw new Error(`No Python runtime: neither ${venv} nor ${ensure} exists`);
  const out = execFileSync(process.platform === 'win32' ? 'python' : 'python3', [ensure], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const last = out.trim().split(/\r?\n/).pop() ?? '';
  if (!last || !existsSync(last)) throw new Error(`${ensure} did not print a python path (got ${JSON.stringify(last)})`);
  return (cached = last);
}
