/**
 * onnxruntime-node sessions for SAM: one encoder and one decoder session per model file,
 * created once and reused. Runtime: node (runs inside the inference worker; benches and
 * tests may use it directly).
 */
import { defaultThreads } from './sam-threads.js';
import * as ort from 'onnxruntime-node';
import { createWithFallback, providerCandidates, type ExecutionProvider, type ProviderChoice } from './execution-providers.js';
import { upsampleMask } from './mask-upsample.js';
import { encoderInput, promptTensors, type Box, type Point, type Preprocessing } from './sam-preprocess.js';
import type { RgbImage } from './sam-window.js';

export interface ModelFiles {
  /** Identity of the sessions (model id + variant); the same key reuses loaded sessions. */
  key: string;
  encoder: string;
  decoder: string;
  /** decoder.fast.onnx of a runtime bundle (low-res outputs only), used instead of `decoder` when it loads. */
  fastDecoder?: string;
  /** Pad every prompt to this many points (a decoder trained on padded prompts: EfficientSAM's). */
  promptPoints?: number;
  preprocessing: Preprocessing;
}

export interface Embedding {
  data: Float32Array;
  dims: number[];
}

export interface DecodeRequest {
  points: Point[];
  box: Box | null;
  /** Low-resolution logits of a previous prediction (1x1x4gx4g), or null. */
  maskInput: Float32Array | null;
  multimask: boolean;
  /**
   * No prompt at all (the headless node, automatic segmentation): no point, box or padding
   * token goes to the decoder, the runtime's Prompt("none") convention that fine-tuning trains
   * (delineate_runtime/models/forward.py: prompt_encoder(points=None, boxes=None) gives zero
   * sparse tokens, multimask output, the best candidate by predicted IoU). `points` and `box`
   * must then be empty; `multimask` is implied.
   */
  promptFree?: boolean;
  origHeight: number;
  origWidth: number;
  /**
   * Upsample every candidate, not only the best-scored one. Each full-size mask costs an
   * upsampling pass, so by default the others are left null and upsampled when the user asks
   * for them (Tab).
   */
  allMasks?: boolean;
}

/** Which decoder graph answered: the fast one of a runtime bundle, or the canonical one. */
export type DecoderKind = 'fast' | 'canonical';

export interface DecodeResult {
  /** Row-major binary masks (1 inside), one per candidate: 3 with multimask, else 1; null where not upsampled (see DecodeRequest.allMasks). */
  masks: (Uint8Array | null)[];
  ious: number[];
  /** Low-res logits per candidate, to feed the next prediction. */
  lowRes: Float32Array[];
  lowResSize: number;
  decoder: DecoderKind;
  /** The execution provider that ran the decoder, and any better one passed over. */
  provider: ProviderChoice;
}

/** An embedding and the execution provider that computed it. */
export interface EmbedResult extends Embedding {
  provider: ProviderChoice;
}

/**
 * Options that make CPU inference fast: all graph optimisations, one op at a time using every
 * core. The memory pattern (one pre-planned block for all intermediates) stays off for the
 * encoder: measured on vit_b at 1024, it doubles peak memory (6.5 GiB vs 3.4 GiB) for no speed.
 * Intra-op threads do not spin while waiting for work: spinning made the decoder 1.4-1.6x
 * slower when the encoder worker (or anything else) competes for the cores, and burned ~40 ms
 * of CPU after every click.
 */
export function sessionOptions(threads = defaultThreads(), part: 'encoder' | 'decoder' = 'decoder', provider: ExecutionProvider = 'cpu'): ort.InferenceSession.SessionOptions {
  return {
    // One provider only: onnxruntime adds the CPU for operators a GPU provider lacks, and
    // onnxruntime-node quietly drops a listed backend it does not have, so naming the CPU
    // here too would hide whether the GPU one is in use.
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    enableCpuMemArena: true,
    // DirectML requires the memory pattern off (onnxruntime's DirectML notes).
    enableMemPattern: part === 'decoder' && provider !== 'dml',
    extra: {
      session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } },
      ...(provider === 'cpu' ? { optimization: { disable_specified_optimizers: CPU_DISABLED_OPTIMIZERS } } : {}),
    },
  };
}

