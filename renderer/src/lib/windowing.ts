/**
 * Window/level: presets, the "auto from file" rule and the mouse-drag mapping.
 *
 * All centres/widths are in modality units (stored * slope + intercept; Hounsfield units
 * for CT), which is what cornerstone's viewport.voi expects.
 *
 * Runtime: pure.
 */
import { chooseWindow, modalityRange } from '../../../electron/contract/windowing';

export interface Window {
  center: number;
  width: number;
}

export interface NamedPreset extends Window {
  id: string;
  name: string;
  /** Key that applies the preset in the viewer. */
  key: string;
}

/** The usual CT presets (centre/width in HU). */
export const CT_PRESETS: readonly NamedPreset[] = [
  { id: 'soft', name: 'Soft tissue', center: 40, width: 400, key: '1' },
  { id: 'lung', name: 'Lung', center: -600, width: 1500, key: '2' },
  { id: 'bone', name: 'Bone', center: 400, width: 1800, key: '3' },
  { id: 'brain', name: 'Brain', center: 40, width: 80, key: '4' },
];

export { modalityRange };

/**
 * "Auto from file": the one window policy of contract/windowing.ts without a viewer choice
 * (the first window stored in the file, else the frame's full modality range).
 */
export function autoWindow(stored: readonly Window[], minStored: number, maxStored: number, slope: number, intercept: number): Window {
  return chooseWindow({ stored, minStored, maxStored, slope, intercept });
}

/**
 * Maps a mouse drag to a new window: right = wider, down = higher centre (the convention of
 * most PACS viewers). `range` is the modality range of the image, so a drag across the
 * viewport covers a useful span whatever the bit depth.
 */
export function dragWindow(start: Window, dx: number, dy: number, range: number): Window {
  const k = Math.max(range, 1) / 512;
  return { center: start.center + dy * k, width: Math.max(1, start.width + dx * k) };
}

/** Text for the overlay: "W 400 L 40". */
export function formatWindow(w: Window): string {
  const f = (v: number) => (Math.abs(v) >= 10 ? Math.round(v).toString() : v.toFixed(1));
  return `W ${f(w.width)} L ${f(w.center)}`;
}

/**
 * The window a slice is shown through, as SAM and saved masks record it: colour images are
 * shown as stored (null), greyscale through the viewer's window. One rule for the viewport
 * (which records it with each mask) and the SAM layer (which prepares the embedding with it).
 */
export function shownWindowOf(color: boolean, w: Window | null): Window | null {
  return color || !w ? null : { center: w.center, width: w.width };
}
