/**
 * A mask as COCO writes it: compressed RLE (`counts` as pycocotools' string, see
 * contract/rle.ts countsToString) and its bounding box. Runtime: pure.
 *
 * The runs are the app's (column-major, starting with a 0-run), which are COCO's.
 */
import type { Rle } from '../../contract/api.js';
import { countsToString, rleBbox } from '../../contract/rle.js';

/** COCO's compressed RLE of a mask: `{size: [h, w], counts: string}`. */
export function toCocoRle(rle: Rle): { size: [number, number]; counts: string } {
  return { size: [rle.size[0], rle.size[1]], counts: countsToString(rle.counts) };
}

/** [x, y, width, height] of the mask (pycocotools' toBbox): zeros when it is empty. */
export function cocoBbox(rle: Rle): [number, number, number, number] {
  return rleBbox(rle) ?? [0, 0, 0, 0];
}
