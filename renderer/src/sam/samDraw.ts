/**
 * Draws the SAM preview over the image: the candidate mask (filled, with its outline), the
 * prompt points (green +, red −) and the box, with cornerstone's image->canvas transform.
 *
 * Runtime: browser (DOM).
 */
import { clearLayer, markDrawn } from '../viewer/layerCanvas';
import type { SamBox, SamPoint } from '../../../electron/contract/api';

type Affine = [number, number, number, number, number, number];

const FILL: [number, number, number] = [0, 200, 255];

export class SamPreview {
  private readonly canvas = document.createElement('canvas');
  private readonly ctx = this.canvas.getContext('2d')!;
  private drawnFor: Uint8Array | null = null;

  /** Paint `mask` into the image-sized preview canvas (once per mask). */
  private paint(mask: Uint8Array, width: number, height: number): void {
    if (this.drawnFor === mask) return;
    this.canvas.width = width;
    this.canvas.height = height;
    const img = this.ctx.createImageData(width, height);
    const px = img.data;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = y * width + x;
        if (!mask[i]) continue;
        const edge = x === 0 || y === 0 || x === width - 1 || y === height - 1 || !mask[i - 1] || !mask[i + 1] || !mask[i - width] || !mask[i + width];
        const o = i * 4;
        px[o] = edge ? 255 : FILL[0];
        px[o + 1] = edge ? 255 : FILL[1];
        px[o + 2] = edge ? 255 : FILL[2];
        px[o + 3] = edge ? 255 : 110;
      }
    }
    this.ctx.putImageData(img, 0, 0);
    this.drawnFor = mask;
  }

  draw(target: HTMLCanvasElement, t: Affine | null, s: { mask: Uint8Array | null; width: number; height: number; points: SamPoint[]; box: SamBox | null; dragBox: SamBox | null }): void {
    const ctx = clearLayer(target);
    if (!t || (!s.mask && !s.box && !s.dragBox && s.points.length === 0)) return;
    markDrawn(target);
    if (s.mask) {
      this.paint(s.mask, s.width, s.height);
      ctx.save();
      ctx.imageSmoothingEnabled = false;
      ctx.setTransform(...t);
      ctx.drawImage(this.canvas, 0, 0);
      ctx.restore();
    }
    // Prompts are in SAM coordinates (pixel centres at integers): +0.5 back to the viewer's.
    const toCanvas = (x: number, y: number) => ({ x: t[0] * (x + 0.5) + t[2] * (y + 0.5) + t[4], y: t[1] * (x + 0.5) + t[3] * (y + 0.5) + t[5] });
    for (const b of [s.box, s.dragBox]) {
      if (!b) continue;
      const a = toCanvas(b.x0, b.y0);
      const c = toCanvas(b.x1, b.y1);
      ctx.save();
      ctx.strokeStyle = '#ffd400';
      ctx.setLineDash(b === s.dragBox ? [5, 4] : []);
      ctx.lineWidth = 1.5;
      ctx.strokeRect(a.x, a.y, c.x - a.x, c.y - a.y);
      ctx.restore();
    }
    for (const p of s.points) {
      const c = toCanvas(p.x, p.y);
      ctx.save();
      ctx.fillStyle = p.label === 1 ? '#22dd55' : '#ff3344';
      ctx.strokeStyle = '#000';
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.arc(c.x, c.y, 5, 0, Math.PI * 2);
      ctx.fill();
      ctx.stroke();
      ctx.strokeStyle = '#fff';
      ctx.beginPath();
      ctx.moveTo(c.x - 3, c.y);
      ctx.lineTo(c.x + 3, c.y);
      if (p.label === 1) {
        ctx.moveTo(c.x, c.y - 3);
        ctx.lineTo(c.x, c.y + 3);
      }
      ctx.stroke();
      ctx.restore();
    }
  }
}
