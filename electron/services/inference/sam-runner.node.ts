/**
 * The inference worker seen from the services: the same calls as SamEngine, run off the
 * event loop. Runtime: node.
 *
 * A worker that dies (out of memory, a native crash) rejects what was pending and is
 * restarted on the next call.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { DecodeRequest, DecodeResult, Embedding, ModelFiles } from './sam-engine.node.js';
import type { WorkerReply, WorkerRequest } from './sam-worker-protocol.js';
import type { RgbImage } from './sam-window.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type Pending = { resolve: (v: { value: unknown; ms: number }) => void; reject: (e: Error) => void };

export class SamWorkerError extends Error {
  constructor(
    message: string,
    readonly code?: 'no_embedding',
  ) {
    super(message);
    this.name = 'SamWorkerError';
  }
}

/**
 * Start the worker: the compiled .js next to this file; from source (tests, dev host under
 * tsx) a small bootstrap registers tsx's loader in the worker first, because Node 20 does not
 * carry `--import tsx` hooks into worker threads.
 */
function startWorker(workerData: unknown): Worker {
  const js = new URL('./sam-worker.node.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return new Worker(js, { workerData });
  const ts = new URL('./sam-worker.node.ts', import.meta.url).href;
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(ts)}); })`;
  return new Worker(boot, { eval: true, workerData });
}

export class SamRunner {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly threads?: number) {}

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const w = startWorker({ threads: this.threads });
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

  private send(msg: DistributiveOmit<WorkerRequest, 'id'>, transfer: ArrayBuffer[] = []): Promise<{ value: unknown; ms: number }> {
    const w = this.ensure();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ ...msg, id }, transfer);
    });
  }

  async load(files: ModelFiles, withEncoder = false): Promise<void> {
    await this.send({ op: 'load', files, withEncoder });
  }

  async embed(files: ModelFiles, image: RgbImage, embeddingKey: string): Promise<{ embedding: Embedding; ms: number }> {
    const r = await this.send({ op: 'embed', files, image, embeddingKey });
    return { embedding: r.value as Embedding, ms: r.ms };
  }

  /** Decode; `embedding()` supplies the embedding when the worker no longer holds it. */
  async decode(files: ModelFiles, embeddingKey: string, embedding: () => Promise<Embedding>, req: DecodeRequest): Promise<DecodeResult & { ms: number }> {
    try {
      const r = await this.send({ op: 'decode', files, embeddingKey, req });
      return { ...(r.value as DecodeResult), ms: r.ms };
    } catch (e) {
      if (!(e instanceof SamWorkerError) || e.code !== 'no_embedding') throw e;
      const r = await this.send({ op: 'decode', files, embeddingKey, embedding: await embedding(), req });
      return { ...(r.value as DecodeResult), ms: r.ms };
    }
  }

  async release(key: string): Promise<void> {
    if (this.worker) await this.send({ op: 'release', key });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    await w?.terminate();
  }
}
