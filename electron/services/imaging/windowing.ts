/**
 * Window/level: turning modality values into 8-bit display grey. Runtime: pure.
 */
import type { WindowPreset } from '../../contract/api.js';

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
 * Map stored values to 0..255 with the DICOM linear VOI function (PS3.3 C.11.2.1.2),
 * after rescale. `invert` for MONOCHROME1 (high values shown dark).
 */
export function applyWindow(
  values: ArrayLike<number>,
  slope: number,
  intercept: number,
  win: WindowPreset,
  invert: boolean,
): Uint8Array {
  const out = new Uint8Array(values.length);
  const c = win.center - 0.5;
  const w = win.width - 1;
  const lo = c - w / 2;
  const scale = w > 0 ? 255 / w : 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]! * slope + intercept;
    let g = w > 0 ? (v - lo) * scale : v > c ? 255 : 0;
    g = g < 0 ? 0 : g > 255 ? 255 : g;
    out[i] = invert ? 255 - g : g;
  }
  return out;
}
