/**
 * Turns the contract's PixelFrame into the fields cornerstone needs: a typed array of
 * stored values (greyscale) or RGBA bytes (colour), plus the value range and rescale.
 *
 * Kept free of cornerstone and DOM so node:test can check the conversions.
 *
 * Runtime: pure.
 */
import type { PixelFrame } from '../../../electron/contract/api';

export interface ConvertedFrame {
  pixels: Int8Array | Uint8Array | Int16Array | Uint16Array;
  color: boolean;
  invert: boolean;
  minPixelValue: number;
  maxPixelValue: number;
  slope: number;
  intercept: number;
  width: number;
  height: number;
  /** Stored value -> modality value for the readout (float frames are re-quantised, so this may differ from the file's rescale). */
  samplesPerPixel: number;
}

function typedView(frame: PixelFrame): Int8Array | Uint8Array | Int16Array | Uint16Array | Float32Array {
  let bytes = frame.data;
  const n = frame.width * frame.height * frame.samplesPerPixel;
  const size = { uint8: 1, int8: 1, uint16: 2, int16: 2, float32: 4 }[frame.dtype];
  if (bytes.byteLength < n * size) {
    throw new Error(`Pixel data too short: ${bytes.byteLength} bytes for ${frame.width}x${frame.height}x${frame.samplesPerPixel} ${frame.dtype}`);
  }
  // Typed arrays need an aligned offset; copy when the transport handed us an unaligned slice.
  if (bytes.byteOffset % size !== 0) bytes = bytes.slice();
  const buf = bytes.buffer;
  const off = bytes.byteOffset;
  switch (frame.dtype) {
    case 'uint8':
      return new Uint8Array(buf, off, n);
    case 'int8':
      return new Int8Array(buf, off, n);
    case 'uint16':
      return new Uint16Array(buf, off, n);
    case 'int16':
      return new Int16Array(buf, off, n);
    case 'float32':
      return new Float32Array(buf, off, n);
  }
}

/** Colour frames become RGBA 8-bit (cornerstone's colour path reads 4 values a pixel). */
function toRgba(src: ArrayLike<number>, pixels: number, spp: number, maxValue: number): Uint8Array {
  const out = new Uint8Array(pixels * 4);
  const shift = maxValue > 255 ? 255 / maxValue : 1;
  for (let i = 0, j = 0; i < pixels; i++, j += spp) {
    out[i * 4] = src[j]! * shift;
    out[i * 4 + 1] = src[j + 1]! * shift;
    out[i * 4 + 2] = src[j + 2]! * shift;
    out[i * 4 + 3] = 255;
  }
  return out;
}

export function convertFrame(frame: PixelFrame): ConvertedFrame {
  const view = typedView(frame);
  const base = { width: frame.width, height: frame.height, samplesPerPixel: frame.samplesPerPixel };
  if (frame.samplesPerPixel >= 3) {
    return { ...base, pixels: toRgba(view, frame.width * frame.height, frame.samplesPerPixel, frame.maxValue), color: true, invert: false, minPixelValue: 0, maxPixelValue: 255, slope: 1, intercept: 0 };
  }
  const invert = frame.photometric.toUpperCase() === 'MONOCHROME1';
  if (view instanceof Float32Array) {
    // cornerstone indexes a LUT by stored value, so float data is re-quantised to 16 bits
    // and the rescale adjusted so modality values (and the readout) stay the same.
    const lo = frame.minValue;
    const span = Math.max(frame.maxValue - lo, 1e-12);
    const q = new Uint16Array(view.length);
    for (let i = 0; i < view.length; i++) q[i] = Math.round(((view[i]! - lo) / span) * 65535);
    return { ...base, pixels: q, color: false, invert, minPixelValue: 0, maxPixelValue: 65535, slope: (span / 65535) * frame.rescaleSlope, intercept: lo * frame.rescaleSlope + frame.rescaleIntercept };
  }
  return {
    ...base,
    pixels: view,
    color: false,
    invert,
    minPixelValue: Math.floor(frame.minValue),
    maxPixelValue: Math.max(Math.ceil(frame.maxValue), Math.floor(frame.minValue) + 1),
    slope: frame.rescaleSlope,
    intercept: frame.rescaleIntercept,
  };
}
