/**
 * A training server reached over SSH: the runtime's source is copied there once (named by its
 * hash), its environment is made there by the same ensure_env.py, and the runtime is started
 * as `ssh host python -m delineate_runtime serve`, so the app speaks the same stdio JSON-RPC
 * to it as to a local runtime. Files travel as tar streams over the same ssh (no scp/rsync
 * needed on either side). Runtime: node.
 *
 * Only `ssh` and `tar` are required here, and `tar` and a Python 3.11 on the server.
 * BatchMode: a host that wants a password fails at once with ssh's message instead of waiting
 * for a prompt nobody sees.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { TrainingHost } from '../../contract/training.js';
import { RuntimeClient } from '../runtime/runtime-client.node.js';

export type SshHost = Extract<TrainingHost, { kind: 'ssh' }>;

export class SshError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'SshError';
  }
}

/** Single-quote for the remote POSIX shell (the contract keeps quotes out of every field). */
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function sshArgs(h: SshHost): string[] {
  return [
    '-p', String(h.port),
    '-o', 'BatchMode=yes',
    '-o', 'ConnectTimeout=15',
    '-o', 'ServerAliveInterval=15',
    '-o', 'StrictHostKeyChecking=accept-new',
    ...(h.knownHostsFile ? ['-o', `UserKnownHostsFile=${h.knownHostsFile}`] : []),
    ...(h.identityFile ? ['-i', h.identityFile, '-o', 'IdentitiesOnly=yes'] : []),
    '-l', h.user,
    '--', h.host,
  ];
}

function hashTree(dir: string, skip: (name: string) => boolean): string {
  const h = createHash('sha256');
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (skip(e.name)) continue;
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p, `${rel}${e.name}/`);
      else if (e.isFile()) h.update(`${rel}${e.name}\0${statSync(p).size}\0`).update(readFileSync(p));
    }
  };
  walk(dir, '');
  return h.digest('hex').slice(0, 12);
}

const RUNTIME_SKIP = (n: string) => n === '.venv' || n === '__pycache__' || n === '.pytest_cache' || n.endsWith('.pyc') || n === 'tests' || n.endsWith('.egg-info');

export class SshTrainingHost {
  constructor(
    readonly host: SshHost,
    private readonly signal?: AbortSignal,
  ) {}

  get label(): string {
    return `${this.host.user}@${this.host.host}:${this.host.port}`;
  }

  /** Run a remote shell command; resolves with stdout; rejects with ssh's or the command's stderr. */
  exec(command: string, opts: { input?: NodeJS.ReadableStream; onStderrLine?: (l: string) => void } = {}): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = spawn('ssh', [...sshArgs(this.host), command], { stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
      let out = '';
      let err = '';
      let partial = '';
      child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
      child.stderr.setEncoding('utf8').on('data', (s: string) => {
        err = (err + s).slice(-8000);
        if (opts.onStderrLine) {
          partial += s;
          const lines = partial.split('\n');
          partial = lines.pop() ?? '';
          for (const l of lines) if (l.trim()) opts.onStderrLine(l.trim());
        }
      });
      const abort = () => child.kill('SIGTERM');
      this.signal?.addEventListener('abort', abort, { once: true });
      child.on('error', (e) => reject(new SshError(`ssh could not be started (${e.message}); is an OpenSSH client installed?`, '')));
      child.on('close', (code) => {
        this.signal?.removeEventListener('abort', abort);
        if (code === 0) resolve(out);
        else reject(new SshError(`${this.label}: ${err.trim().split('\n').slice(-3).join(' | ') || `ssh exited with ${code}`}`, err));
      });
      if (opts.input) opts.input.pipe(child.stdin);
      else child.stdin.end();
    });
  }

  /** Copy a local folder's contents to `remote` (created), as a tar stream over ssh. */
  async upload(localDir: string, remote: string, exclude: (name: string) => boolean = () => false): Promise<void> {
    const names = readdirSync(localDir).filter((n) => !exclude(n));
    const excludes = ['.venv', '__pycache__', '.pytest_cache', '*.pyc'].flatMap((p) => ['--exclude', p]);
    const tar = spawn('tar', ['-C', localDir, ...excludes, '-cf', '-', ...names], { stdio: ['ignore', 'pipe', 'pipe'] });
    let tarErr = '';
    tar.stderr.setEncoding('utf8').on('data', (s: string) => (tarErr += s));
    const tarDone = new Promise<number>((r) => tar.on('close', (c) => r(c ?? 1)));
    await this.exec(`mkdir -p ${q(remote)} && tar -C ${q(remote)} -xf -`, { input: tar.stdout });
    if ((await tarDone) !== 0) throw new SshError(`packing ${localDir} failed: ${tarErr.trim()}`, tarErr);
  }

  /** Copy a remote folder's contents into a local folder (created). */
  async download(remote: string, localDir: string): Promise<void> {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(localDir, { recursive: true });
    await new Promise<void>((resolve, reject) => {
      const ssh = spawn('ssh', [...sshArgs(this.host), `tar -C ${q(remote)} -cf - .`], { stdio: ['ignore', 'pipe', 'pipe'] });
      const tar = spawn('tar', ['-C', localDir, '-xf', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
      ssh.stdout.pipe(tar.stdin);
      let err = '';
      ssh.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
      tar.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
      let pending = 2;
      let failed = false;
      const done = (code: number | null) => {
        if (code !== 0) failed = true;
        if (--pending === 0) (failed ? reject(new SshError(`${this.label}: copying ${remote} back failed: ${err.trim()}`, err)) : resolve());
      };
      ssh.on('close', done);
      tar.on('close', done);
    });
  }

  /** The runtime's source on the server (copied once per version); returns its folder there. */
  async syncRuntime(localRuntime: string): Promise<string> {
    const version = hashTree(localRuntime, RUNTIME_SKIP);
    const remote = path.posix.join(this.host.remoteDir, `runtime-${version}`);
    const ready = await this.exec(`test -f ${q(remote)}/.complete && echo yes || echo no`);
    if (ready.trim() === 'yes') return remote;
    const partial = `${remote}.partial`;
    await this.exec(`rm -rf ${q(partial)}`);
    await this.upload(localRuntime, partial, RUNTIME_SKIP);
    await this.exec(`touch ${q(partial)}/.complete && rm -rf ${q(remote)} && mv ${q(partial)} ${q(remote)}`);
    return remote;
  }

  /** Make (or find) the runtime's environment on the server; returns its python there. */
  async ensureEnv(remoteRuntime: string, onProgress: (line: string) => void): Promise<string> {
    const out = await this.exec(`cd ${q(remoteRuntime)} && ${this.host.python} tools/ensure_env.py`, { onStderrLine: onProgress });
    const python = out.trim().split('\n').at(-1)?.trim() ?? '';
    if (!python.startsWith('/')) throw new SshError(`${this.label}: ensure_env.py printed no python path`, out);
    return python;
  }

  /** The runtime on the server, over this ssh connection's stdio. */
  startRuntime(remoteRuntime: string, python: string, env: Record<string, string> = {}): RuntimeClient {
    const vars = Object.entries({ ...env, PYTHONPATH: remoteRuntime, PYTHONUNBUFFERED: '1' })
      .filter(([k]) => /^[A-Z_][A-Z0-9_]*$/.test(k))
      .map(([k, v]) => `${k}=${q(v)}`)
      .join(' ');
    return RuntimeClient.startCommand('ssh', [...sshArgs(this.host), `cd ${q(remoteRuntime)} && exec env ${vars} ${q(python)} -m delineate_runtime serve`]);
  }
}
