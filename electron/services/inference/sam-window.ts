/**
 * What SAM sees: a frame rendered to 8-bit RGB through the window the user is looking at.
 * Runtime: pure.
 *
 * The window and its formula are THE ones of contract/windowing.ts (the viewer's), so what
 * the user sees is what SAM sees; the dataset snapshot stores exactly these bytes, so a model
 * trained in the Python runtime sees them too. MONOCHROME1 is inverted after windowing, as
 * the viewer shows it.
 */
import { chooseWindow, showsAsStored, windowGrey, type DisplayWindow } from '../../contract/windowing.js';

export type { DisplayWindow };

export type SampleArray = Uint8Array | Int8Array | Uint16Array | Int16Array | Float32Array;

export interface FrameForSam {
  width: number;
  height: number;
  samplesPerPixel: number;
  photometric: string;
  rescaleSlope: number;
  rescaleIntercept: number;
  samples: SampleArray;
}

export interface RgbImage {
  width: number;
  height: number;
  /** Row-major interleaved RGB, 3 bytes per pixel. */
  rgb: Uint8Array;
}

/** Turn the little-endian bytes of a PixelFrame into a typed array of its dtype. */
export function samplesOf(dtype: 'uint8' | 'int8' | 'uint16' | 'int16' | 'float32', data: Uint8Array): SampleArray {
  const copy = data.byteOffset % 4 === 0 ? data : data.slice();
  const { buffer, byteOffset, byteLength } = copy;
  switch (dtype) {
    case 'uint8':
      return new Uint8Array(buffer, byteOffset, byteLength);
    case 'int8':
      return new Int8Array(buffer, byteOffset, byteLength);
    case 'uint16':
      return new Uint16Array(buffer, byteOffset, byteLength / 2);
    case 'int16':
      return new Int16Array(buffer, byteOffset, byteLength / 2);
    case 'float32':
      return new Float32Array(buffer, byteOffset, byteLength / 4);
  }
}

/**
 * Render a frame to 8-bit RGB. `window` null: 8-bit samples pass through unchanged (RGB
 * photos, 8-bit greyscale); anything else must come with the window the viewer shows.
 */
export function renderForSam(frame: FrameForSam, window: DisplayWindow | null): RgbImage {
  const { width, height, samplesPerPixel: spp, samples } = frame;
  const n = width * height;
  if (samples.length < n * spp) throw new Error(`frame has ${samples.length} samples, expected ${n * spp} (${width}x${height}x${spp})`);
  if (spp !== 1 && spp !== 3) throw new Error(`frames with ${spp} samples per pixel cannot be shown to SAM`);
  if (!window && !(samples instanceof Uint8Array)) throw new Error('a window is needed to render non-8-bit pixels for SAM');
  if (window && !(window.width > 0)) throw new Error(`window width must be positive, got ${window.width}`);
  const invert = frame.photometric === 'MONOCHROME1';
  const slope = frame.rescaleSlope;
  const intercept = frame.rescaleIntercept;
  const grey = (v: number): number => (window ? windowGrey(v * slope + intercept, window) : v);
  const rgb = new Uint8Array(n * 3);
  if (spp === 1) {
    for (let i = 0; i < n; i++) {
      let g = grey(samples[i]!);
      if (invert) g = 255 - g;
      rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = g;
    }
  } else {
    for (let i = 0; i < n * 3; i++) rgb[i] = grey(samples[i]!);
  }
  return { width, height, rgb };
}

/**
 * The window SAM renders a frame through: the policy's (viewer -> stored -> range), or null
 * for a frame shown as stored (8-bit photos). The same call feeds the dataset snapshot.
 */
export function samWindowFor(
  px: { dtype: string; rescaleSlope: number; rescaleIntercept: number; minValue: number; maxValue: number },
  stored: readonly DisplayWindow[],
  viewer: DisplayWindow | null | undefined,
): DisplayWindow | null {
  if (showsAsStored(px.dtype, px.rescaleSlope, px.rescaleIntercept, { viewer, stored })) return null;
  return chooseWindow({ viewer, stored, minStored: px.minValue, maxStored: px.maxValue, slope: px.rescaleSlope, intercept: px.rescaleIntercept });
}
