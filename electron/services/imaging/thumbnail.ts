/**
 * PNG thumbnails (longest side <= 128): windowed to 8 bits by the one window policy (the
 * file's first window, else its value range), MONOCHROME1 inverted so it looks as the viewer shows it.
 *
 * Runtime: Node (sharp).
 */
import sharp from 'sharp';
import type { PixelFrame, WindowPreset } from '../../contract/api.js';
import { chooseWindow } from '../../contract/windowing.js';
import { applyWindow } from './windowing.js';

export const THUMBNAIL_SIZE = 128;

function typedView(f: PixelFrame): ArrayLike<number> {
  const b = f.data;
  switch (f.dtype) {
    case 'uint8': return b;
    case 'int8': return new Int8Array(b.buffer, b.byteOffset, b.byteLength);
    case 'uint16': return new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
    case 'int16': return new Int16Array(b.buffer, b.byteOffset, b.byteLength / 2);
    case 'float32': return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  }
}

export async function renderThumbnail(f: PixelFrame, windows: readonly WindowPreset[]): Promise<Uint8Array> {
  const values = typedView(f);
  let grey: Uint8Array;
  if (f.samplesPerPixel === 3 && f.dtype === 'uint8') {
    grey = f.data;
  } else {
    const win = chooseWindow({ stored: windows, minStored: f.minValue, maxStored: f.maxValue, slope: f.rescaleSlope, intercept: f.rescaleIntercept });
    grey = applyWindow(values, f.rescaleSlope, f.rescaleIntercept, win, f.photometric === 'MONOCHROME1');
  }
  const png = await sharp(grey, { raw: { width: f.width, height: f.height, channels: f.samplesPerPixel === 3 ? 3 : 1 } })
    .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside', withoutEnlargement: true })
    .png({ compressionLevel: 6 })
    .toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}
