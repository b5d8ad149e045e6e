/**
 * Viewport camera operations on a cornerstone element: window, zoom about a point, pan, and
 * the view-only rotation, flips and inversion.
 *
 * Runtime: browser (DOM).
 */
import * as cornerstone from 'cornerstone-core';
import type { Window } from '../lib/windowing';
import { translationForShift, type Rotation, type ViewOrientation } from './viewTransform';

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
  // The cursor now sits over `after`: move the image by the canvas distance from `before` to
  // it (the pan is on screen axes, so with a rotation or flip it is not the image-pixel drift).
  const a = cornerstone.pixelToCanvas(element, after);
  const b = cornerstone.pixelToCanvas(element, before);
  shiftBy(element, vp, a.x - b.x, a.y - b.y);
}

function shiftBy(element: HTMLElement, vp: cornerstone.Viewport, dx: number, dy: number): void {
  const img = cornerstone.getEnabledElement(element).image;
  const spacing: [number, number] | null = img?.rowPixelSpacing && img.columnPixelSpacing ? [img.rowPixelSpacing, img.columnPixelSpacing] : null;
  const d = translationForShift(((((vp.rotation ?? 0) % 360) + 360) % 360) as Rotation, vp.scale, spacing, dx, dy);
  vp.translation = { x: vp.translation.x + d.x, y: vp.translation.y + d.y };
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
  shiftBy(element, vp, dx, dy);
}

/**
 * Show the image turned and mirrored as `o` says, inverted or not (`invert`: the user's
 * choice, on top of what the file asks for, MONOCHROME1 being shown inverted already).
 * `refit`: fit the turned image to the viewport (a quarter turn changes what fits).
 */
export function setView(element: HTMLElement, o: ViewOrientation, invert: boolean, refit: boolean): void {
  const vp = cornerstone.getViewport(element);
  if (!vp) return;
  vp.rotation = o.rotation;
  vp.hflip = o.hflip;
  vp.vflip = o.vflip;
  vp.invert = invert;
  cornerstone.setViewport(element, vp);
  if (refit) cornerstone.fitToWindow(element);
}
