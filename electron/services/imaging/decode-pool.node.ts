/**
 * Frame decoding in worker threads, so the host's event loop stays free to answer other
 * requests (cached slices, masks, SAM clicks) while slices decode: a JPEG 2000 CT slice
 * takes ~50 ms on a laptop core, and on the event loop every request behind it waited.
 *
 * One job per worker at a time; the rest wait here in arrival order, so the worker that
 * frees first takes the next job (no job stuck behind a slow one while another worker
 * idles). A worker that dies fails its job with a FrameDecodeError and is started again on
 * the next job. Idle workers do not keep the process alive.
 *
 * Runtime: Node.
 */
import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import type { PixelFrame } from '../../contract/api.js';
import { startModuleWorker } from '../worker-thread.node.js';
import { pickWorker, RecentHolders } from './decode-schedule.js';
import { type DecodeReply, type DecodeRequest, type FrameDecoder, FrameDecodeError, type FrameJob, fromFailure } from './frame-job.js';

const WORKER_MODULE = new URL('./decode-worker.node.js', import.meta.url);

/**
 * Workers by default: one core is left to the event loop and, above all, to the page that
 * draws the slices (on two cores, two decode workers starved the renderer and it skipped
 * more slices: render bench), at least 1, at most 4 (beyond that the frame cache and the
 * renderer are the limit, not decoding).
 */
export function defaultDecodeWorkers(cores = os.availableParallelism()): number {
  return Math.max(1, Math.min(4, cores - 1));
}

interface Job {
  job: FrameJob;
  resolve: (f: PixelFrame) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker | null;
  running: (Job & { id: number }) | null;
}

export interface DecodePoolOptions {
  workers?: number;
  /** Parsed files each worker keeps (bytes). */
  parsedBytesPerWorker?: number;
}

export class DecodePool implements FrameDecoder {
  private readonly slots: Slot[];
  private readonly waiting: Job[] = [];
  private readonly holders = new RecentHolders();
  private readonly parsedBytes: number;
  private nextId = 1;
  private closed = false;

  constructor(options: DecodePoolOptions = {}) {
    const n = Math.max(1, Math.floor(options.workers ?? defaultDecodeWorkers()));
    this.slots = Array.from({ length: n }, () => ({ worker: null, running: null }));
    this.parsedBytes = options.parsedBytesPerWorker ?? Math.floor((256 * 1024 * 1024) / n);
  }

  get size(): number {
    return this.slots.length;
  }

  decode(job: FrameJob): Promise<PixelFrame> {
    if (this.closed) return Promise.reject(new FrameDecodeError('the decoder is closed'));
    return new Promise<PixelFrame>((resolve, reject) => {
      this.waiting.push({ job, resolve, reject });
      this.pump();
    });
  }

  warm(): void {
    if (this.closed) return;
    this.slots.forEach((_, i) => this.workerOf(i));
  }

  clear(): void {
    this.holders.clear();
    for (const s of this.slots) s.worker?.postMessage({ id: 0, op: 'clear' } satisfies DecodeRequest);
  }

  /** Stops the workers; what runs or waits fails. */
  async close(): Promise<void> {
    this.closed = true;
    const stopped = new FrameDecodeError('the decoder was closed');
    for (const j of this.waiting.splice(0)) j.reject(stopped);
    await Promise.all(
      this.slots.map(async (s) => {
        const { worker, running } = s;
        s.worker = null;
        s.running = null;
        running?.reject(stopped);
        await worker?.terminate();
      }),
    );
  }

  private pump(): void {
    while (this.waiting.length > 0) {
      const idle = this.slots.flatMap((s, i) => (s.running ? [] : [i]));
      if (idle.length === 0) return;
      const next = this.waiting.shift()!;
      const i = pickWorker(idle, this.holders.get(next.job.fileKey));
      const worker = this.workerOf(i);
      const id = this.nextId++;
      this.slots[i]!.running = { ...next, id };
      this.holders.set(next.job.fileKey, i);
      worker.ref(); // a job in flight keeps the process alive, as any pending I/O does
      worker.postMessage({ id, op: 'decode', job: next.job } satisfies DecodeRequest);
    }
  }

  private workerOf(i: number): Worker {
    const slot = this.slots[i]!;
    if (slot.worker) return slot.worker;
    const w = startModuleWorker(WORKER_MODULE, { parsedBytes: this.parsedBytes });
    w.on('message', (r: DecodeReply) => {
      const job = slot.running;
      if (!job || r.id !== job.id) return; // a 'clear' acknowledgement
      slot.running = null;
      w.unref();
      if (r.ok) job.resolve(r.frame!);
      else job.reject(fromFailure(r.failure));
      this.pump();
    });
    const stopped = (why: string): void => {
      if (slot.worker !== w) return;
      slot.worker = null;
      this.holders.forget(i);
      const job = slot.running;
      slot.running = null;
      job?.reject(new FrameDecodeError(`the decoder thread stopped (${why})`));
      this.pump();
    };
    w.on('error', (e) => stopped(e.message));
    w.on('exit', (code) => stopped(`exit code ${code}`));
    // After the listeners: adding a 'message' listener refs the worker again.
    w.unref();
    slot.worker = w;
    return w;
  }
}

let shared: DecodePool | null = null;

/**
 * The process's decode pool, shared by every open project (decoding depends on a file's
 * content only, and parsed files are cached by content hash). Started on first use.
 */
export function sharedDecodePool(): DecodePool {
  shared ??= new DecodePool();
  return shared;
}