/**
 * Graph rewrites that make CPU inference slower. SkipLayerNormFusion turns a residual Add +
 * LayerNormalization into onnxruntime's SkipLayerNormalization, whose CPU kernel took 2.9 ms
 * where the two ops take 0.5 ms on SAM's 4096x256 image tokens; the two it builds in vit_b's
 * fast decoder made a click 42 -> 35 ms median (same outputs to 3e-7). Encoders: vit_b's
 * 4-D blocks never match the pattern; EfficientSAM-Ti's and MobileSAM's did not change
 * (fp32 and int8, 4 interleaved runs each, within noise). GPU providers keep it: their fused
 * kernel is the fast one.
 */
export const CPU_DISABLED_OPTIMIZERS = 'SkipLayerNormFusion';

export { defaultThreads };

interface Sessions {
  encoder: ort.InferenceSession | null;
  encoderProvider: ProviderChoice | null;
  decoder: ort.InferenceSession;
  decoderProvider: ProviderChoice;
  kind: DecoderKind;
  /** A canonical decoder exported with return_single_mask: one output mask, chosen inside the graph. */
  singleMask: boolean;
  files: ModelFiles;
}

/** Number of masks a canonical decoder outputs (dim 1 of its outputs; exporters leave some symbolic), or null. */
function maskCount(session: ort.InferenceSession): number | null {
  for (const name of ['iou_predictions', 'low_res_masks', 'masks']) {
    const meta = session.outputMetadata.find((m) => m.name === name);
    const n = meta?.isTensor ? meta.shape[1] : undefined;
    if (typeof n === 'number') return n;
  }
  return null;
}

/** Providers that could not run in this process, and why (shared by every engine in it). */
const unavailableProviders = new Map<ExecutionProvider, string>();

export class SamEngine {
  private readonly sessions = new Map<string, Promise<Sessions>>();

  constructor(
    private readonly threads = defaultThreads(),
    private readonly log: (message: string) => void = (m) => console.warn(m),
    /** Best first; the CPU last. Default: the platform's GPU providers, then the CPU. */
    private readonly providers: readonly ExecutionProvider[] = providerCandidates(process.platform, process.env.DELINEATE_EXECUTION_PROVIDER),
  ) {}

  private session(file: string, part: 'encoder' | 'decoder'): Promise<{ value: ort.InferenceSession; choice: ProviderChoice }> {
    return createWithFallback(this.providers, (p) => ort.InferenceSession.create(file, sessionOptions(this.threads, part, p)), unavailableProviders);
  }

  /** Create (or reuse) the sessions of `files`. The encoder is loaded on first embed only. */
  private get(files: ModelFiles): Promise<Sessions> {
    let s = this.sessions.get(files.key);
    if (!s) {
      s = this.createDecoder(files);
      s.catch(() => this.sessions.delete(files.key));
      this.sessions.set(files.key, s);
    }
    return s;
  }

  /** The fast decoder when the bundle has one and it loads; the canonical one otherwise. */
  private async createDecoder(files: ModelFiles): Promise<Sessions> {
    if (files.fastDecoder) {
      try {
        const { value: decoder, choice } = await this.session(files.fastDecoder, 'decoder');
        return { encoder: null, encoderProvider: null, decoder, decoderProvider: choice, kind: 'fast', singleMask: false, files };
      } catch (e) {
        this.log(`fast decoder ${files.fastDecoder} did not load (${(e as Error).message}); using the canonical decoder`);
      }
    }
    const { value: decoder, choice } = await this.session(files.decoder, 'decoder');
    return { encoder: null, encoderProvider: null, decoder, decoderProvider: choice, kind: 'canonical', singleMask: maskCount(decoder) === 1, files };
  }

  async load(files: ModelFiles, withEncoder: boolean): Promise<void> {
    const s = await this.get(files);
    if (withEncoder) await this.encoderOf(s);
  }

  private async encoderOf(s: Sessions): Promise<ort.InferenceSession> {
    if (!s.encoder) {
      const { value, choice } = await this.session(s.files.encoder, 'encoder');
      s.encoder = value;
      s.encoderProvider = choice;
    }
    return s.encoder;
  }

