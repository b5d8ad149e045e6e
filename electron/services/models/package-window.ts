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

/** Windows this close (in modality units, centre and width alike) count as the same one: a dragged window rarely lands on whole numbers. */
export const SAME_WINDOW_TOLERANCE = 2;

/** The window to carry, or null to let the node use each file's stored window. */
export function packageWindow(images: readonly TrainingImageWindow[]): PackageWindow | null {
  if (images.length === 0) return null;
  const modality = images[0]!.modality?.toUpperCase() ?? null;
  if (!modality || !ABSOLUTE_UNITS.has(modality) || images.some((i) => i.modality?.toUpperCase() !== modality)) return null;
  const windows = images.map((i) => i.window).filter((w): w is DisplayWindow => !!w && Number.isFinite(w.center) && Number.isFinite(w.width) && w.width > 0);
  const near = (a: DisplayWindow, b: DisplayWindow) => Math.abs(a.center - b.center) <= SAME_WINDOW_TOLERANCE && Math.abs(a.width - b.width) <= SAME_WINDOW_TOLERANCE;
  // The window with the most others near it (quadratic, but a snapshot has at most thousands of images).
  let best: { w: DisplayWindow; n: number } | null = null;
  for (const w of windows) {
    const n = windows.reduce((k, o) => k + (near(w, o) ? 1 : 0), 0);
    if (!best || n > best.n) best = { w, n };
  }
  if (!best || best.n < FIXED_WINDOW_SHARE * images.length) return null;
  // The mean of the agreeing windows, rounded for the manifest (never below a width of 1).
  const agreeing = windows.filter((o) => near(best!.w, o));
  const mean = (f: (w: DisplayWindow) => number) => agreeing.reduce((a, w) => a + f(w), 0) / agreeing.length;
  return { center: Math.round(mean((w) => w.center)), width: Math.max(1, Math.round(mean((w) => w.width))), modality };
}
