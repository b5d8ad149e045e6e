/**
 * The scale bar: a round length (1, 2 or 5 times a power of ten) drawn as long as it is on
 * screen, in mm where the image has a pixel spacing and in image pixels otherwise (labelled
 * so: a bar is never called mm when nothing was measured in mm).
 *
 * Runtime: pure.
 */

export interface ScaleBar {
  /** Length on screen, CSS pixels. */
  px: number;
  /** The length it stands for, in `unit`. */
  value: number;
  unit: 'mm' | 'px';
  label: string;
}

/** `v` with at most 3 significant digits and no trailing zeros (0.5, 20, 0.125 -> 0.125). */
function short(v: number): string {
  return String(Number(v.toPrecision(3)));
}

/**
 * The longest round length whose bar fits in `maxPx` screen pixels, at `pxPerUnit` screen
 * pixels per mm (or per image pixel). Null when nothing sensible fits (no scale, or not even
 * a 0.001-unit bar). Image pixels are whole: a px bar is at least 1 px of the image.
 */
export function chooseScaleBar(pxPerUnit: number, maxPx: number, unit: 'mm' | 'px'): ScaleBar | null {
  if (!(pxPerUnit > 0) || !Number.isFinite(pxPerUnit) || !(maxPx > 0)) return null;
  const maxValue = maxPx / pxPerUnit;
  let best: number | null = null;
  const top = Math.floor(Math.log10(maxValue));
  for (let e = top; e >= top - 1 && best === null; e--) {
    for (const m of [5, 2, 1]) {
      const v = m * 10 ** e;
      if (v <= maxValue * (1 + 1e-9)) {
        best = Number(v.toPrecision(12));
        break;
      }
    }
  }
  if (best === null || best < (unit === 'px' ? 1 : 0.001)) return null;
  return { px: best * pxPerUnit, value: best, unit, label: `${short(best)} ${unit}` };
}

/**
 * Screen pixels per mm along the screen's horizontal, from cornerstone's image->canvas affine
 * [a, b, c, d, e, f] (x' = a x + c y + e, y' = b x + d y + f) and Pixel Spacing [row, column];
 * per image pixel when the spacing is unknown. Works at any rotation or flip.
 */
export function horizontalPxPerUnit(t: readonly [number, number, number, number, number, number], spacing: [number, number] | null): number {
  const det = t[0] * t[3] - t[2] * t[1];
  if (!det) return 0;
  // The image step under one screen pixel to the right: the inverse of the linear part applied to (1, 0).
  const dx = t[3] / det;
  const dy = -t[1] / det;
  const length = spacing ? Math.hypot(dx * spacing[1], dy * spacing[0]) : Math.hypot(dx, dy);
  return length > 0 ? 1 / length : 0;
}

/** The brush diameter (image pixels) as shown: in mm with a spacing (both axes when the pixels are not square), else in px. */
export function brushSizeText(diameterPx: number, spacing: [number, number] | null): string {
  if (!spacing) return `${diameterPx} px`;
  const across = diameterPx * spacing[1];
  const down = diameterPx * spacing[0];
  const mm = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
  return Math.abs(across - down) <= 0.01 * Math.max(across, down) ? `${mm(across)} mm` : `${mm(across)} × ${mm(down)} mm`;
}
