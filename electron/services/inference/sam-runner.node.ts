/**
 * The inference workers seen from the services: the same calls as SamEngine, run off the
 * event loop, the encoder in a child process and the decoder in a worker thread. Runtime: node.
 *
 * A worker that dies (out of memory, a native crash) rejects what was pending and is
 * restarted on the next call.
 */
import { setPriority } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { forkStarter, startModuleWorker, type ProcessStarter } from '../worker-thread.node.js';
import type { DecodeRequest, DecodeResult, EmbedResult, Embedding, ModelFiles } from './sam-engine.node.js';
import type { ProviderChoice } from './execution-providers.js';
import { defaultThreads } from './sam-threads.js';
import type { WorkerReply, WorkerRequest } from './sam-worker-protocol.js';
import type { RgbImage } from './sam-window.js';

/** Niceness of the encoder process (0 normal, 19 lowest; Windows maps it to below normal). */
const ENCODER_NICENESS = 10;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type Pending = { resolve: (v: { value: unknown; ms: number }) => void; reject: (e: Error) => void };

export class SamWorkerError extends Error {
  constructor(
    message: string,
    readonly code?: 'no_embedding' | 'preempted',
  ) {
    super(message);
    this.name = 'SamWorkerError';
  }
}

/** How a slot talks to its worker, whichever kind it is. */
interface Endpoint {
  post(msg: WorkerRequest, transfer: ArrayBuffer[]): void;
  /** Stop it now (a process is killed; a thread is terminated). */
  stop(): Promise<void>;
}

/**
 * One worker and the calls waiting on it; restarted on the next call after it stops.
 * 'process': a child process, for work that may be stopped mid-run (killing a process is
 * safe; terminating a thread inside an onnxruntime run aborts the whole app). 'thread': a
 * worker thread, cheaper to talk to, stopped only when idle or at close.
 */
class WorkerSlot {
  private endpoint: Endpoint | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly threads: number | undefined,
    private readonly kind: 'thread' | 'process',
    private readonly startProcess: ProcessStarter = forkStarter,
  ) {}

  get busy(): boolean {
    return this.pending.size > 0;
  }

  private ensure(): Endpoint {
    if (this.endpoint) return this.endpoint;
    const url = new URL('./sam-worker.node.js', import.meta.url);
    const onReply = (r: WorkerReply): void => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (r.ok) p.resolve({ value: r.value, ms: r.ms });
      else p.reject(new SamWorkerError(r.message, r.code));
    };
    let endpoint: Endpoint;
    const fail = (e: Error): void => {
      if (this.endpoint !== endpoint) return;
      this.endpoint = null;
      for (const p of this.pending.values()) p.reject(new SamWorkerError(`inference worker stopped: ${e.message}`));
      this.pending.clear();
    };
    if (this.kind === 'process') {
      const child = this.startProcess(url, { threads: this.threads });
      // Below the app's own priority: on a machine with few cores a click (decoder thread, in
      // this process) and the UI come first; the encoder takes whatever CPU is left over.
      try {
        if (child.pid !== undefined) setPriority(child.pid, ENCODER_NICENESS);
      } catch {
        /* not allowed here (some sandboxes): it runs at normal priority */
      }
      child.onMessage((r) => onReply(r as WorkerReply));
      child.onExit((why) => fail(new Error(why)));
      endpoint = { post: (msg) => child.send(msg), stop: () => child.kill() };
    } else {
      const w: Worker = startModuleWorker(url, { threads: this.threads });
      w.on('message', onReply);
      w.on('error', fail);
      w.on('exit', (code) => fail(new Error(`exit code ${code}`)));
      endpoint = { post: (msg, transfer) => w.postMessage(msg, transfer), stop: () => w.terminate().then(() => undefined) };
    }
    this.endpoint = endpoint;
    return endpoint;
  }

  send(msg: DistributiveOmit<WorkerRequest, 'id'>, transfer: ArrayBuffer[] = []): Promise<{ value: unknown; ms: number }> {
    const e = this.ensure();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      e.post({ ...msg, id } as WorkerRequest, transfer);
    });
  }

  /** Stop what runs now: its callers get `error`; the next call starts a fresh worker. Only for 'process' slots. */
  async interrupt(error: SamWorkerError): Promise<void> {
    if (this.kind !== 'process') throw new Error('a worker thread cannot be stopped inside a native run; use a process slot');
    const e = this.endpoint;
    this.endpoint = null;
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
    await e?.stop();
  }

  get started(): boolean {
    return this.endpoint !== null;
  }

  async close(): Promise<void> {
    const e = this.endpoint;
    this.endpoint = null;
    await e?.stop();
  }
}

