/**
 * One step of carrying a mask to the next slice, as pure decisions: the SAM prompt made from
 * the neighbour's mask (its bounds as a box, a few positive points well inside it), and
 * whether the mask SAM returns still belongs to the lesion or the lesion has ended.
 * Runtime: pure.
 */
import { maskBox, type PixelBox } from '../../contract/geometry.js';
import { squaredDistanceTo } from './slice-interpolation.js';

// Re-exported: the propagation's callers and tests take the mask helpers from here.
export { maskBox };

export type Box = PixelBox;

export interface PositivePoint {
  x: number;
  y: number;
  label: 1;
}

/** Pixels set in a mask. */
export function maskArea(mask: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) n++;
  return n;
}

/**
 * The prompt for the next slice from this slice's mask. The box is the mask's bounds grown
 * by `margin` of its size (at least 2 px) each side, because a lesion may widen from one
 * slice to the next and SAM keeps to its box. The points sit in the mask's core (at least
 * 60% of its deepest inside distance from the border), where a slice further on still has
 * lesion when the outline has moved: the deepest pixel, then up to `points - 1` core pixels
 * as far as possible from those already chosen, so they span the core rather than bunch up.
 */
export function promptFromMask(mask: Uint8Array, width: number, height: number, opts: { points?: number; margin?: number } = {}): { box: Box; points: PositivePoint[] } | null {
  const bounds = maskBox(mask, width, height);
  if (!bounds) return null;
  const margin = opts.margin ?? 0.1;
  const mx = Math.max(2, (bounds.x1 - bounds.x0) * margin);
  const my = Math.max(2, (bounds.y1 - bounds.y0) * margin);
  const box = { x0: Math.max(0, bounds.x0 - mx), y0: Math.max(0, bounds.y0 - my), x1: Math.min(width, bounds.x1 + mx), y1: Math.min(height, bounds.y1 + my) };
  const depth = squaredDistanceTo(mask, width, height, 0);
  let best = -1;
  for (let i = 0; i < depth.length; i++) if (mask[i] && (best < 0 || depth[i]! > depth[best]!)) best = i;
  const core: number[] = [];
  const coreMin = 0.36 * depth[best]!; // (0.6 of the deepest distance)^2
  for (let i = 0; i < depth.length; i++) if (mask[i] && depth[i]! >= coreMin) core.push(i);
  const chosen = [best];
  const want = Math.max(1, opts.points ?? 3);
  // Points closer than 3 px add nothing a single point does not say.
  while (chosen.length < want) {
    let far = -1;
    let farD = 9;
    for (const i of core) {
      const x = i % width;
      const y = (i - x) / width;
      let d = Infinity;
      for (const c of chosen) d = Math.min(d, (x - (c % width)) ** 2 + (y - Math.floor(c / width)) ** 2);
      if (d > farD) {
        farD = d;
        far = i;
      }
    }
    if (far < 0) break;
    chosen.push(far);
  }
  return { box, points: chosen.map((i) => ({ x: (i % width) + 0.5, y: Math.floor(i / width) + 0.5, label: 1 as const })) };
}

/**
 * The parts of SAM's mask that continue the neighbour's: its 8-connected pieces that overlap
 * the neighbour's mask. A lesion runs on from slice to slice; a piece elsewhere (a bright
 * vessel beside it, which SAM may add even outside its box) is not this lesion. Returns a new
 * mask; empty when no piece overlaps.
 */
export function keepConnectedTo(mask: Uint8Array, guide: ArrayLike<number>, width: number, height: number): Uint8Array {
  const out = new Uint8Array(mask.length);
  const seen = new Uint8Array(mask.length);
  const stack = new Int32Array(mask.length);
  for (let s = 0; s < mask.length; s++) {
    if (!mask[s] || seen[s]) continue;
    // Flood one piece, noting whether it touches the guide.
    let top = 0;
    let touches = false;
    const piece: number[] = [];
    stack[top++] = s;
    seen[s] = 1;
    while (top > 0) {
      const i = stack[--top]!;
      piece.push(i);
      if (guide[i]) touches = true;
      const x = i % width;
      const y = (i - x) / width;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= width || (dx === 0 && dy === 0)) continue;
          const j = yy * width + xx;
          if (mask[j] && !seen[j]) {
            seen[j] = 1;
            stack[top++] = j;
          }
        }
      }
    }
    if (touches) for (const i of piece) out[i] = 1;
  }
  return out;
}

export type SliceVerdict = { keep: true } | { keep: false; reason: 'empty' | 'iou' | 'area'; value: number | null };

/**
 * Whether SAM's mask on the next slice continues the lesion: not when SAM found nothing, when
 * its predicted IoU is below `minIoU`, or when the area changed by more than `minAreaRatio`
 * allows either way (shrinking below it: the lesion is ending; growing beyond its inverse: the
 * mask leaked into the neighbouring tissue).
 */
export function judgeSlice(r: { iou: number; area: number }, previousArea: number, th: { minIoU: number; minAreaRatio: number }): SliceVerdict {
  if (r.area === 0) return { keep: false, reason: 'empty', value: null };
  if (r.iou < th.minIoU) return { keep: false, reason: 'iou', value: r.iou };
  const ratio = previousArea > 0 ? r.area / previousArea : Infinity;
  if (ratio < th.minAreaRatio || (th.minAreaRatio > 0 && ratio > 1 / th.minAreaRatio)) return { keep: false, reason: 'area', value: ratio };
  return { keep: true };
}
