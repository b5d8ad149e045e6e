// The Python runtime (training/export) lives in its own venv, made by python-runtime's own
// script. Annotation never needs it, so callers start this lazily.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { log, run } from './proc.mjs';

/** Create/refresh the venv; resolves with the venv's python path, or null with the reason logged. */
export async function ensurePythonEnv(root, { quiet = false } = {}) {
  const script = path.join(root, 'python-runtime', 'tools', 'ensure_env.py');
  if (!existsSync(script)) {
    log(`cannot make the Python environment: ${path.relative(root, script)} is missing`);
    return null;
  }
  const python = process.platform === 'win32' ? 'python' : 'python3';
  const { code, out } = await run(python, [script], { cwd: root, capture: true, echo: !quiet });
  const last = out.trim().split(/\r?\n/).at(-1)?.trim() ?? '';
  if (code !== 0 || !last || !existsSync(last)) {
    log(`Python environment setup failed (exit ${code})${quiet ? `:\n${out.slice(-4000)}` : ''}`);
    return null;
  }
  return last;
}
