/**
 * The SAM half of the API: embeddings (cached on disk, computed in the inference worker) and
 * predictions with the project's active model (owned by the models service). Runtime: node,
 * no `electron`.
 *
 * It reads images through the project service (the same decoded pixels the viewer gets) and
 * renders them through the window the viewer shows before SAM sees them.
 */
import path from 'node:path';
import { encodeRle } from '../../contract/rle.js';
import { ApiError, type ImageDetail, type PixelFrame, type ProjectHandlers, type Result, type SamHandlers } from '../../contract/api.js';
import { describeChoice, providerName, type ProviderChoice } from './execution-providers.js';
import { EmbeddingCache, embeddingCacheDir, embeddingKey, type EntryExpectation, type StoreResult } from '../embedding-cache/embedding-cache.node.js';
import { samGrid } from '../embedding-cache/embedding-fit.js';
import type { InstalledModel, ModelManager } from '../models/model-manager.node.js';
import type { DecoderKind, Embedding, ModelFiles } from './sam-engine.node.js';
import { upsampleMask } from './mask-upsample.js';
import { SamRunner, SamWorkerError } from './sam-runner.node.js';
import type { ProcessStarter } from '../worker-thread.node.js';
import type { DisplayWindow } from './sam-window.js';
import { frameForSam } from './segment.js';

export const NO_MODEL_MESSAGE =
  'No SAM model is installed in this project. Add one under SAM models (right panel): import an official checkpoint ' +
  '(sam_vit_b_01ec64.pth, sam_vit_l_0b3195.pth or sam_vit_h_4b8939.pth — the download links are in the ' +
  "README of Meta's segment-anything project — or MobileSAM's mobile_sam.pt, about ten times faster on a CPU), " +
  'an encoder + decoder ONNX pair, or a Delineate model bundle folder. ' +
  'Manual annotation works without a model.';

export interface SamServiceOptions {
  /** Disk budget of the embedding cache per project (bytes). */
  cacheLimitBytes?: number;
  /** Threads for onnxruntime in the worker (default: the cores, up to 8). */
  threads?: number;
  /** Where cache repairs and failed cache writes are reported (default: console.warn). */
  log?: (message: string) => void;
  /** How the encoder's process is started (Electron passes utilityProcess; Node's fork otherwise). */
  startProcess?: ProcessStarter;
}

type Target = { imageId: number; frame: number; window: DisplayWindow | null };

/** A prediction made behind the user (propagation): the best mask, its score and low-res logits, and what it cost. */
export interface BehindPrediction {
  modelId: string;
  /** Row-major binary mask of the image's size. */
  mask: Uint8Array;
  iou: number;
  /** Low-res logits (lowResSize^2) to prompt the next slice with. */
  lowRes: Float32Array;
  lowResSize: number;
  /** Whether the embedding was already on disk; else the time it took to compute (ms, retries included). */
  cached: boolean;
  encodeMs: number;
  decodeMs: number;
  /** How many times a click's embedding stopped this one's (it was computed again after). */
  preempted: number;
}

/** How long work behind the user waits after giving way to a click before trying again. */
const YIELD_MS = 50;

/** An embedding and where it came from; `store` says whether a computed one reached the disk cache. */
type Loaded = { embedding: Embedding; fromDisk: boolean; store?: StoreResult };

const LOW_RES_KEEP = 64;

interface HeldLowRes {
  data: Float32Array;
  side: number;
  imageSize: number;
  imageId: number;
  frame: number;
  height: number;
  width: number;
}

export class SamService implements SamHandlers {
  private readonly runner: SamRunner;
  private caches = new Map<string, EmbeddingCache>();
  private readonly inflight = new Map<string, Promise<Loaded>>();
  /** Embedding dims each model (by files.key) produced in this session: a cached entry must match them. */
  private readonly shapes = new Map<string, number[]>();
  /** Low-res logits of recent candidates by handle, with what upsampling them needs. */
  private readonly lowRes = new Map<string, HeldLowRes>();
  private lowResCounter = 0;
  private queue: Target[] = [];
  private computing: { imageId: number; frame: number } | null = null;
  /** The execution providers and decoder graph of the last embed and click (sam.status). */
  private readonly ran: { encoder: ProviderChoice | null; decoder: ProviderChoice | null; decoderKind: DecoderKind | null } = { encoder: null, decoder: null, decoderKind: null };
  /** The slice a background embed is being computed for (the next slices), if any. */
  private computingBackground: { imageId: number; frame: number } | null = null;
  private lastEncodeMs: number | null = null;
  private background: Promise<void> | null = null;
  /** True while a background item is being looked up or embedded (it has left the queue). */
  private backgroundBusy = false;
  /** sam.prepare and sam.predict calls under way: work behind the user (predictBehind) waits for none. */
  private foregroundCalls = 0;
  private foregroundWaiters: (() => void)[] = [];
  /** Set by close(): work still under way must not start workers again. */
  private closed = false;

