/**
 * Mask overlay: composites the layers of a slice into an image-sized RGBA canvas (only the
 * region that changed), then draws it over cornerstone's canvas with the same affine
 * transform cornerstone uses, derived from `pixelToCanvas`, so zoom, pan, flips and
 * rotation keep masks aligned pixel for pixel.
 *
 * Runtime: browser (DOM).
 */
import { clearLayer, markDrawn } from './layerCanvas';
import * as cornerstone from 'cornerstone-core';
import type { SliceMasks } from '../lib/masks';
import { parseLayerKey } from '../lib/masks';
import type { Box, Point } from '../lib/raster';

export function hexToRgb(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

export class MaskCompositor {
  readonly canvas = document.createElement('canvas');
  private readonly ctx = this.canvas.getContext('2d')!;
  private data: ImageData | null = null;
  private width = 0;
  private height = 0;
  /** True while the canvas is known to be fully transparent (most slices of a series have no masks). */
  blank = true;

  /** Recomposite `box` (or the whole slice). `colors` maps label id to its colour; unknown labels are skipped. */
  /**
   * `active` is the layer being edited ("label:instance"): other instances of the same label
   * are drawn darker so several lesions of one class stay distinguishable.
   */
  render(slice: SliceMasks, colors: Map<number, [number, number, number]>, outlineOnly: boolean, box: Box | null = null, active: string | null = null): void {
    if (slice.width !== this.width || slice.height !== this.height || !this.data) {
      this.width = this.canvas.width = slice.width;
      this.height = this.canvas.height = slice.height;
      this.data = this.ctx.createImageData(slice.width, slice.height);
      this.blank = true;
      box = null;
    }
    if (slice.layers.size === 0) {
      // Nothing to draw: skip the per-pixel pass, which would otherwise cost every slice change.
      if (!this.blank) {
        this.data.data.fill(0);
        this.ctx.clearRect(0, 0, this.width, this.height);
        this.blank = true;
      }
      return;
    }
    this.blank = false;
    const w = this.width;
    const h = this.height;
    const b = box ? { x0: Math.max(0, box.x0 - 1), y0: Math.max(0, box.y0 - 1), x1: Math.min(w, box.x1 + 1), y1: Math.min(h, box.y1 + 1) } : { x0: 0, y0: 0, x1: w, y1: h };
    const px = this.data.data;
    for (let y = b.y0; y < b.y1; y++) px.fill(0, (y * w + b.x0) * 4, (y * w + b.x1) * 4);
    const activeLabel = active ? parseLayerKey(active).labelId : null;
    // The active layer last, so it is on top where instances overlap.
    const layers = [...slice.layers].sort((a, b) => Number(a[0] === active) - Number(b[0] === active));
    for (const [key, mask] of layers) {
      const base = colors.get(parseLayerKey(key).labelId);
      if (!base) continue;
      const dim = active !== null && key !== active && parseLayerKey(key).labelId === activeLabel;
      const rgb: [number, number, number] = dim ? [base[0] * 0.55, base[1] * 0.55, base[2] * 0.55] : base;
      for (let y = b.y0; y < b.y1; y++) {
        const row = y * w;
        for (let x = b.x0; x < b.x1; x++) {
          const i = row + x;
          if (!mask[i]) continue;
          if (outlineOnly && x > 0 && y > 0 && x < w - 1 && y < h - 1 && mask[i - 1] && mask[i + 1] && mask[i - w] && mask[i + w]) continue;
          const o = i * 4;
          px[o] = rgb[0];
          px[o + 1] = rgb[1];
          px[o + 2] = rgb[2];
          px[o + 3] = 255;
        }
      }
    }
    this.ctx.putImageData(this.data, 0, 0, b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0);
  }
}

/** cornerstone's image->canvas transform as a 2D affine [a, b, c, d, e, f]. */
export function imageToCanvasTransform(element: HTMLElement): [number, number, number, number, number, number] {
  const o = cornerstone.pixelToCanvas(element, { x: 0, y: 0 });
  const ex = cornerstone.pixelToCanvas(element, { x: 1, y: 0 });
  const ey = cornerstone.pixelToCanvas(element, { x: 0, y: 1 });
  return [ex.x - o.x, ex.y - o.y, ey.x - o.x, ey.y - o.y, o.x, o.y];
}

export interface OverlayExtras {
  opacity: number;
  outlineOnly: boolean;
  /** Polygon being drawn, in image coordinates. */
  polygon: Point[] | null;
  polygonColor: string;
  /** Brush outline at the cursor, in image coordinates. */
}

export function drawOverlay(target: HTMLCanvasElement, element: HTMLElement, compositor: MaskCompositor | null, extras: OverlayExtras): void {
  const ctx = clearLayer(target);
  let t: [number, number, number, number, number, number];
  try {
    t = imageToCanvasTransform(element);
  } catch {
    return; // no image displayed yet
  }
  if ((compositor && !compositor.blank) || (extras.polygon && extras.polygon.length > 0)) markDrawn(target);
  if (compositor && !compositor.blank) {
    ctx.save();
    ctx.globalAlpha = extras.outlineOnly ? 1 : extras.opacity;
    ctx.imageSmoothingEnabled = false;
    ctx.setTransform(...t);
    ctx.drawImage(compositor.canvas, 0, 0);
    ctx.restore();
  }
  const toCanvas = (p: Point) => ({ x: t[0] * p.x + t[2] * p.y + t[4], y: t[1] * p.x + t[3] * p.y + t[5] });
  if (extras.polygon && extras.polygon.length > 0) {
    ctx.save();
    ctx.strokeStyle = extras.polygonColor;
    ctx.lineWidth = 1.5;
    ctx.setLineDash([4, 3]);
    ctx.beginPath();
    extras.polygon.forEach((p, i) => {
      const c = toCanvas(p);
      if (i === 0) ctx.moveTo(c.x, c.y);
      else ctx.lineTo(c.x, c.y);
    });
    ctx.stroke();
    const first = toCanvas(extras.polygon[0]!);
    ctx.setLineDash([]);
    ctx.strokeRect(first.x - 3, first.y - 3, 6, 6);
    ctx.restore();
  }
}
