/**
 * The window a model package asks the headless node to render with, chosen from its training
 * snapshot: a model learns the grey levels it was shown, and in the app those are the window
 * each label was drawn through, while the node only has what the file stores. Where the
 * training images agree on one window in absolute units, the package carries it and the node
 * renders every slice through it; otherwise (MR and other relative units, mixed windows, no
 * windows) it says nothing and the node uses the file's stored window, as the app does first.
 *
 * Runtime: pure.
 */
import type { DisplayWindow } from '../../contract/windowing.js';

/** Modalities whose pixel values mean the same on every scanner (CT's Hounsfield units). */
const ABSOLUTE_UNITS = new Set(['CT']);
/** Share of training images that must have been drawn through the same window. */
export const FIXED_WINDOW_SHARE = 0.8;

export interface TrainingImageWindow {
  modality: string | null;
  /** The window the image was rendered through for training; null when shown as stored. */
  window: DisplayWindow | null;
}

export interface PackageWindow extends DisplayWindow {
  /** The node applies it only to series of this modality. */
  modality: string;
}

/** The window to carry, or null to let the node use each file's stored window. */
export function packageWindow(images: readonly TrainingImageWindow[]): PackageWindow | null {
  if (images.length === 0) return null;
  const modality = images[0]!.modality;
  if (!modality || !ABSOLUTE_UNITS.has(modality) || images.some((i) => i.modality !== modality)) return null;
  const counts = new Map<string, { w: DisplayWindow; n: number }>();
  for (const { window: w } of images) {
    if (!w || !Number.isFinite(w.center) || !Number.isFinite(w.width) || w.width <= 0) continue;
    const key = `${Math.round(w.center)}/${Math.round(w.width)}`;
    const c = counts.get(key) ?? { w: { center: Math.round(w.center), width: Math.round(w.width) }, n: 0 };
    c.n++;
    counts.set(key, c);
  }
  const best = [...counts.values()].sort((a, b) => b.n - a.n)[0];
  return best && best.n >= FIXED_WINDOW_SHARE * images.length ? { ...best.w, modality } : null;
}
