/**
 * Small pure helpers of the SAM tool: mask bounds, click-or-drag, box from a drag.
 *
 * Runtime: pure.
 */
import type { SamBox } from '../../../electron/contract/api';

// Mask bounds are shared with the propagation service (electron/contract/geometry.ts).
export { maskBox } from '../../../electron/contract/geometry';

/** A pointer gesture is a drag (a box) once it moved this many screen pixels. */
export const DRAG_THRESHOLD_PX = 5;

export function isDrag(dxScreen: number, dyScreen: number): boolean {
  return Math.hypot(dxScreen, dyScreen) >= DRAG_THRESHOLD_PX;
}

/** A box from two image points, ordered and clamped to the image. */
export function boxFrom(a: { x: number; y: number }, b: { x: number; y: number }, width: number, height: number): SamBox {
  const cx = (v: number) => Math.min(Math.max(v, 0), width - 1);
  const cy = (v: number) => Math.min(Math.max(v, 0), height - 1);
  return { x0: cx(Math.min(a.x, b.x)), y0: cy(Math.min(a.y, b.y)), x1: cx(Math.max(a.x, b.x)), y1: cy(Math.max(a.y, b.y)) };
}

/** Left click adds a positive point; right click or Alt+click a negative one. */
export function pointLabel(button: number, altKey: boolean): 0 | 1 {
  return button === 2 || altKey ? 0 : 1;
}

/**
 * From the viewer's continuous image coordinates (cornerstone's pageToPixel: pixel i spans
 * [i, i+1), its centre is i + 0.5) to SAM's, where integer i is the centre of pixel i (the
 * prompt encoder adds 0.5 itself): subtract half a pixel.
 */
export function toSamCoords(p: { x: number; y: number }): { x: number; y: number } {
  return { x: p.x - 0.5, y: p.y - 0.5 };
}