  constructor(
    private readonly project: ProjectHandlers,
    /** The open project's models (the models service owns them). */
    private readonly models: () => ModelManager,
    private readonly opts: SamServiceOptions = {},
  ) {
    this.runner = new SamRunner(opts.threads, opts.startProcess);
  }

  private projectPath(): string {
    const p = this.project['project.current']({}) as { path: string } | null;
    if (!p) throw new ApiError('no_project', 'Open or create a project first');
    return p.path;
  }

  private cache(): EmbeddingCache {
    const root = this.projectPath();
    let c = this.caches.get(root);
    if (!c) {
      c = new EmbeddingCache(embeddingCacheDir(root), this.opts.cacheLimitBytes ?? 2 * 1024 ** 3, { log: this.opts.log });
      this.caches.set(root, c);
    }
    return c;
  }

  private activeModel(): { model: InstalledModel; files: ModelFiles } {
    const mgr = this.models();
    const model = mgr.effectiveActive();
    if (!model) throw new ApiError('not_found', NO_MODEL_MESSAGE);
    return { model, files: mgr.files(model.id, 'auto') };
  }

  private async detail(imageId: number): Promise<ImageDetail> {
    return (await this.project['image.get']({ imageId })) as ImageDetail;
  }

  private keyOf(files: ModelFiles, d: ImageDetail, t: Target): string {
    return embeddingKey({ modelKey: files.key, imageSha256: d.sha256, frame: t.frame, window: t.window, photometric: d.photometric });
  }

  /** What a cached entry must match to be used for `d` with this model (a misfit is discarded and recomputed). */
  private expectation(files: ModelFiles, d: ImageDetail): EntryExpectation {
    return { origHeight: d.height, origWidth: d.width, grid: samGrid(files.preprocessing.image_size), dims: this.shapes.get(files.key) };
  }

  /** The embedding of `t`: from the worker's memory, the disk cache, or computed once (concurrent callers share it). */
  private embedding(
    files: ModelFiles,
    d: ImageDetail,
    t: Target,
    background = false,
  ): { key: string; cached: boolean; load: () => Promise<Loaded>; value: () => Promise<Embedding> } {
    const key = this.keyOf(files, d, t);
    const cache = this.cache();
    const cached = cache.has(key);
    const load = (): Promise<Loaded> => {
      const hit = cache.get(key, this.expectation(files, d));
      if (hit) return Promise.resolve({ embedding: { data: hit.data, dims: hit.dims }, fromDisk: true });
      let p = this.inflight.get(key);
      if (!p) {
        p = this.compute(files, d, t, key, background).finally(() => this.inflight.delete(key));
        this.inflight.set(key, p);
      } else if (!background) {
        this.runner.promote(key); // joined by a foreground caller: no longer stale work
      }
      return p;
    };
    return { key, cached, load, value: () => load().then((l) => l.embedding) };
  }

  private async compute(files: ModelFiles, d: ImageDetail, t: Target, key: string, background: boolean): Promise<Loaded> {
    const px = (await this.project['image.pixels']({ imageId: t.imageId, frame: t.frame })) as PixelFrame;
    // Closed while the pixels were read (work behind the user outlives a click): starting the
    // encoder now would leave a worker process running after close.
    if (this.closed) throw new ApiError('internal', 'SAM has been closed');
    const rgb = frameForSam(px, d.windows, t.window);
    this.computing = { imageId: t.imageId, frame: t.frame };
    if (background) this.computingBackground = this.computing;
    try {
      const { embedding, ms, provider } = await this.runner.embed(files, rgb, key, { background });
      this.lastEncodeMs = ms;
      this.ran.encoder = provider;
      this.models().speed.record(files.key, 'encode', ms, providerName(provider.provider));
      this.shapes.set(files.key, embedding.dims);
      // A failed cache write (full disk, read-only project) is logged by the cache and costs a
      // recompute later; this embedding is used from memory all the same.
      const store = this.cache().put({ key, data: embedding.data, dims: embedding.dims, origHeight: d.height, origWidth: d.width });
      return { embedding, fromDisk: false, store };
    } finally {
      this.computing = null;
      if (background) this.computingBackground = null;
    }
  }



