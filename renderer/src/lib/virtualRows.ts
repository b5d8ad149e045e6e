/**
 * Windowed rendering of a long list whose rows have known heights: only the rows in (or near)
 * the viewport exist in the DOM, with spacers above and below standing in for the rest. A
 * 50,000-image folder of industrial images is 50,000 rows; drawing them all takes seconds.
 *
 * Runtime: pure.
 */

/** offsets[i] = top of row i; offsets[n] = total height. */
export function rowOffsets(heights: readonly number[]): Float64Array {
  const out = new Float64Array(heights.length + 1);
  for (let i = 0; i < heights.length; i++) out[i + 1] = out[i]! + heights[i]!;
  return out;
}

export interface RowWindow {
  /** First row to render (inclusive) and the one after the last (exclusive). */
  start: number;
  end: number;
  /** Heights of the spacers before and after the rendered rows. */
  before: number;
  after: number;
}

/** Index of the row that contains `y` (the last row when y is past the end). */
function rowAt(offsets: Float64Array, y: number): number {
  const n = offsets.length - 1;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid]! <= y) lo = mid;
    else hi = mid - 1;
  }
  return Math.max(0, lo);
}

/** The rows that cover [scrollTop - overscan, scrollTop + viewport + overscan]. */
export function rowWindow(offsets: Float64Array, scrollTop: number, viewport: number, overscan: number): RowWindow {
  const n = offsets.length - 1;
  const total = offsets[n]!;
  if (n === 0) return { start: 0, end: 0, before: 0, after: 0 };
  const top = Math.max(0, Math.min(scrollTop, total) - overscan);
  const bottom = Math.max(top, scrollTop + Math.max(0, viewport) + overscan);
  const start = rowAt(offsets, top);
  const end = Math.min(n, rowAt(offsets, bottom) + 1);
  return { start, end, before: offsets[start]!, after: total - offsets[end]! };
}

/** The scrollTop that brings row `i` into view, or null when it already is. */
export function scrollToShow(offsets: Float64Array, i: number, scrollTop: number, viewport: number): number | null {
  const top = offsets[i];
  const bottom = offsets[i + 1];
  if (top === undefined || bottom === undefined) return null;
  if (top < scrollTop) return top;
  if (bottom > scrollTop + viewport) return Math.max(0, bottom - viewport);
  return null;
}
