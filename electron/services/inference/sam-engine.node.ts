/**
 * onnxruntime-node sessions for SAM: one encoder and one decoder session per model file,
 * created once and reused. Runtime: node (runs inside the inference worker; benches and
 * tests may use it directly).
 */
import { defaultThreads } from './sam-threads.js';
import * as ort from 'onnxruntime-node';
import { encoderInput, promptTensors, type Box, type Point, type Preprocessing } from './sam-preprocess.js';
import type { RgbImage } from './sam-window.js';

export interface ModelFiles {
  /** Identity of the sessions (model id + variant); the same key reuses loaded sessions. */
  key: string;
  encoder: string;
  decoder: string;
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
  origHeight: number;
  origWidth: number;
}

export interface DecodeResult {
  /** Row-major binary masks (1 inside), one per candidate: 3 with multimask, else 1. */
  masks: Uint8Array[];
  ious: number[];
  /** Low-res logits per candidate, to feed the next prediction. */
  lowRes: Float32Array[];
  lowResSize: number;
}

/**
 * Options that make CPU inference fast: all graph optimisations, one op at a time using every
 * core. The memory pattern (one pre-planned block for all intermediates) stays off for the
 * encoder: measured on vit_b at 1024, it doubles peak memory (6.5 GiB vs 3.4 GiB) for no speed.
 */
export function sessionOptions(threads = defaultThreads(), part: 'encoder' | 'decoder' = 'decoder'): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    enableCpuMemArena: true,
    enableMemPattern: part === 'decoder',
  };
}

export { defaultThreads };

interface Sessions {
  encoder: ort.InferenceSession | null;
  decoder: ort.InferenceSession;
  files: ModelFiles;
}

export class SamEngine {
  private readonly sessions = new Map<string, Promise<Sessions>>();

  constructor(private readonly threads = defaultThreads()) {}

  /** Create (or reuse) the sessions of `files`. The encoder is loaded on first embed only. */
  private get(files: ModelFiles): Promise<Sessions> {
    let s = this.sessions.get(files.key);
    if (!s) {
      s = ort.InferenceSession.create(files.decoder, sessionOptions(this.threads)).then((decoder) => ({ encoder: null, decoder, files }));
      s.catch(() => this.sessions.delete(files.key));
      this.sessions.set(files.key, s);
    }
    return s;
  }

  async load(files: ModelFiles, withEncoder: boolean): Promise<void> {
    const s = await this.get(files);
    if (withEncoder) await this.encoderOf(s);
  }

  private async encoderOf(s: Sessions): Promise<ort.InferenceSession> {
    s.encoder ??= await ort.InferenceSession.create(s.files.encoder, sessionOptions(this.threads, 'encoder'));
    return s.encoder;
  }

  async embed(files: ModelFiles, image: RgbImage): Promise<Embedding> {
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
    return { data, dims };
  }

  async decode(files: ModelFiles, embedding: Embedding, req: DecodeRequest): Promise<DecodeResult> {
    const s = await this.get(files);
    const size = files.preprocessing.image_size;
    const low = 4 * embedding.dims[2]!;
    const { coords, labels, count } = promptTensors(req.points, req.box, req.origHeight, req.origWidth, size);
    const feeds: Record<string, ort.Tensor> = {
      image_embeddings: new ort.Tensor('float32', embedding.data, embedding.dims),
      point_coords: new ort.Tensor('float32', coords, [1, count, 2]),
      point_labels: new ort.Tensor('float32', labels, [1, count]),
      mask_input: new ort.Tensor('float32', req.maskInput ?? new Float32Array(low * low), [1, 1, low, low]),
      has_mask_input: new ort.Tensor('float32', Float32Array.of(req.maskInput ? 1 : 0), [1]),
      orig_im_size: new ort.Tensor('float32', Float32Array.of(req.origHeight, req.origWidth), [2]),
    };
    if (req.maskInput && req.maskInput.length !== low * low) throw new Error(`mask_input has ${req.maskInput.length} values, this model expects ${low}x${low}`);
    const out = await s.decoder.run(feeds);
    const masks = out.masks!;
    const ious = out.iou_predictions!.data as Float32Array;
    const lowRes = out.low_res_masks!.data as Float32Array;
    const total = masks.dims[1]!;
    const [h, w] = [masks.dims[2]!, masks.dims[3]!];
    // Canonical layout: index 0 is the single-mask output, 1..3 the multimask ones. A decoder
    // exported with return_single_mask has only one.
    const picks = total === 1 ? [0] : req.multimask ? [1, 2, 3].filter((i) => i < total) : [0];
    const logits = masks.data as Float32Array;
    const result: DecodeResult = { masks: [], ious: [], lowRes: [], lowResSize: low };
    for (const i of picks) {
      const m = new Uint8Array(h * w);
      const base = i * h * w;
      for (let p = 0; p < h * w; p++) m[p] = logits[base + p]! > 0 ? 1 : 0;
      result.masks.push(m);
      result.ious.push(ious[i]!);
      result.lowRes.push(lowRes.slice(i * low * low, (i + 1) * low * low));
    }
    for (const v of Object.values(out)) v.dispose();
    return result;
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
