/**
 * Node client of the Python runtime: spawns `<python> -m delineate_runtime serve` and speaks
 * JSON-RPC 2.0 over its stdio (Content-Length framing, via vscode-jsonrpc). Runtime: node.
 *
 * Long work runs as runtime jobs: `runJob` starts one, forwards its `job.progress`
 * notifications, resolves with the `job.finished` result, and cancels the job when the
 * caller's AbortSignal fires. If the child dies, every pending request and job is rejected
 * with a RuntimeCrashedError that carries the exit code/signal and the tail of its stderr.
 *
 * A child that is alive but broken is treated the same way, because otherwise every later
 * request would wait forever with nothing reported: when it writes anything on stdout that
 * is not a protocol frame (RuntimeProtocolError; see frame-validator.ts) or stops answering
 * (RuntimeHungError; deadlines in runtime-liveness.ts), the client rejects everything
 * pending with a plain sentence and kills the child. A client never restarts its child:
 * whoever holds it replaces a client whose `crash` is set (RuntimeLauncher does).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { Transform } from 'node:stream';
import {
  createMessageConnection,
  ResponseError,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
  type RequestType,
  type RequestType0,
} from 'vscode-jsonrpc/node.js';
import { FrameValidator, ProtocolViolation } from './frame-validator.js';
import { findPython, runtimeEnv, runtimeRoot, type PythonEnvProgress } from './python-path.node.js';
import { checkLiveness, DEFAULT_DEADLINES, tickMs, type RuntimeDeadlines } from './runtime-liveness.js';
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

/** The last lines of the child's stderr, for a one-line report (often a Python traceback). */
const lastLines = (stderrTail: string): string => (stderrTail.trim() ? `: ${stderrTail.trim().split('\n').slice(-3).join(' | ')}` : '');

/**
 * The runtime child is gone: it exited, or the client killed it because it was broken (the
 * subclasses say how). Either way nothing it was doing will finish; a new child must start.
 */
export class RuntimeCrashedError extends Error {
  constructor(
    readonly code: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stderrTail: string,
    message = `The Python runtime stopped unexpectedly (${signal ? `signal ${signal}` : `exit code ${code}`})${lastLines(stderrTail)}`,
  ) {
    super(message);
    this.name = 'RuntimeCrashedError';
  }
}

/** The child wrote something on stdout that is not a protocol frame; the client killed it. */
export class RuntimeProtocolError extends RuntimeCrashedError {
  constructor(
    readonly problem: string,
    stderrTail: string,
  ) {
    super(null, null, stderrTail, `The Python runtime wrote something that is not a protocol message: ${problem}. It was stopped${lastLines(stderrTail)}`);
    this.name = 'RuntimeProtocolError';
  }
}

/** The child answered nothing within its deadline (see runtime-liveness.ts); the client killed it. */
export class RuntimeHungError extends RuntimeCrashedError {
  constructor(
    readonly waitedMs: number,
    readonly waitingFor: string,
    stderrTail: string,
  ) {
    super(
      null,
      null,
      stderrTail,
      `The Python runtime stopped answering (no reply in ${Math.round(waitedMs / 100) / 10} s while waiting for ${waitingFor}). It was stopped${lastLines(stderrTail)}`,
    );
    this.name = 'RuntimeHungError';
  }
}

