/**
 * The inference workers seen from the services: the same calls as SamEngine, run off the
 * event loop, encoder and decoder in separate threads. Runtime: node.
 *
 * A worker that dies (out of memory, a native crash) rejects what was pending and is
 * restarted on the next call.
 */
import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../worker-thread.node.js';
import type { DecodeRequest, DecodeResult, Embedding, ModelFiles } from './sam-engine.node.js';
import { defaultThreads } from './sam-threads.js';
import type { WorkerReply, WorkerRequest } from './sam-worker-protocol.js';
import type { RgbImage } from './sam-window.js';

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

/** One worker thread and the calls waiting on it; restarted on the next call after it stops. */
class WorkerSlot {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly threads: number | undefined) {}

  get busy(): boolean {
    return this.pending.size > 0;
  }

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const w = startModuleWorker(new URL('./sam-worker.node.js', import.meta.url), { threads: this.threads });
    w.on('message', (r: WorkerReply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (r.ok) p.resolve({ value: r.value, ms: r.ms });
      else p.reject(new SamWorkerError(r.message, r.code));
    });
    const fail = (e: Error): void => {
      if (this.worker !== w) return;
      this.worker = null;
      for (const p of this.pending.values()) p.reject(new SamWorkerError(`inference worker stopped: ${e.message}`));
      this.pending.clear();
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`exit code ${code}`)));
    this.worker = w;
    return w;
  }

  send(msg: DistributiveOmit<WorkerRequest, 'id'>, transfer: ArrayBuffer[] = []): Promise<{ value: unknown; ms: number }> {
    const w = this.ensure();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ ...msg, id }, transfer);
    });
  }

  /** Stop what runs now: its callers get `error`; the next call starts a fresh worker. */
  async interrupt(error: SamWorkerError): Promise<void> {
    const w = this.worker;
    this.worker = null;
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
    await w?.terminate();
  }

  get started(): boolean {
    return this.worker !== null;
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    await w?.terminate();
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

  constructor(threads?: number) {
    const all = threads ?? defaultThreads();
    this.encoder = new WorkerSlot(all);
    // The decoder is small (about 1 GMAC): one or two threads, leaving the rest to the encoder.
    this.decoder = new WorkerSlot(Math.max(1, Math.floor(all / 2)));
  }

  async load(files: ModelFiles, withEncoder = false): Promise<void> {
    await Promise.all([this.decoder.send({ op: 'load', files, withEncoder: false }), withEncoder ? this.encoder.send({ op: 'load', files, withEncoder: true }) : null]);
  }

  /**
   * Compute an embedding. A foreground one (the slice on screen) stops background embeds of
   * other slices that are running or queued; their callers get a SamWorkerError 'preempted'.
   */
  async embed(files: ModelFiles, image: RgbImage, embeddingKey: string, opts: { background?: boolean } = {}): Promise<{ embedding: Embedding; ms: number }> {
    const background = opts.background === true;
    if (!background) {
      const stale = [...this.embedsInFlight].some(([k, e]) => e.background && k !== embeddingKey);
      if (stale) {
        this.preempted++;
        this.embedsInFlight.clear();
        await this.encoder.interrupt(new SamWorkerError('stopped: the slice on screen comes first', 'preempted'));
      }
    }
    this.embedsInFlight.set(embeddingKey, { background });
    try {
      const r = await this.encoder.send({ op: 'embed', files, image, embeddingKey });
      return { embedding: r.value as Embedding, ms: r.ms };
    } finally {
      if (this.embedsInFlight.get(embeddingKey)?.background === background) this.embedsInFlight.delete(embeddingKey);
    }
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
