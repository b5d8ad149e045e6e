/**
 * The RECIST calipers of the selected segment, drawn on the image where the segment is
 * largest: the long axis (solid) and the short axis (dashed), each with end ticks and its
 * length, in the unit it was measured in. SegmentMeasurements.svelte says which calipers are
 * shown (caliperModel.ts `showCalipers`); the viewport draws them over its mask overlay with
 * cornerstone's image->canvas transform on a canvas of their own (the mask overlay holds masks only), so zoom, pan, rotation and flips keep them on the
 * pixels they measure. Runtime: browser (canvas).
 */
import { imageToCanvasTransform } from '../viewer/overlay';
import { clearLayer, markDrawn } from '../viewer/layerCanvas';
import { caliperLines, calipersOn, type Affine } from './caliperModel';

export { onCalipersChange, showCalipers } from './caliperModel';

const LONG = '#ffd400';
const SHORT = '#2fd3ff';

/** Draw the calipers shown on `at` (the slice on screen) over `target`; nothing when none are shown there. */
export function drawCalipers(target: HTMLCanvasElement, element: HTMLElement, at: { imageId: number; frame: number } | null): void {
  clearLayer(target);
  const c = at ? calipersOn(at.imageId, at.frame) : null;
  if (!c) return;
  let t: Affine;
  try {
    t = imageToCanvasTransform(element);
  } catch {
    return; // no image displayed yet
  }
  markDrawn(target);
  const ctx = target.getContext('2d')!;
  ctx.save();
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  for (const [caliper, color, dash] of [
    [c.long, LONG, []],
    [c.short, SHORT, [6, 4]],
  ] as const) {
    const l = caliperLines(caliper, t);
    // A dark halo under the line keeps it visible on bright and dark tissue alike.
    for (const [stroke, width] of [
      ['rgba(0,0,0,0.7)', 3.5],
      [color, 1.6],
    ] as const) {
      ctx.strokeStyle = stroke;
      ctx.lineWidth = width;
      ctx.setLineDash(stroke === color ? [...dash] : []);
      ctx.beginPath();
      ctx.moveTo(l.from.x, l.from.y);
      ctx.lineTo(l.to.x, l.to.y);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.beginPath();
      for (const [a, b] of l.ticks) {
        ctx.moveTo(a.x, a.y);
        ctx.lineTo(b.x, b.y);
      }
      ctx.stroke();
    }
    ctx.font = '12px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    ctx.textAlign = l.label.x >= l.to.x ? 'left' : 'right';
    ctx.lineWidth = 3;
    ctx.strokeStyle = 'rgba(0,0,0,0.8)';
    ctx.strokeText(l.text, l.label.x, l.label.y);
    ctx.fillStyle = color;
    ctx.fillText(l.text, l.label.x, l.label.y);
  }
  ctx.restore();
}