/**
 * Two workers, so a click never waits for an encoder run: the encoder worker computes
 * embeddings (seconds for vit_b), the decoder worker answers prompts (milliseconds) from the
 * embeddings it holds. An embedding computed in the background (the next slices) gives way
 * to one for the slice on screen: the encoder worker is stopped and restarted rather than
 * left to finish work nobody is waiting for.
 */
export class SamRunner {
  private readonly encoder: WorkerSlot;
  private readonly decoder: WorkerSlot;
  /** Embeds sent to the encoder worker and not answered yet. */
  private readonly embedsInFlight = new Map<string, { background: boolean }>();
  /** How many background embeds were stopped for a foreground one (sam.status, tests). */
  preempted = 0;

  constructor(threads?: number, startProcess: ProcessStarter = forkStarter) {
    const all = threads ?? defaultThreads();
    // The encoder runs in a process so that stale work can be stopped mid-run (see WorkerSlot).
    this.encoder = new WorkerSlot(all, 'process', startProcess);
    // The decoder uses every core too: a click is what the user waits for, and the encoder
    // process runs niced, so the decoder's threads win the cores while it runs. Half the
    // cores made a vit_b click 1.8x slower on 2 cores (60 vs 33 ms, one thread vs two).
    this.decoder = new WorkerSlot(all, 'thread');
  }

  async load(files: ModelFiles, withEncoder = false): Promise<void> {
    await Promise.all([this.decoder.send({ op: 'load', files, withEncoder: false }), withEncoder ? this.encoder.send({ op: 'load', files, withEncoder: true }) : null]);
  }

  /**
   * Compute an embedding. A foreground one (the slice on screen) stops background embeds of
   * other slices that are running or queued; their callers get a SamWorkerError 'preempted'.
   */
  async embed(files: ModelFiles, image: RgbImage, embeddingKey: string, opts: { background?: boolean } = {}): Promise<{ embedding: Embedding; ms: number; provider: ProviderChoice }> {
    const background = opts.background === true;
    if (!background) {
      const stale = [...this.embedsInFlight].some(([k, e]) => e.background && k !== embeddingKey);
      if (stale) {
        this.preempted++;
        this.embedsInFlight.clear();
        await this.encoder.interrupt(new SamWorkerError('stopped: the slice on screen comes first', 'preempted'));
      }
    }
    const entry = { background };
    this.embedsInFlight.set(embeddingKey, entry);
    try {
      const r = await this.encoder.send({ op: 'embed', files, image, embeddingKey });
      const { provider, ...embedding } = r.value as EmbedResult;
      return { embedding, ms: r.ms, provider };
    } finally {
      if (this.embedsInFlight.get(embeddingKey) === entry) this.embedsInFlight.delete(embeddingKey);
    }
  }

  /** Someone on screen now waits for this embed, started in the background: it is not stale any more. */
  promote(embeddingKey: string): void {
    const e = this.embedsInFlight.get(embeddingKey);
    if (e) e.background = false;
  }

  /**
   * Stop background embeds that run or wait in the encoder worker (the user moved away from
   * the slices they were for); their callers get 'preempted'. Nothing is stopped while a
   * foreground embed is among them. Returns whether anything was stopped.
   */
  async stopBackground(): Promise<boolean> {
    const inFlight = [...this.embedsInFlight.values()];
    if (inFlight.length === 0 || inFlight.some((e) => !e.background)) return false;
    this.preempted++;
    this.embedsInFlight.clear();
    await this.encoder.interrupt(new SamWorkerError('stopped: the user moved on', 'preempted'));
    return true;
  }

  /** Decode; `embedding()` supplies the embedding when the decoder worker does not hold it yet. */
  async decode(files: ModelFiles, embeddingKey: string, embedding: () => Promise<Embedding>, req: DecodeRequest): Promise<DecodeResult & { ms: number }> {
    try {
      const r = await this.decoder.send({ op: 'decode', files, embeddingKey, req });
      return { ...(r.value as DecodeResult), ms: r.ms };
    } catch (e) {
      if (!(e instanceof SamWorkerError) || e.code !== 'no_embedding') throw e;
      const r = await this.decoder.send({ op: 'decode', files, embeddingKey, embedding: await embedding(), req });
      return { ...(r.value as DecodeResult), ms: r.ms };
    }
  }

  async release(key: string): Promise<void> {
    await Promise.all([this.encoder.started ? this.encoder.send({ op: 'release', key }) : null, this.decoder.started ? this.decoder.send({ op: 'release', key }) : null]);
  }

  async close(): Promise<void> {
    await Promise.all([this.encoder.close(), this.decoder.close()]);
  }
}
