/**
 * Viewport camera operations on a cornerstone element: window, zoom about a point, pan.
 *
 * Runtime: browser (DOM).
 */
import * as cornerstone from 'cornerstone-core';
import type { Window } from '../lib/windowing';

export const MIN_SCALE = 0.05;
export const MAX_SCALE = 40;

const clampScale = (s: number) => Math.min(MAX_SCALE, Math.max(MIN_SCALE, s));

export function setVoi(element: HTMLElement, w: Window): void {
  const vp = cornerstone.getViewport(element);
  if (!vp) return;
  vp.voi = { windowCenter: w.center, windowWidth: w.width };
  cornerstone.setViewport(element, vp);
}

/** Zoom by `factor`, keeping the image point under (pageX, pageY) where it is. */
export function zoomAt(element: HTMLElement, factor: number, pageX: number, pageY: number): void {
  const vp = cornerstone.getViewport(element);
  if (!vp) return;
  const before = cornerstone.pageToPixel(element, pageX, pageY);
  vp.scale = clampScale(vp.scale * factor);
  cornerstone.setViewport(element, vp);
  const after = cornerstone.pageToPixel(element, pageX, pageY);
  // cornerstone's translation is in image pixels, so the cursor's drift is the correction.
  vp.translation = { x: vp.translation.x + (after.x - before.x), y: vp.translation.y + (after.y - before.y) };
  cornerstone.setViewport(element, vp);
}

export function setScale(element: HTMLElement, scale: number): void {
  const vp = cornerstone.getViewport(element);
  if (!vp) return;
  vp.scale = clampScale(scale);
  cornerstone.setViewport(element, vp);
}

/** Pan by a screen distance (CSS pixels). */
export function panBy(element: HTMLElement, dx: number, dy: number): void {
  const vp = cornerstone.getViewport(element);
  if (!vp) return;
  vp.translation = { x: vp.translation.x + dx / vp.scale, y: vp.translation.y + dy / vp.scale };
  cornerstone.setViewport(element, vp);
}
