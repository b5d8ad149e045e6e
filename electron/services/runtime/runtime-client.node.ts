/**
 * Node client of the Python runtime: spawns `<python> -m delineate_runtime serve` and speaks
 * JSON-RPC 2.0 over its stdio (Content-Length framing, via vscode-jsonrpc). Runtime: node.
 *
 * Long work runs as runtime jobs: `runJob` starts one, forwards its `job.progress`
 * notifications, resolves with the `job.finished` result, and cancels the job when the
 * caller's AbortSignal fires. If the child dies, every pending request and job is rejected
 * with a RuntimeCrashedError that carries the exit code/signal and the tail of its stderr.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import {
  createMessageConnection,
  ResponseError,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
  type RequestType,
  type RequestType0,
} from 'vscode-jsonrpc/node.js';
import { findPython, runtimeEnv, runtimeRoot, type PythonEnvProgress } from './python-path.node.js';
import {
  jobCancel,
  jobFinished,
  jobProgress,
  runtimeInfo,
  shutdown,
  type JobFinished,
  type JobProgress,
  type JobStarted,
  type RuntimeInfo,
} from './runtime-methods.js';

export class RuntimeCrashedError extends Error {
  constructor(
    readonly code: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stderrTail: string,
  ) {
    super(`The Python runtime stopped unexpectedly (${signal ? `signal ${signal}` : `exit code ${code}`})${stderrTail ? `: ${stderrTail.trim().split('\n').slice(-3).join(' | ')}` : ''}`);
    this.name = 'RuntimeCrashedError';
  }
}

/** A JSON-RPC error answer of the runtime (bad params, unknown method, failed job). */
export class RuntimeRequestError extends Error {
  constructor(
    readonly method: string,
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(`${method}: ${message}`);
    this.name = 'RuntimeRequestError';
  }
}

export interface RuntimeClientOptions {
  /** The interpreter (see findPython); RuntimeClient.launch finds it when absent. */
  python: string;
  /** Extra environment; merged over process.env and runtimeEnv() (PYTHONPATH, PYTHONUNBUFFERED). */
  env?: Record<string, string>;
  /** How much stderr to keep for crash reports. */
  stderrTailChars?: number;
}

interface JobWaiter {
  onProgress?: (p: JobProgress) => void;
  resolve: (f: JobFinished) => void;
  reject: (e: Error) => void;
}

