/**
 * Rasterisation of annotation edits onto binary masks.
 *
 * Masks are row-major `Uint8Array`s of width*height (1 = inside). Every function returns
 * the bounding box it touched (or null), so the caller can record an undo patch and
 * redraw only that region.
 *
 * Runtime: pure.
 */

export interface Box {
  x0: number;
  y0: number;
  /** exclusive */
  x1: number;
  /** exclusive */
  y1: number;
}

export interface Point {
  x: number;
  y: number;
}

export function unionBox(a: Box | null, b: Box | null): Box | null {
  if (!a) return b;
  if (!b) return a;
  return { x0: Math.min(a.x0, b.x0), y0: Math.min(a.y0, b.y0), x1: Math.max(a.x1, b.x1), y1: Math.max(a.y1, b.y1) };
}

function clipBox(b: Box, width: number, height: number): Box | null {
  const x0 = Math.max(0, b.x0);
  const y0 = Math.max(0, b.y0);
  const x1 = Math.min(width, b.x1);
  const y1 = Math.min(height, b.y1);
  return x0 < x1 && y0 < y1 ? { x0, y0, x1, y1 } : null;
}

/**
 * Paints a filled disc of `radius` image pixels centred on (cx, cy) (image coordinates,
 * pixel centres at integer + 0.5). radius < 0.5 still paints the pixel under the centre,
 * so a 1-pixel brush works.
 */
export function paintDisc(mask: Uint8Array, width: number, height: number, cx: number, cy: number, radius: number, value: 0 | 1): Box | null {
  const r = Math.max(radius, 0.5);
  const box = clipBox({ x0: Math.floor(cx - r), y0: Math.floor(cy - r), x1: Math.ceil(cx + r), y1: Math.ceil(cy + r) }, width, height);
  if (!box) return null;
  const r2 = r * r;
  for (let y = box.y0; y < box.y1; y++) {
    const dy = y + 0.5 - cy;
    const row = y * width;
    for (let x = box.x0; x < box.x1; x++) {
      const dx = x + 0.5 - cx;
      if (dx * dx + dy * dy <= r2) mask[row + x] = value;
    }
  }
  return box;
}

/**
 * Paints a stroke segment from a to b by stamping discs close enough together that a fast
 * mouse leaves no gaps (spacing at most a quarter of the radius, at least every pixel).
 */
export function paintStroke(mask: Uint8Array, width: number, height: number, a: Point, b: Point, radius: number, value: 0 | 1): Box | null {
  const dist = Math.hypot(b.x - a.x, b.y - a.y);
  const step = Math.max(0.5, Math.min(1, radius / 4));
  const n = Math.max(1, Math.ceil(dist / step));
  let box: Box | null = null;
  for (let i = 0; i <= n; i++) {
    const t = i / n;
    box = unionBox(box, paintDisc(mask, width, height, a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t, radius, value));
  }
  return box;
}

/**
 * Fills a polygon (even-odd rule, sampled at pixel centres) with `value`. Used by both the
 * click-by-click polygon tool and the freehand lasso. Fewer than 3 vertices fills nothing.
 */
export function fillPolygon(mask: Uint8Array, width: number, height: number, pts: readonly Point[], value: 0 | 1): Box | null {
  if (pts.length < 3) return null;
  let minY = Infinity;
  let maxY = -Infinity;
  for (const p of pts) {
    minY = Math.min(minY, p.y);
    maxY = Math.max(maxY, p.y);
  }
  const yStart = Math.max(0, Math.floor(minY));
  const yEnd = Math.min(height, Math.ceil(maxY));
  let box: Box | null = null;
  const xs: number[] = [];
  for (let y = yStart; y < yEnd; y++) {
    const sy = y + 0.5;
    xs.length = 0;
    for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) {
      const pi = pts[i]!;
      const pj = pts[j]!;
      // Half-open rule on y so a vertex shared by two edges is counted once.
      if (pi.y <= sy !== pj.y <= sy) xs.push(pi.x + ((sy - pi.y) * (pj.x - pi.x)) / (pj.y - pi.y));
    }
    xs.sort((a, b) => a - b);
    for (let k = 0; k + 1 < xs.length; k += 2) {
      // Pixel x is inside when its centre x+0.5 lies in [xs[k], xs[k+1]).
      const x0 = Math.max(0, Math.ceil(xs[k]! - 0.5));
      const x1 = Math.min(width, Math.ceil(xs[k + 1]! - 0.5));
      if (x1 <= x0) continue;
      mask.fill(value, y * width + x0, y * width + x1);
      box = unionBox(box, { x0, y0: y, x1, y1: y + 1 });
    }
  }
  return box;
}

/** Copies the pixels of `box` out of a mask (for undo patches). */
export function extractPatch(mask: Uint8Array, width: number, box: Box): Uint8Array {
  const w = box.x1 - box.x0;
  const out = new Uint8Array(w * (box.y1 - box.y0));
  for (let y = box.y0; y < box.y1; y++) out.set(mask.subarray(y * width + box.x0, y * width + box.x1), (y - box.y0) * w);
  return out;
}

/** Writes a patch taken with `extractPatch` back into a mask. */
export function applyPatch(mask: Uint8Array, width: number, box: Box, patch: Uint8Array): void {
  const w = box.x1 - box.x0;
  for (let y = box.y0; y < box.y1; y++) mask.set(patch.subarray((y - box.y0) * w, (y - box.y0 + 1) * w), y * width + box.x0);
}

/** Number of non-zero pixels. */
export function countSet(mask: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) n++;
  return n;
}

/**
 * Boundary pixels of a mask: inside pixels with at least one 4-neighbour outside (the image
 * edge counts as outside). Drives the outline view.
 */
export function outline(mask: Uint8Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!mask[i]) continue;
      if (x === 0 || y === 0 || x === width - 1 || y === height - 1 || !mask[i - 1] || !mask[i + 1] || !mask[i - width] || !mask[i + width]) out[i] = 1;
    }
  }
  return out;
}
