/**
 * THE window policy and THE windowing formula: how modality values become the 8-bit grey a
 * person (and SAM, and the training snapshot) sees. Runtime: pure, shared by the renderer,
 * thumbnails, the SAM service and the dataset snapshot writer, so they cannot drift apart.
 *
 * Policy, first that applies: the window the viewer shows (the one the user chose) -> the
 * first valid window stored in the file -> the full modality range of the frame.
 *
 * Formula: cornerstone's linear VOI, ((v - c) / w + 0.5) * 255, clamped to 0..255 and rounded,
 * on modality values (stored * slope + intercept). The viewer draws with it, so "what the user
 * sees" is literally what SAM and the training snapshot get.
 */

export interface DisplayWindow {
  center: number;
  width: number;
}

const valid = (w: DisplayWindow | null | undefined): w is DisplayWindow =>
  !!w && Number.isFinite(w.center) && Number.isFinite(w.width) && w.width > 0;

/** Modality-value range of stored min/max under a rescale (the slope may be negative). */
export function modalityRange(minStored: number, maxStored: number, slope: number, intercept: number): [number, number] {
  const a = minStored * slope + intercept;
  const b = maxStored * slope + intercept;
  return a <= b ? [a, b] : [b, a];
}

/** A window spanning a modality range (width at least 1, so a constant image still renders). */
export function rangeWindow(lo: number, hi: number): DisplayWindow {
  return { center: (lo + hi) / 2, width: Math.max(1, hi - lo) };
}

export interface WindowSources {
  /** What the viewer shows now (or showed when a mask was drawn); wins when present. */
  viewer?: DisplayWindow | null | undefined;
  /** Windows stored in the file (DICOM WindowCenter/Width), first valid one used. */
  stored?: readonly DisplayWindow[] | undefined;
  /** Stored-value range of the frame and its rescale, for the last resort. */
  minStored: number;
  maxStored: number;
  slope: number;
  intercept: number;
}

/** The one policy: viewer -> stored -> range. */
export function chooseWindow(s: WindowSources): DisplayWindow {
  if (valid(s.viewer)) return { center: s.viewer.center, width: s.viewer.width };
  const first = s.stored?.find(valid);
  if (first) return { center: first.center, width: first.width };
  const [lo, hi] = modalityRange(s.minStored, s.maxStored, s.slope, s.intercept);
  return rangeWindow(lo, hi);
}

/**
 * Whether a frame is shown as stored (no window): 8-bit unsigned samples of a photo or an
 * 8-bit greyscale image with identity rescale and no window chosen or stored.
 */
export function showsAsStored(dtype: string, slope: number, intercept: number, s: Pick<WindowSources, 'viewer' | 'stored'>): boolean {
  return dtype === 'uint8' && slope === 1 && intercept === 0 && !valid(s.viewer) && !s.stored?.some(valid);
}

/** Grey value (0..255) of one modality value under a window: the formula above. */
export function windowGrey(modality: number, w: DisplayWindow): number {
  const g = ((modality - w.center) / w.width + 0.5) * 255;
  return g <= 0 ? 0 : g >= 255 ? 255 : Math.round(g);
}
