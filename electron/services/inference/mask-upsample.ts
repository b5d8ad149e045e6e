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
 * with `pytorch_half_pixel`): source = (dst + 0.5) * in / out - 0.5, clamped at 0. Both
 * stages are separable and linear, so along each axis they compose into one operator, and
 * the whole post-processing is a horizontal pass and a vertical pass.
 */
import { preprocessShape } from './sam-preprocess.js';

/** Two-tap linear interpolation of a resize from `inSize` to `outSize` samples (first `count` outputs). */
function linearTaps(inSize: number, outSize: number, count: number): { lo: Int32Array; hi: Int32Array; frac: Float64Array } {
  const lo = new Int32Array(count);
  const hi = new Int32Array(count);
  const frac = new Float64Array(count);
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
 * The two resizes along one axis (L -> S cropped to `crop`, then crop -> `out`) composed into
 * one operator: each output sample is a weighted sum of 4 low-res samples. Composing is exact
 * (both stages are linear) and does a quarter of the work of running the stages one after
 * the other through the S-sized intermediate.
 */
interface Taps4 {
  index: Int32Array;
  weight: Float32Array;
}

function composedTaps(low: number, size: number, crop: number, out: number): Taps4 {
  const first = linearTaps(low, size, crop);
  const second = linearTaps(crop, out, out);
  const index = new Int32Array(4 * out);
  const weight = new Float32Array(4 * out);
  for (let o = 0; o < out; o++) {
    const [j0, j1, f] = [second.lo[o]!, second.hi[o]!, second.frac[o]!];
    const taps: [number, number][] = [
      [first.lo[j0]!, (1 - f) * (1 - first.frac[j0]!)],
      [first.hi[j0]!, (1 - f) * first.frac[j0]!],
      [first.lo[j1]!, f * (1 - first.frac[j1]!)],
      [first.hi[j1]!, f * first.frac[j1]!],
    ];
    for (let k = 0; k < 4; k++) {
      index[4 * o + k] = taps[k]![0];
      weight[4 * o + k] = taps[k]![1];
    }
  }
  return { index, weight };
}

/**
 * Logits of one low-res mask (`lowSize` x `lowSize`, row-major) at the original image size
 * (origHeight x origWidth), for a model whose input side is `imageSize`.
 */
export function upsampleMaskLogits(low: Float32Array, lowSize: number, imageSize: number, origHeight: number, origWidth: number): Float32Array {
  if (low.length !== lowSize * lowSize) throw new Error(`low-res mask has ${low.length} values, expected ${lowSize}x${lowSize}`);
  const [h, w] = preprocessShape(origHeight, origWidth, imageSize);
  const tx = composedTaps(lowSize, imageSize, w, origWidth);
  const ty = composedTaps(lowSize, imageSize, h, origHeight);
  // Horizontal: every low-res row to the output width.
  const rows = new Float32Array(lowSize * origWidth);
  const { index: xi, weight: xw } = tx;
  for (let r = 0; r < lowSize; r++) {
    const base = r * lowSize;
    const o = r * origWidth;
    for (let c = 0, k = 0; c < origWidth; c++, k += 4) {
      rows[o + c] = xw[k]! * low[base + xi[k]!]! + xw[k + 1]! * low[base + xi[k + 1]!]! + xw[k + 2]! * low[base + xi[k + 2]!]! + xw[k + 3]! * low[base + xi[k + 3]!]!;
    }
  }
  // Vertical: each output row from 4 of those rows.
  const out = new Float32Array(origHeight * origWidth);
  const { index: yi, weight: yw } = ty;
  for (let r = 0, k = 0; r < origHeight; r++, k += 4) {
    const [a, b, c, d] = [yi[k]! * origWidth, yi[k + 1]! * origWidth, yi[k + 2]! * origWidth, yi[k + 3]! * origWidth];
    const [wa, wb, wc, wd] = [yw[k]!, yw[k + 1]!, yw[k + 2]!, yw[k + 3]!];
    const o = r * origWidth;
    for (let x = 0; x < origWidth; x++) out[o + x] = wa * rows[a + x]! + wb * rows[b + x]! + wc * rows[c + x]! + wd * rows[d + x]!;
  }
  return out;
}

/** Binary mask (1 inside, logit > 0) of one low-res mask at the original size. */
export function upsampleMask(low: Float32Array, lowSize: number, imageSize: number, origHeight: number, origWidth: number): Uint8Array {
  const logits = upsampleMaskLogits(low, lowSize, imageSize, origHeight, origWidth);
  const m = new Uint8Array(logits.length);
  for (let i = 0; i < logits.length; i++) m[i] = logits[i]! > 0 ? 1 : 0;
  return m;
}
