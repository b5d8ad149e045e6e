/**
 * A CT-like 16-bit slice with one bright round lesion (stored = HU + 1024), deterministic.
 * Used by the parity test and the end-to-end test; returns the lesion mask as ground truth.
 */
export interface SyntheticSlice {
  width: number;
  height: number;
  stored: Uint16Array;
  lesion: Uint8Array;
  lesionCenter: { x: number; y: number };
  lesionRadius: number;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export function syntheticSlice(width: number, height: number, seed = 1, lesion = { cx: 0.62, cy: 0.42, r: 0.12 }): SyntheticSlice {
  const rand = rng(seed);
  const stored = new Uint16Array(width * height);
  const mask = new Uint8Array(width * height);
  const cx = lesion.cx * width;
  const cy = lesion.cy * height;
  const r = lesion.r * Math.min(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inBody = ((x - width / 2) / (0.45 * width)) ** 2 + ((y - height / 2) / (0.45 * height)) ** 2 < 1;
      const inLesion = (x - cx) ** 2 + (y - cy) ** 2 < r * r;
      const noise = (rand() + rand() + rand() - 1.5) * 20;
      const hu = inLesion ? 150 + noise : inBody ? 30 + 15 * Math.sin(x / 9) * Math.cos(y / 11) + noise : -1000 + noise;
      stored[y * width + x] = Math.max(0, Math.round(hu + 1024));
      mask[y * width + x] = inLesion ? 1 : 0;
    }
  }
  return { width, height, stored, lesion: mask, lesionCenter: { x: cx, y: cy }, lesionRadius: r };
}

export { maskIoU } from '../../electron/contract/rle.js';
