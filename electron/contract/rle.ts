/**
 * COCO run-length encoding of binary masks, shared by the renderer and the services.
 *
 * Conventions (the same as pycocotools, so snapshots read in Python unchanged):
 * - `size` is [height, width];
 * - `counts` are run lengths over the pixels in COLUMN-MAJOR order (x outer, y inner),
 *   alternating 0-runs and 1-runs and always starting with a (possibly empty) 0-run;
 * - the runs sum to height * width.
 *
 * Masks in the app are row-major `Uint8Array`s (one byte per pixel, non-zero = inside),
 * because that is how canvases and typed arrays lay pixels out; the functions below convert.
 *
 * Runtime: pure (no `electron`, no `node:*`).
 */
import type { Rle } from './api.js';

/** Encode a row-major mask (non-zero = 1) of `height` x `width` into COCO RLE. */
export function encodeRle(mask: ArrayLike<number>, height: number, width: number): Rle {
  if (mask.length !== height * width) {
    throw new Error(`encodeRle: mask has ${mask.length} pixels, expected ${height}x${width}=${height * width}`);
  }
  const counts: number[] = [];
  let current = 0; // value of the run being counted; COCO starts with 0s
  let run = 0;
  for (let x = 0; x < width; x++) {
    for (let i = x; i < mask.length; i += width) {
      const v = mask[i] ? 1 : 0;
      if (v === current) {
        run++;
      } else {
        counts.push(run);
        current = v;
        run = 1;
      }
    }
  }
  counts.push(run);
  return { size: [height, width], counts };
}

/** Decode COCO RLE into a row-major mask with 1 inside and 0 outside. Throws if the runs do not cover the image exactly. */
export function decodeRle(rle: Rle): Uint8Array {
  const [height, width] = rle.size;
  checkRle(rle);
  const out = new Uint8Array(height * width);
  let p = 0; // column-major position
  for (let k = 0; k < rle.counts.length; k++) {
    const n = rle.counts[k]!;
    if (k % 2 === 1) {
      for (let j = p; j < p + n; j++) {
        const x = Math.floor(j / height);
        const y = j - x * height;
        out[y * width + x] = 1;
      }
    }
    p += n;
  }
  return out;
}

/** Number of pixels inside the mask. */
export function rleArea(rle: Rle): number {
  let area = 0;
  for (let k = 1; k < rle.counts.length; k += 2) area += rle.counts[k]!;
  return area;
}

/** Throws an Error naming what is wrong when the runs do not sum to height*width. */
export function checkRle(rle: Rle): void {
  const [height, width] = rle.size;
  let total = 0;
  for (const n of rle.counts) {
    if (!Number.isInteger(n) || n < 0) throw new Error(`RLE run ${n} is not a non-negative integer`);
    total += n;
  }
  if (total !== height * width) {
    throw new Error(`RLE runs sum to ${total}, expected ${height}x${width}=${height * width}`);
  }
}

/** Bounding box [x, y, w, h] of the mask (COCO order), or null when empty. */
export function rleBbox(rle: Rle): [number, number, number, number] | null {
  const [height] = rle.size;
  let minX = Infinity, minY = Infinity, maxX = -1, maxY = -1;
  let p = 0;
  for (let k = 0; k < rle.counts.length; k++) {
    const n = rle.counts[k]!;
    if (k % 2 === 1 && n > 0) {
      const x0 = Math.floor(p / height);
      const x1 = Math.floor((p + n - 1) / height);
      minX = Math.min(minX, x0);
      maxX = Math.max(maxX, x1);
      if (x1 > x0) {
        minY = 0;
        maxY = height - 1;
      } else {
        minY = Math.min(minY, p - x0 * height);
        maxY = Math.max(maxY, p + n - 1 - x0 * height);
      }
    }
    p += n;
  }
  if (maxX < 0) return null;
  return [minX, minY, maxX - minX + 1, maxY - minY + 1];
}

/**
 * COCO's compact string form of the counts (pycocotools `rleToString`): each count is
 * delta-coded against the count two places back (from the third on), then written as
 * 5-bit groups with a continuation bit, offset by 48 into printable ASCII.
 */
export function countsToString(counts: readonly number[]): string {
  let s = '';
  for (let i = 0; i < counts.length; i++) {
    let x = counts[i]!;
    if (i > 2) x -= counts[i - 2]!;
    let more = true;
    while (more) {
      let c = x & 0x1f;
      // Arithmetic shift keeps the sign, so negative deltas terminate like pycocotools.
      x = Math.floor(x / 32);
      more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      s += String.fromCharCode(c + 48);
    }
  }
  return s;
}

/** Inverse of `countsToString` (pycocotools `rleFrString`). Throws on a malformed string. */
export function countsFromString(s: string): number[] {
  const counts: number[] = [];
  let p = 0;
  while (p < s.length) {
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      if (p >= s.length) throw new Error('RLE string ends inside a count');
      const c = s.charCodeAt(p) - 48;
      if (c < 0 || c > 63) throw new Error(`RLE string has an invalid character at ${p}`);
      x += (c & 0x1f) * 2 ** (5 * k);
      more = (c & 0x20) !== 0;
      p++;
      k++;
      if (!more && c & 0x10) x -= 2 ** (5 * k);
    }
    if (counts.length > 2) x += counts[counts.length - 2]!;
    counts.push(x);
  }
  return counts;
}

/** IoU of two binary masks of the same size (1 when both are empty). */
export function maskIoU(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ? 1 : 0;
    const y = b[i] ? 1 : 0;
    inter += x & y;
    union += x | y;
  }
  return union === 0 ? 1 : inter / union;
}
