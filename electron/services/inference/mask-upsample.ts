/**
 * SAM's mask post-processing, outside the decoder graph: low-res logits (L x L) are resized
 * bilinearly to the model's input size (S x S), cropped to the part that holds the image
 * (the rest is padding), and resized bilinearly to the original image size, exactly as
 * `Sam.postprocess_masks` and the canonical ONNX decoder do it. Runtime: pure.
 *
 * The fast decoder leaves this out of its graph so that only the mask the user sees is
 * upsampled (one mask costs a few ms; all four would cost more than the decoder itself),
 * and the import check uses it to catch decoders whose crop was frozen at export time.
 *
 * Bilinear means torch's `F.interpolate(mode="bilinear", align_corners=False)` (ONNX Resize
 * with `pytorch_half_pixel`): source = (dst + 0.5) * in / out - 0.5, clamped at 0. It is
 * separable, so each stage is a horizontal pass then a vertical pass over index tables.
 */
import { preprocessShape } from './sam-preprocess.js';

interface Taps {
  lo: Int32Array;
  hi: Int32Array;
  frac: Float32Array;
}

/** Source taps for `count` outputs of a resize from `inSize` to `outSize` samples. */
function taps(inSize: number, outSize: number, count = outSize): Taps {
  const lo = new Int32Array(count);
  const hi = new Int32Array(count);
  const frac = new Float32Array(count);
  const scale = inSize / outSize;
  for (let o = 0; o < count; o++) {
    const src = Math.max(0, (o + 0.5) * scale - 0.5);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    lo[o] = i0;
    hi[o] = Math.min(i0 + 1, inSize - 1);
    frac[o] = src - i0;
  }
  return { lo, hi, frac };
}

/**
 * Resize the top-left region of `src` (rows of `stride` values): rows and columns of the
 * output come from the `ty` and `tx` taps. Returns `ty.lo.length` x `tx.lo.length` values.
 */
function resize(src: Float32Array, stride: number, inRows: number, ty: Taps, tx: Taps): Float32Array {
  const outW = tx.lo.length;
  const outH = ty.lo.length;
  const rows = new Float32Array(inRows * outW);
  for (let r = 0; r < inRows; r++) {
    const base = r * stride;
    const o = r * outW;
    for (let c = 0; c < outW; c++) {
      const a = src[base + tx.lo[c]!]!;
      rows[o + c] = a + (src[base + tx.hi[c]!]! - a) * tx.frac[c]!;
    }
  }
  const out = new Float32Array(outH * outW);
  for (let r = 0; r < outH; r++) {
    const a0 = ty.lo[r]! * outW;
    const b0 = ty.hi[r]! * outW;
    const f = ty.frac[r]!;
    const o = r * outW;
    for (let c = 0; c < outW; c++) {
      const a = rows[a0 + c]!;
      out[o + c] = a + (rows[b0 + c]! - a) * f;
    }
  }
  return out;
}

/**
 * Logits of one low-res mask (`lowSize` x `lowSize`, row-major) at the original image size
 * (origHeight x origWidth), for a model whose input side is `imageSize`.
 */
export function upsampleMaskLogits(low: Float32Array, lowSize: number, imageSize: number, origHeight: number, origWidth: number): Float32Array {
  if (low.length !== lowSize * lowSize) throw new Error(`low-res mask has ${low.length} values, expected ${lowSize}x${lowSize}`);
  const [h, w] = preprocessShape(origHeight, origWidth, imageSize);
  // Stage 1: to imageSize x imageSize, computing only the h x w corner the crop keeps.
  const model = resize(low, lowSize, lowSize, taps(lowSize, imageSize, h), taps(lowSize, imageSize, w));
  // Stage 2: the crop to the original size.
  return resize(model, w, h, taps(h, origHeight), taps(w, origWidth));
}

/** Binary mask (1 inside, logit > 0) of one low-res mask at the original size. */
export function upsampleMask(low: Float32Array, lowSize: number, imageSize: number, origHeight: number, origWidth: number): Uint8Array {
  const logits = upsampleMaskLogits(low, lowSize, imageSize, origHeight, origWidth);
  const m = new Uint8Array(logits.length);
  for (let i = 0; i < logits.length; i++) m[i] = logits[i]! > 0 ? 1 : 0;
  return m;
}