  // ------------------------------------------------------------------ SAM

  'sam.prepare': SamHandlers['sam.prepare'] = (p) => this.inForeground(() => this.prepare(p));

  /** Run a call the user waits for; predictBehind does not start encoder work while one runs. */
  private async inForeground<T>(f: () => Promise<T>): Promise<T> {
    this.foregroundCalls++;
    try {
      return await f();
    } finally {
      if (--this.foregroundCalls === 0) for (const w of this.foregroundWaiters.splice(0)) w();
    }
  }

  private foregroundIdle(): Promise<void> {
    return this.foregroundCalls === 0 ? Promise.resolve() : new Promise((r) => this.foregroundWaiters.push(r));
  }

  private async prepare(p: Parameters<SamHandlers['sam.prepare']>[0]): Promise<Result<'sam.prepare'>> {
    const { model, files } = this.activeModel();
    const d = await this.detail(p.imageId);
    const next: Target[] = (p.next ?? []).map((n) => ({ ...n, window: p.window }));
    // Where the user is now decides what is worth computing: the old queue goes at once, and a
    // background embed of a slice that is neither this one nor one of its next is stopped
    // rather than left to hold the encoder (seconds for vit_b) while this one waits.
    this.queue = [];
    const bg = this.computingBackground;
    if (bg && ![p, ...next].some((t) => t.imageId === bg.imageId && t.frame === bg.frame)) await this.runner.stopBackground();
    const e = this.embedding(files, d, p);
    const t0 = performance.now();
    const loaded = await e.load();
    // Background: the next slices, through the same window, one at a time; a new prepare replaces the queue.
    this.queue = next;
    this.background ??= this.drain(files).finally(() => (this.background = null));
    const notKept = loaded.store && !loaded.store.stored ? loaded.store.reason : null;
    return {
      modelId: model.id,
      cached: loaded.fromDisk,
      encodeMs: loaded.fromDisk ? 0 : performance.now() - t0,
      ...(notKept ? { cacheWarning: `The image's embedding could not be kept on disk (${notKept}); it is used from memory and will be computed again after a restart.` } : {}),
    };
  };

  private async drain(files: ModelFiles): Promise<void> {
    for (let t = this.queue.shift(); t; t = this.queue.shift()) {
      this.backgroundBusy = true;
      try {
        const d = await this.detail(t.imageId);
        const e = this.embedding(files, d, t, true);
        if (!e.cached) await e.value();
      } catch {
        /* a background precompute failing is not the user's problem now; the click recomputes */
      } finally {
        this.backgroundBusy = false;
      }
    }
  }

  'sam.status': SamHandlers['sam.status'] = () => {
    let modelId: string | null = null;
    let variant: 'int8' | 'fp32' | null = null;
    try {
      const { model } = this.activeModel();
      modelId = model.id;
      variant = model.variant;
    } catch {
      /* no project or no model: nothing to report */
    }
    return {
      modelId,
      variant,
      computing: this.computing,
      queued: this.queue.length + (this.backgroundBusy ? 1 : 0),
      lastEncodeMs: this.lastEncodeMs,
      // What ran last (a model switch shows the new one's after its first embed and click).
      encoderProvider: this.ran.encoder ? describeChoice(this.ran.encoder) : null,
      decoderProvider: this.ran.decoder ? describeChoice(this.ran.decoder) : null,
      decoder: this.ran.decoderKind,
    };
  };

  'sam.predict': SamHandlers['sam.predict'] = (p) => this.inForeground(() => this.predict(p));

