// Child-process helpers for the project scripts. Standard library only: these run before
// `npm ci` on a fresh clone.
import { spawn } from 'node:child_process';

/** Run a command, streaming its output; resolves with the exit code (never rejects on failure). */
export function run(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: opts.capture ? ['ignore', 'pipe', 'pipe'] : 'inherit', ...opts, env: { ...process.env, ...(opts.env ?? {}) } });
    let out = '';
    if (opts.capture) {
      child.stdout.on('data', (d) => {
        out += d;
        if (opts.echo) process.stdout.write(d);
      });
      child.stderr.on('data', (d) => {
        out += d;
        if (opts.echo) process.stderr.write(d);
      });
    }
    let timer;
    if (opts.timeoutMs) {
      timer = setTimeout(() => {
        out += `\n[timed out after ${opts.timeoutMs} ms]\n`;
        child.kill('SIGKILL');
      }, opts.timeoutMs);
    }
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: 127, out: out + String(e) });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), out });
    });
  });
}

export const npmCmd = process.platform === 'win32' ? 'npm.cmd' : 'npm';

export function log(message) {
  process.stderr.write(`[delineate] ${message}\n`);
}
