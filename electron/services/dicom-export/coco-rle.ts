/**
 * COCO's compressed RLE strings, as pycocotools writes and reads them (maskApi.c rleToString
 * / rleFrString), and the COCO bounding box of a mask. Runtime: pure.
 *
 * The runs are the app's (electron/contract/rle.ts: column-major, starting with a 0-run).
 * Each run, from the fourth on, is stored as its difference to the run two before; every
 * value is cut into 5-bit groups, least significant first, with 0x20 meaning "more follows"
 * and 0x10 the sign of the last group, and each group is written as the character 48 + group.
 */
import type { Rle } from '../../contract/api.js';

/** pycocotools' `counts` string of a run list. */
export function rleToString(counts: readonly number[]): string {
  let s = '';
  for (let i = 0; i < counts.length; i++) {
    let x = counts[i]!;
    if (i > 2) x -= counts[i - 2]!; // pycocotools' own rule: deltas from the fourth run on
    for (let more = true; more; ) {
      let c = x & 0x1f;
      x >>= 5; // arithmetic: negative deltas keep their sign
      more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      s += String.fromCharCode(c + 48);
    }
  }
  return s;
}

/** The run list of a pycocotools `counts` string; throws on a character outside the code. */
export function rleFromString(s: string): number[] {
  const counts: number[] = [];
  let p = 0;
  while (p < s.length) {
    let x = 0;
    let k = 0;
    for (let more = true; more; ) {
      if (p >= s.length) throw new Error('COCO RLE string ends inside a number');
      const c = s.charCodeAt(p) - 48;
      if (c < 0 || c > 63) throw new Error(`COCO RLE string has ${JSON.stringify(s[p])} at ${p}`);
      x += (c & 0x1f) * 2 ** (5 * k);
      more = (c & 0x20) !== 0;
      p++;
      k++;
      if (!more && c & 0x10) x -= 2 ** (5 * k); // the last group's top bit is the sign
    }
    if (counts.length > 2) x += counts[counts.length - 2]!;
    counts.push(x);
  }
  return counts;
}

/** COCO's compressed RLE of a mask: `{size: [h, w], counts: string}`. */
export function toCocoRle(rle: Rle): { size: [number, number]; counts: string } {
  return { size: [rle.size[0], rle.size[1]], counts: rleToString(rle.counts) };
}

/** [x, y, width, height] of the pixels of a row-major mask (pycocotools' toBbox); zeros when empty. */
export function maskBbox(mask: ArrayLike<number>, height: number, width: number): [number, number, number, number] {
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (!mask[row + x]) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  return x1 < 0 ? [0, 0, 0, 0] : [x0, y0, x1 - x0 + 1, y1 - y0 + 1];
}