  async embed(files: ModelFiles, image: RgbImage): Promise<EmbedResult> {
    const s = await this.get(files);
    const encoder = await this.encoderOf(s);
    const size = files.preprocessing.image_size;
    const input = new ort.Tensor('float32', encoderInput(image, files.preprocessing), [1, 3, size, size]);
    const out = await encoder.run({ [encoder.inputNames[0]!]: input });
    const t = out[encoder.outputNames[0]!]!;
    const data = new Float32Array(t.data as Float32Array); // own the buffer: outputs may be arena-backed
    const dims = [...t.dims];
    for (const v of Object.values(out)) v.dispose();
    input.dispose();
    return { data, dims, provider: s.encoderProvider! };
  }

  async decode(files: ModelFiles, embedding: Embedding, req: DecodeRequest): Promise<DecodeResult> {
    const s = await this.get(files);
    const size = files.preprocessing.image_size;
    const low = 4 * embedding.dims[2]!;
    if (req.maskInput && req.maskInput.length !== low * low) throw new Error(`mask_input has ${req.maskInput.length} values, this model expects ${low}x${low}`);
    // A single-mask decoder picks its output inside the graph: the single-mask token only
    // when it is given 3 or more points, otherwise the best multimask candidate. SAM's
    // predictor uses the single-mask output for a box or several clicks, so pad to 3 points
    // there (padding points are "not a point" and carry no position).
    const minPoints = Math.max(files.promptPoints ?? 0, s.singleMask && !req.multimask ? 3 : 0);
    if (req.promptFree && (req.points.length || req.box)) throw new Error('a prompt-free decode takes no points or box');
    const { coords, labels, count } = req.promptFree ? { coords: new Float32Array(0), labels: new Float32Array(0), count: 0 } : promptTensors(req.points, req.box, req.origHeight, req.origWidth, size, minPoints);
    const feeds: Record<string, ort.Tensor> = {
      image_embeddings: new ort.Tensor('float32', embedding.data, embedding.dims),
      point_coords: new ort.Tensor('float32', coords, [1, count, 2]),
      point_labels: new ort.Tensor('float32', labels, [1, count]),
      mask_input: new ort.Tensor('float32', req.maskInput ?? new Float32Array(low * low), [1, 1, low, low]),
      has_mask_input: new ort.Tensor('float32', Float32Array.of(req.maskInput ? 1 : 0), [1]),
    };
    if (s.kind === 'canonical') feeds.orig_im_size = new ort.Tensor('float32', Float32Array.of(req.origHeight, req.origWidth), [2]);
    // Low-res outputs only, from either graph: onnxruntime skips what no fetched output needs,
    // so the canonical decoder's own upsampling of every candidate to the image size (most of
    // its time on large images) does not run; the shown mask is upsampled here instead, the
    // same way (mask-upsample.ts, checked against SamPredictor for both graphs).
    const out = await s.decoder.run(feeds, ['iou_predictions', 'low_res_masks']);
    try {
      const ious = out.iou_predictions!.data as Float32Array;
      const lowRes = out.low_res_masks!.data as Float32Array;
      const total = out.iou_predictions!.dims[1]!;
      // Canonical layout: index 0 is the single-mask output, 1..3 the multimask ones. A decoder
      // exported with return_single_mask has only one.
      const picks = total === 1 ? [0] : req.multimask || req.promptFree ? [1, 2, 3].filter((i) => i < total) : [0];
      const result: DecodeResult = { masks: [], ious: [], lowRes: [], lowResSize: low, decoder: s.kind, provider: s.decoderProvider };
      const best = picks.reduce((a, b) => (ious[b]! > ious[a]! ? b : a));
      for (const i of picks) {
        const lr = lowRes.slice(i * low * low, (i + 1) * low * low);
        result.masks.push(i === best || req.allMasks ? upsampleMask(lr, low, size, req.origHeight, req.origWidth) : null);
        result.ious.push(ious[i]!);
        result.lowRes.push(lr);
      }
      return result;
    } finally {
      for (const v of Object.values(out)) v.dispose();
    }
  }

  async release(key: string): Promise<void> {
    const s = this.sessions.get(key);
    this.sessions.delete(key);
    if (!s) return;
    const { encoder, decoder } = await s.catch(() => ({ encoder: null, decoder: null }));
    await encoder?.release();
    await decoder?.release();
  }
}