/** A JSON-RPC error answer of the runtime (bad params, unknown method, failed job). */
export class RuntimeRequestError extends Error {
  constructor(
    readonly method: string,
    readonly code: number,
    /** The runtime's own words, without the protocol method name (what a user is shown). */
    readonly reason: string,
    readonly data?: unknown,
  ) {
    super(`${method}: ${reason}`);
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
  /** When the child counts as hung (DEFAULT_DEADLINES: minutes, for real work; tests use less). */
  deadlines?: Partial<RuntimeDeadlines>;
  /** The largest message accepted from the child (its answers are small: results live in files). */
  maxMessageBytes?: number;
}

type ChannelOptions = Pick<RuntimeClientOptions, 'stderrTailChars' | 'deadlines' | 'maxMessageBytes'>;

const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** Probes liveness while a job runs: a quick request in the contract that changes nothing. */
const PROBE_METHOD = 'job.list';

interface JobWaiter {
  onProgress?: (p: JobProgress) => void;
  resolve: (f: JobFinished) => void;
  reject: (e: Error) => void;
}

export class RuntimeClient {
  private stderrTail = '';
  /** Why the child is gone (exited, or killed as broken); null while it serves. */
  private failure: RuntimeCrashedError | null = null;
  /** Rejects with `failure` the moment it is set: every pending request races it. */
  private readonly failed: Promise<never>;
  private rejectFailed: (e: RuntimeCrashedError) => void = () => undefined;
  private closing = false;
  private readonly jobs = new Map<string, JobWaiter>();
  /** Finished notifications that arrived before runJob registered its waiter. */
  private readonly early = new Map<string, JobFinished>();
  private readonly exitListeners = new Set<(e: RuntimeCrashedError) => void>();
  private readonly exited: Promise<void>;
  private readonly conn: MessageConnection;
  // What the watchdog looks at (runtime-liveness.ts).
  private readonly deadlines: RuntimeDeadlines;
  private readonly pending = new Map<number, { method: string; sentAt: number }>();
  private nextRequest = 0;
  private heardAt: number | null = null;
  private firstHeardAt: number | null = null;
  private probeSentAt: number | null = null;
  private readonly watchdog: NodeJS.Timeout;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    opts: ChannelOptions,
  ) {
    const tailChars = opts.stderrTailChars ?? 4000;
    this.deadlines = { ...DEFAULT_DEADLINES, ...opts.deadlines };
    this.failed = new Promise<never>((_, reject) => (this.rejectFailed = reject));
    this.failed.catch(() => undefined); // observed through the races below, not here
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      this.stderrTail = (this.stderrTail + s).slice(-tailChars);
    });

    // stdout -> frame check -> vscode-jsonrpc. After a fault nothing more from this child is
    // believed: its bytes are dropped while it is being killed.
    const validator = new FrameValidator({ maxMessageBytes: opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES });
    const checked = new Transform({
      transform: (chunk: Buffer, _encoding, done) => {
        if (this.failure) return done();
        try {
          validator.push(chunk);
        } catch (e) {
          this.fail(new RuntimeProtocolError(e instanceof ProtocolViolation ? e.message : String(e), this.stderrTail));
          return done();
        }
        this.heardAt = Date.now();
        this.firstHeardAt ??= this.heardAt;
        done(null, chunk);
      },
    });
    child.stdout.pipe(checked);
    const reader = new StreamMessageReader(checked);
    // Well-framed bytes that do not decode (not JSON): the same fault as a stray line.
    reader.onError((e) => this.fail(new RuntimeProtocolError(`a message that does not decode (${e.message.slice(0, 200)})`, this.stderrTail)));
    this.conn = createMessageConnection(reader, new StreamMessageWriter(child.stdin));

    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        if (!this.closing) this.fail(new RuntimeCrashedError(code, signal, this.stderrTail));
        this.conn.dispose();
        resolve();
      });
      // The command could not be started at all (e.g. no such file): no 'exit' follows.
      child.on('error', (e) => {
        if (child.pid !== undefined) return;
        this.fail(new RuntimeCrashedError(null, null, this.stderrTail, `The Python runtime could not be started: ${e.message}`));
        this.conn.dispose();
        resolve();
      });
    });
    this.conn.onNotification(jobProgress, (p) => this.jobs.get(p.job_id)?.onProgress?.(p));
    this.conn.onNotification(jobFinished, (f) => {
      const w = this.jobs.get(f.job_id);
      if (!w) {
        this.early.set(f.job_id, f);
        return;
      }
      this.jobs.delete(f.job_id);
      w.resolve(f);
    });
    this.conn.onError(() => {
      /* reader faults are handled above; a failed write means the child is gone: its exit reports it */
    });
    this.conn.listen();
    this.watchdog = setInterval(() => this.checkLiveness(), tickMs(this.deadlines));
    this.watchdog.unref(); // never keeps the app (or a test run) alive on its own
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
    const { python, env, ...channel } = opts;
    return RuntimeClient.startCommand(python, ['-m', 'delineate_runtime', 'serve'], {
      ...channel,
      cwd: runtimeRoot(),
      env: { ...runtimeEnv(), ...env },
    });
  }

  /**
   * Speak the protocol with any command whose stdio is the runtime's (e.g. `ssh host python -m
   * delineate_runtime serve` for a training server): same framing, jobs and crash detection.
   */
  static startCommand(command: string, args: string[], opts: ChannelOptions & { cwd?: string; env?: Record<string, string> } = {}): RuntimeClient {
    const { cwd, env, ...channel } = opts;
    const child = spawn(command, args, {
      ...(cwd ? { cwd } : {}),
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
      windowsHide: true,
    });
    return new RuntimeClient(child, channel);
  }

  /**
   * The child is gone or broken: reject everything that waits on it, tell the crash
   * listeners, and make sure it is dead (a hung or babbling child would otherwise linger).
   * The first cause wins: the exit that follows a kill is not reported again.
   */
  private fail(err: RuntimeCrashedError): void {
    if (this.failure) return;
    this.failure = err;
    clearInterval(this.watchdog);
    this.rejectFailed(err);
    for (const w of this.jobs.values()) w.reject(err);
    this.jobs.clear();
    for (const l of this.exitListeners) l(err);
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  private checkLiveness(): void {
    if (this.failure || this.closing) return;
    const oldest = this.pending.values().next();
    const verdict = checkLiveness(
      {
        now: Date.now(),
        heardAt: this.heardAt,
        firstHeardAt: this.firstHeardAt,
        oldestRequest: oldest.done ? null : oldest.value,
        awaitingJobs: this.jobs.size > 0,
        probeSentAt: this.probeSentAt,
      },
      this.deadlines,
    );
    if (verdict.kind === 'hung') this.fail(new RuntimeHungError(verdict.waitedMs, verdict.waitingFor, this.stderrTail));
    else if (verdict.kind === 'probe') this.probe();
  }

  /** Any answer to the probe (even an error) shows the child still reads and answers. */
  private probe(): void {
    const sentAt = Date.now();
    this.probeSentAt = sentAt;
    const answered = () => {
      if (this.probeSentAt === sentAt) this.probeSentAt = null;
    };
    try {
      this.conn.sendRequest(PROBE_METHOD).then(answered, (e: unknown) => {
        if (e instanceof ResponseError) answered();
      });
    } catch {
      /* the connection is closing: the exit reports it */
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Why the child is gone (it died, or was killed as broken) unless close() ended it; null while it serves. */
  get crash(): RuntimeCrashedError | null {
    return this.failure;
  }

  onCrash(listener: (e: RuntimeCrashedError) => void): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  request<P, R>(type: RequestType<P, R, void> | RequestType0<R, void>, params?: P): Promise<R> {
    return this.send(type.method, params) as Promise<R>;
  }

  /** Send a raw method name (for callers that build requests dynamically, and for tests). */
  call(method: string, params?: unknown): Promise<unknown> {
    return this.send(method, params);
  }

  /** One request, under the request deadline; rejected at once when the child fails. */
  private async send(method: string, params: unknown): Promise<unknown> {
    if (this.failure) throw this.failure;
    const id = this.nextRequest++;
    this.pending.set(id, { method, sentAt: Date.now() });
    try {
      const sent = params === undefined ? this.conn.sendRequest(method) : this.conn.sendRequest(method, params);
      return await Promise.race([sent, this.failed]);
    } catch (e) {
      if (e instanceof ResponseError) throw new RuntimeRequestError(method, e.code, e.message, e.data);
      throw this.failure ?? e;
    } finally {
      this.pending.delete(id);
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
      if (this.failure) reject(this.failure);
      const cancel = () => void this.request(jobCancel, { job_id: started.job_id }).catch(() => undefined);
      // Aborted while the job was being started: an 'abort' listener added now would never fire.
      if (opts.signal?.aborted) cancel();
      else opts.signal?.addEventListener('abort', cancel, { once: true });
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
