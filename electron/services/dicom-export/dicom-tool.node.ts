/**
 * One call of the light DICOM environment's tool (`python -m delineate_dicom <command>
 * REQUEST.json`): SEG writing, C-ECHO/QIDO, C-STORE/STOW-RS. Runtime: node.
 *
 * The tool prints its result as the last stdout line (JSON) and, on failure, a sentence as
 * its last `error: ` line on stderr, which becomes the ApiError the user reads.
 */
import { spawn } from 'node:child_process';
import { ApiError } from '../../contract/api.js';
import { runtimeEnv, runtimeRoot } from '../runtime/python-path.node.js';

export type DicomToolCommand = 'write-seg' | 'write-rtstruct' | 'write-sr' | 'echo' | 'send' | 'query' | 'retrieve' | 'deidentify';

/**
 * Resolves with the result line; rejects with `failed: <the tool's sentence>`. `onLine`: each
 * stderr line as it comes (the retrieve command reports its progress there).
 */
export function runDicomTool(python: string, command: DicomToolCommand, requestFile: string, failed: string, signal?: AbortSignal, onLine?: (line: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, ['-m', 'delineate_dicom', command, requestFile], { cwd: runtimeRoot(), env: { ...process.env, ...runtimeEnv() }, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    let partial = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      err = (err + s).slice(-8000);
      if (!onLine) return;
      const lines = (partial + s).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) onLine(l);
    });
    const abort = () => child.kill('SIGKILL');
    signal?.addEventListener('abort', abort, { once: true });
    child.on('error', (e) => reject(new ApiError('internal', `The DICOM tool could not start (${e.message})`)));
    child.on('close', (code) => {
      signal?.removeEventListener('abort', abort);
      if (signal?.aborted) return reject(new ApiError('conflict', `${failed}: cancelled`));
      if (code === 0) return resolve(out.trim().split('\n').at(-1) ?? '');
      const line = err.trim().split('\n').filter((l) => l.startsWith('error: ')).at(-1);
      reject(new ApiError('bad_request', line ? `${failed}: ${line.slice(7)}` : `${failed}: the DICOM tool exited with ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}