  private async predict(p: Parameters<SamHandlers['sam.predict']>[0]): Promise<Result<'sam.predict'>> {
    const { files } = this.activeModel();
    const d = await this.detail(p.imageId);
    let maskInput: Float32Array | null = null;
    if (p.maskInput) {
      maskInput = this.lowRes.get(p.maskInput)?.data ?? null;
      if (!maskInput) throw new ApiError('not_found', 'The previous mask is no longer held; click again to start a new prediction');
    }
    const e = this.embedding(files, d, p);
    const r = await this.runner.decode(files, e.key, e.value, {
      points: p.points,
      box: p.box,
      maskInput,
      multimask: p.multimask,
      origHeight: d.height,
      origWidth: d.width,
    });
    const held = { side: r.lowResSize, imageSize: files.preprocessing.image_size, imageId: p.imageId, frame: p.frame, height: d.height, width: d.width };
    const masks = r.masks.map((m, i) => ({ rle: m ? encodeRle(m, d.height, d.width) : null, score: r.ious[i]!, lowRes: this.keep({ ...held, data: r.lowRes[i]! }) }));
    const best = r.ious.indexOf(Math.max(...r.ious));
    this.ran.decoder = r.provider;
    this.ran.decoderKind = r.decoder;
    this.models().speed.record(files.key, 'decode', r.ms, providerName(r.provider.provider));
    return { masks, best, decodeMs: r.ms, decoder: r.decoder, provider: describeChoice(r.provider) };
  };

  'sam.candidate': SamHandlers['sam.candidate'] = (p) => {
    const h = this.lowRes.get(p.lowRes);
    if (!h || h.imageId !== p.imageId || h.frame !== p.frame) throw new ApiError('not_found', 'That mask is no longer held; click again to start a new prediction');
    return { rle: encodeRle(upsampleMask(h.data, h.side, h.imageSize, h.height, h.width), h.height, h.width) };
  };

  /** The model SAM would run now; throws ApiError('not_found') saying how to add one when there is none. */
  requireModel(): string {
    return this.activeModel().model.id;
  }

  /**
   * One prediction for work that runs behind the user, e.g. carrying a mask through a series:
   * the embedding is computed at background priority, so an embedding the user waits for (a
   * click on another slice) stops it and goes first; this call then waits a moment and computes
   * it again. Its decode queues behind at most the click's own in the decoder worker, and a
   * click queues behind at most one of these (milliseconds). Embeddings land in the same disk
   * cache as the viewer's, keyed the same way, so slices the user visits later are ready.
   */
  async predictBehind(
    t: Target,
    prompt: { points: { x: number; y: number; label: 0 | 1 }[]; box: { x0: number; y0: number; x1: number; y1: number } | null; maskInput: Float32Array | null },
    signal?: AbortSignal,
  ): Promise<BehindPrediction> {
    const { model, files } = this.activeModel();
    const d = await this.detail(t.imageId);
    let preempted = 0;
    const t0 = performance.now();
    for (;;) {
      // A click (or a slice the user went to) first: its embedding would stop this one anyway.
      await this.foregroundIdle();
      signal?.throwIfAborted();
      const e = this.embedding(files, d, t, true);
      let loaded: Loaded;
      try {
        loaded = await e.load();
      } catch (err) {
        if (!(err instanceof SamWorkerError && err.code === 'preempted')) throw err;
        preempted++;
        await new Promise((r) => setTimeout(r, YIELD_MS));
        continue;
      }
      const encodeMs = loaded.fromDisk && preempted === 0 ? 0 : performance.now() - t0;
      signal?.throwIfAborted();
      if (this.closed) throw new ApiError('internal', 'SAM has been closed');
      const r = await this.runner.decode(files, e.key, async () => loaded.embedding, {
        points: prompt.points,
        box: prompt.box,
        maskInput: prompt.maskInput,
        multimask: false,
        origHeight: d.height,
        origWidth: d.width,
      });
      const best = r.ious.indexOf(Math.max(...r.ious));
      return {
        modelId: model.id,
        mask: r.masks[best]!,
        iou: r.ious[best]!,
        lowRes: r.lowRes[best]!,
        lowResSize: r.lowResSize,
        cached: loaded.fromDisk && preempted === 0,
        encodeMs,
        decodeMs: r.ms,
        preempted,
      };
    }
  }

  private keep(lowRes: HeldLowRes): string {
    const handle = `lr${++this.lowResCounter}`;
    this.lowRes.set(handle, lowRes);
    while (this.lowRes.size > LOW_RES_KEEP) this.lowRes.delete(this.lowRes.keys().next().value!);
    return handle;
  }

  /** Let go of a model's sessions before its files are removed. */
  release(modelId: string): Promise<void> {
    return this.runner.release(modelId);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.runner.close();
  }
}
