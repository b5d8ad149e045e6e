/**
 * Window/level: turning modality values into 8-bit display grey. Runtime: pure.
 */
import type { WindowPreset } from '../../contract/api.js';
import { windowGrey } from '../../contract/windowing.js';

/** Pair up (multi-valued) WindowCenter / WindowWidth / explanation values. */
export function windowPresets(centers: number[], widths: number[], explanations: string[]): WindowPreset[] {
  const out: WindowPreset[] = [];
  for (let i = 0; i < Math.min(centers.length, widths.length); i++) {
    const center = centers[i]!;
    const width = widths[i]!;
    if (!Number.isFinite(center) || !Number.isFinite(width) || width <= 0) continue;
    const explanation = explanations[i];
    out.push(explanation ? { center, width, explanation } : { center, width });
  }
  return out;
}

/** A window covering the full range of modality values. */
export function rangeWindow(min: number, max: number): WindowPreset {
  return { center: (min + max) / 2, width: Math.max(1, max - min), explanation: 'full range' };
}

/**
 * Map stored values to 0..255 through a window, after rescale, with THE formula of
 * contract/windowing.ts (the viewer's), so thumbnails look as the viewer and SAM see the image.
 * `invert` for MONOCHROME1 (high values shown dark).
 */
export function applyWindow(
  values: ArrayLike<number>,
  slope: number,
  intercept: number,
  win: WindowPreset,
  invert: boolean,
): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const g = windowGrey(values[i]! * slope + intercept, win);
    out[i] = invert ? 255 - g : g;
  }
  return out;
}