export class RuntimeClient {
  private stderrTail = '';
  private exitError: RuntimeCrashedError | null = null;
  private closing = false;
  private readonly jobs = new Map<string, JobWaiter>();
  /** Finished notifications that arrived before runJob registered its waiter. */
  private readonly early = new Map<string, JobFinished>();
  private readonly exitListeners = new Set<(e: RuntimeCrashedError) => void>();
  private readonly exited: Promise<void>;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly conn: MessageConnection,
    tailChars: number,
  ) {
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      this.stderrTail = (this.stderrTail + s).slice(-tailChars);
    });
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        if (!this.closing) {
          const err = new RuntimeCrashedError(code, signal, this.stderrTail);
          this.exitError = err;
          for (const w of this.jobs.values()) w.reject(err);
          this.jobs.clear();
          for (const l of this.exitListeners) l(err);
        }
        this.conn.dispose();
        resolve();
      });
    });
    conn.onNotification(jobProgress, (p) => this.jobs.get(p.job_id)?.onProgress?.(p));
    conn.onNotification(jobFinished, (f) => {
      const w = this.jobs.get(f.job_id);
      if (!w) {
        this.early.set(f.job_id, f);
        return;
      }
      this.jobs.delete(f.job_id);
      w.resolve(f);
    });
    conn.onError(() => {
      /* framing errors surface as rejected requests or as the exit above */
    });
    conn.listen();
  }

  /**
   * Find the runtime's python (building its environment when missing, which can take minutes:
   * `onProgress` reports it, `signal` stops waiting), then start() it.
   */
  static async launch(
    opts: Partial<RuntimeClientOptions> & { onProgress?: (p: PythonEnvProgress) => void; signal?: AbortSignal } = {},
  ): Promise<RuntimeClient> {
    const { onProgress, signal, ...rest } = opts;
    const python = rest.python ?? (await findPython({ ...(onProgress ? { onProgress } : {}), ...(signal ? { signal } : {}) }));
    return RuntimeClient.start({ ...rest, python });
  }

  /** Spawn `<python> -m delineate_runtime serve` with the runtime's source on PYTHONPATH. */
  static start(opts: RuntimeClientOptions): RuntimeClient {
    return RuntimeClient.startCommand(opts.python, ['-m', 'delineate_runtime', 'serve'], {
      cwd: runtimeRoot(),
      env: { ...runtimeEnv(), ...opts.env },
      ...(opts.stderrTailChars ? { stderrTailChars: opts.stderrTailChars } : {}),
    });
  }

  /**
   * Speak the protocol with any command whose stdio is the runtime's (e.g. `ssh host python -m
   * delineate_runtime serve` for a training server): same framing, jobs and crash detection.
   */
  static startCommand(command: string, args: string[], opts: { cwd?: string; env?: Record<string, string>; stderrTailChars?: number } = {}): RuntimeClient {
    const child = spawn(command, args, {
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      windowsHide: true,
    });
    const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
    return new RuntimeClient(child, conn, opts.stderrTailChars ?? 4000);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The crash, once the child has died without close(); null while it runs. */
  get crash(): RuntimeCrashedError | null {
    return this.exitError;
  }

  onCrash(listener: (e: RuntimeCrashedError) => void): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  async request<P, R>(type: RequestType<P, R, void> | RequestType0<R, void>, params?: P): Promise<R> {
    if (this.exitError) throw this.exitError;
    const crashed = new Promise<never>((_, reject) => {
      const off = this.onCrash((e) => {
        off();
        reject(e);
      });
      void this.exited.then(off);
    });
    try {
      const sent = params === undefined ? this.conn.sendRequest(type as RequestType0<R, void>) : this.conn.sendRequest(type as RequestType<P, R, void>, params);
      return await Promise.race([sent, crashed]);
    } catch (e) {
      if (e instanceof ResponseError) throw new RuntimeRequestError(type.method, e.code, e.message, e.data);
      throw this.exitError ?? e;
    }
  }

  /** Send a raw method name (for callers that build requests dynamically, and for tests). */
  async call(method: string, params?: unknown): Promise<unknown> {
    if (this.exitError) throw this.exitError;
    try {
      return await (params === undefined ? this.conn.sendRequest(method) : this.conn.sendRequest(method, params));
    } catch (e) {
      if (e instanceof ResponseError) throw new RuntimeRequestError(method, e.code, e.message, e.data);
      throw this.exitError ?? e;
    }
  }

  info(): Promise<RuntimeInfo> {
    return this.request(runtimeInfo);
  }

  /**
   * Start a job with `type`, wait for it to finish. Resolves with the job's result;
   * rejects with RuntimeRequestError when the job fails, with an AbortError when cancelled.
   */
  async runJob<P>(
    type: RequestType<P, JobStarted, void>,
    params: P,
    opts: { onProgress?: (p: JobProgress) => void; signal?: AbortSignal } = {},
  ): Promise<unknown> {
    const started = await this.request(type, params);
    const finished = await new Promise<JobFinished>((resolve, reject) => {
      const early = this.early.get(started.job_id);
      if (early) {
        this.early.delete(started.job_id);
        resolve(early);
        return;
      }
      const waiter: JobWaiter = { resolve, reject };
      if (opts.onProgress) waiter.onProgress = opts.onProgress;
      this.jobs.set(started.job_id, waiter);
      if (this.exitError) reject(this.exitError);
      opts.signal?.addEventListener('abort', () => void this.request(jobCancel, { job_id: started.job_id }).catch(() => undefined), { once: true });
    });
    if (finished.state === 'succeeded') return finished.result;
    if (finished.state === 'cancelled') {
      const e = new Error(`${type.method} cancelled`);
      e.name = 'AbortError';
      throw e;
    }
    throw new RuntimeRequestError(type.method, -32000, finished.error?.message ?? `job ${finished.state}`, finished.error);
  }

  /** Polite stop: `shutdown`, then `exit`; kill if it does not go within `graceMs`. */
  async close(graceMs = 5000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.closing = true;
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      await Promise.race([this.request(shutdown).then(() => this.conn.sendNotification('exit')), this.exited]);
    } catch {
      this.child.kill('SIGKILL');
    }
    await this.exited;
    clearTimeout(timer);
  }
}
