/**
 * SAM preprocessing and prompt mapping, exactly as segment-anything does it. Runtime: pure.
 *
 * - Resize so the longest side is S: new side = floor(side * S / max(h, w) + 0.5)
 *   (ResizeLongestSide.get_preprocess_shape).
 * - Upstream resizes with PIL's bilinear filter on the uint8 image (torchvision's resize of a
 *   PIL image), which is an antialiasing convolution when shrinking and uses 22-bit fixed-point
 *   weights with a uint8 intermediate between its horizontal and vertical passes. We port that
 *   algorithm (Pillow's libImaging/Resample.c) so our encoder input matches the predictor's.
 * - Normalise (x - mean) / std, zero-pad bottom/right to S x S, NCHW float32.
 * - Points/boxes: x * new_w / w, y * new_h / h; a box becomes two points labelled 2 and 3; with
 *   no box a padding point (0, 0) labelled -1 is appended (SamOnnxModel's convention).
 */
import type { RgbImage } from './sam-window.js';

export interface Preprocessing {
  image_size: number;
  pixel_mean: number[];
  pixel_std: number[];
}

export function preprocessShape(h: number, w: number, size: number): [number, number] {
  const scale = size / Math.max(h, w);
  return [Math.floor(h * scale + 0.5), Math.floor(w * scale + 0.5)];
}

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;
const HALF = 2 ** (PRECISION_BITS - 1);

interface Coefficients {
  bounds: Int32Array; // [xmin, count] per output pixel
  weights: Float64Array[]; // fixed-point weights per output pixel
}

/** Pillow's precompute_coeffs for the bilinear (triangle) filter, weights in fixed point. */
function coefficients(inSize: number, outSize: number): Coefficients {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 1 * filterscale;
  const bounds = new Int32Array(outSize * 2);
  const weights: Float64Array[] = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    const w = new Float64Array(xmax);
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const t = Math.abs((x + xmin - center + 0.5) * ss);
      const v = t < 1 ? 1 - t : 0;
      w[x] = v;
      ww += v;
    }
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? w[x]! / ww : 0;
      w[x] = Math.trunc(v * ONE + (v < 0 ? -0.5 : 0.5));
    }
    bounds[2 * xx] = xmin;
    bounds[2 * xx + 1] = xmax;
    weights.push(w);
  }
  return { bounds, weights };
}

function clip8(v: number): number {
  if (v >= ONE * 256) return 255;
  if (v <= 0) return 0;
  return Math.floor(v / ONE);
}

/** Resize interleaved 8-bit RGB with Pillow's bilinear filter (horizontal pass, then vertical). */
export function resizeBilinearPil(src: RgbImage, outW: number, outH: number): RgbImage {
  let cur = src;
  if (outW !== cur.width) {
    const { bounds, weights } = coefficients(cur.width, outW);
    const out = new Uint8Array(outW * cur.height * 3);
    for (let y = 0; y < cur.height; y++) {
      const row = y * cur.width * 3;
      for (let xx = 0; xx < outW; xx++) {
        const xmin = bounds[2 * xx]!;
        const k = weights[xx]!;
        for (let c = 0; c < 3; c++) {
          let ss = HALF;
          for (let x = 0; x < k.length; x++) ss += cur.rgb[row + (x + xmin) * 3 + c]! * k[x]!;
          out[(y * outW + xx) * 3 + c] = clip8(ss);
        }
      }
    }
    cur = { width: outW, height: cur.height, rgb: out };
  }
  if (outH !== cur.height) {
    const { bounds, weights } = coefficients(cur.height, outH);
    const out = new Uint8Array(cur.width * outH * 3);
    const stride = cur.width * 3;
    for (let yy = 0; yy < outH; yy++) {
      const ymin = bounds[2 * yy]!;
      const k = weights[yy]!;
      for (let i = 0; i < stride; i++) {
        let ss = HALF;
        for (let y = 0; y < k.length; y++) ss += cur.rgb[(y + ymin) * stride + i]! * k[y]!;
        out[yy * stride + i] = clip8(ss);
      }
    }
    cur = { width: cur.width, height: outH, rgb: out };
  }
  return cur;
}

/** The encoder input: 1x3xSxS float32 of the resized, normalised, zero-padded image. */
export function encoderInput(image: RgbImage, prep: Preprocessing): Float32Array {
  const S = prep.image_size;
  const [nh, nw] = preprocessShape(image.height, image.width, S);
  const resized = nh === image.height && nw === image.width ? image : resizeBilinearPil(image, nw, nh);
  const out = new Float32Array(3 * S * S);
  for (let c = 0; c < 3; c++) {
    const mean = prep.pixel_mean[c]!;
    const std = prep.pixel_std[c]!;
    const plane = c * S * S;
    for (let y = 0; y < nh; y++) {
      for (let x = 0; x < nw; x++) out[plane + y * S + x] = (resized.rgb[(y * nw + x) * 3 + c]! - mean) / std;
    }
  }
  return out;
}

export interface Point {
  x: number;
  y: number;
  /** 1 = positive (inside), 0 = negative (outside). */
  label: 0 | 1;
}

export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** point_coords [1, n, 2] and point_labels [1, n] for the canonical decoder, in model-input pixels. */
export function promptTensors(
  points: readonly Point[],
  box: Box | null,
  origH: number,
  origW: number,
  size: number,
  /** Pad with "not a point" entries up to this many points (single-mask decoders, see SamEngine.decode). */
  minPoints = 0,
): { coords: Float32Array; labels: Float32Array; count: number } {
  const [nh, nw] = preprocessShape(origH, origW, size);
  const sx = nw / origW;
  const sy = nh / origH;
  const xs: number[] = [];
  const ls: number[] = [];
  for (const p of points) {
    xs.push(p.x * sx, p.y * sy);
    ls.push(p.label);
  }
  if (box) {
    xs.push(Math.min(box.x0, box.x1) * sx, Math.min(box.y0, box.y1) * sy, Math.max(box.x0, box.x1) * sx, Math.max(box.y0, box.y1) * sy);
    ls.push(2, 3);
  } else {
    xs.push(0, 0);
    ls.push(-1);
  }
  while (ls.length < minPoints) {
    xs.push(0, 0);
    ls.push(-1);
  }
  return { coords: Float32Array.from(xs), labels: Float32Array.from(ls), count: ls.length };
}
