/**
 * PNG, JPEG, TIFF (via sharp/libvips) and BMP (via bmp-js, which libvips lacks),
 * 8 and 16 bit, grey and colour. Alpha is dropped: labels are drawn on the image.
 *
 * Runtime: Node.
 */
import { createRequire } from 'node:module';
import sharp from 'sharp';
import type { PixelFrame, WindowPreset } from '../../contract/api.js';
import { FileProblem } from './file-problem.js';
import { bytesOf, minMax } from './pixel-convert.js';
import { rangeWindow } from './windowing.js';

const require = createRequire(import.meta.url);
const bmp = require('bmp-js') as { decode(b: Buffer): { width: number; height: number; data: Buffer } };

export type RasterFormat = 'png' | 'jpeg' | 'tiff' | 'bmp';

export interface RasterInfo {
  format: RasterFormat;
  width: number;
  height: number;
  samplesPerPixel: 1 | 3;
  bitsStored: 8 | 16;
  photometric: 'MONOCHROME2' | 'RGB';
  windows: WindowPreset[];
}

/** Recognise a raster format by its magic bytes (not by extension). */
export function sniffRaster(b: Uint8Array): RasterFormat | null {
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 4 && ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 0x2a && b[3] === 0) || (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && b[3] === 0x2a))) return 'tiff';
  if (b.length >= 26 && b[0] === 0x42 && b[1] === 0x4d) return 'bmp';
  return null;
}

function decodeBmp(bytes: Uint8Array): { width: number; height: number; rgb: Uint8Array; grey: boolean } {
  let d;
  try {
    d = bmp.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    throw new FileProblem('unreadable', `BMP decode error: ${(e as Error).message}`);
  }
  const n = d.width * d.height;
  if (!n || d.data.length < n * 4) throw new FileProblem('truncated', `BMP data shorter than ${d.width}x${d.height}`);
  const rgb = new Uint8Array(n * 3);
  let grey = true;
  for (let i = 0; i < n; i++) {
    // bmp-js gives ABGR
    const r = d.data[i * 4 + 3]!, g = d.data[i * 4 + 2]!, b = d.data[i * 4 + 1]!;
    rgb[i * 3] = r;
    rgb[i * 3 + 1] = g;
    rgb[i * 3 + 2] = b;
    if (r !== g || g !== b) grey = false;
  }
  return { width: d.width, height: d.height, rgb, grey };
}

function toGrey(rgb: Uint8Array): Uint8Array {
  const out = new Uint8Array(rgb.length / 3);
  for (let i = 0; i < out.length; i++) out[i] = rgb[i * 3]!;
  return out;
}

/** Read the header (and for 16-bit grey the value range, which sets the default window). */
export async function probeRaster(bytes: Uint8Array, format: RasterFormat): Promise<RasterInfo> {
  if (format === 'bmp') {
    const d = decodeBmp(bytes);
    return {
      format, width: d.width, height: d.height,
      samplesPerPixel: d.grey ? 1 : 3, bitsStored: 8, photometric: d.grey ? 'MONOCHROME2' : 'RGB',
      windows: [{ center: 127.5, width: 256, explanation: '8-bit' }],
    };
  }
  let meta: Awaited<ReturnType<ReturnType<typeof sharp>["metadata"]>>;
  try {
    meta = await sharp(bytes).metadata();
  } catch (e) {
    throw new FileProblem('unreadable', `${format.toUpperCase()} header error: ${(e as Error).message}`);
  }
  if (!meta.width || !meta.height) throw new FileProblem('unreadable', `${format.toUpperCase()} without a size`);
  const colourChannels = (meta.channels ?? 1) - (meta.hasAlpha ? 1 : 0);
  const grey = colourChannels <= 1;
  const sixteen = meta.depth === 'ushort' || meta.depth === 'short';
  if (!['uchar', 'ushort', 'char', 'short'].includes(meta.depth ?? 'uchar')) {
    throw new FileProblem('unsupported_format', `${format.toUpperCase()} pixel depth ${meta.depth} is not supported (8 or 16 bit)`);
  }
  const info: RasterInfo = {
    format, width: meta.width, height: meta.height,
    samplesPerPixel: grey ? 1 : 3, bitsStored: sixteen ? 16 : 8, photometric: grey ? 'MONOCHROME2' : 'RGB',
    windows: [{ center: 127.5, width: 256, explanation: '8-bit' }],
  };
  if (sixteen) {
    const f = await decodeRaster(bytes, format);
    info.windows = [rangeWindow(f.minValue, f.maxValue)];
  }
  return info;
}

/** Decode the (first page of the) image into a PixelFrame. Throws FileProblem. */
export async function decodeRaster(bytes: Uint8Array, format: RasterFormat): Promise<PixelFrame> {
  if (format === 'bmp') {
    const d = decodeBmp(bytes);
    const data = d.grey ? toGrey(d.rgb) : d.rgb;
    const { min, max } = minMax(data);
    return {
      width: d.width, height: d.height, samplesPerPixel: d.grey ? 1 : 3, dtype: 'uint8',
      photometric: d.grey ? 'MONOCHROME2' : 'RGB', rescaleSlope: 1, rescaleIntercept: 0,
      minValue: min, maxValue: max, data: bytesOf(data),
    };
  }
  try {
    const meta = await sharp(bytes).metadata();
    const grey = (meta.channels ?? 1) - (meta.hasAlpha ? 1 : 0) <= 1;
    const sixteen = meta.depth === 'ushort' || meta.depth === 'short';
    let pipeline = sharp(bytes);
    pipeline = grey
      ? pipeline.extractChannel(0).toColourspace(sixteen ? 'grey16' : 'b-w')
      : pipeline.removeAlpha().toColourspace(sixteen ? 'rgb16' : 'srgb');
    const { data, info } = await pipeline.raw({ depth: sixteen ? 'ushort' : 'uchar' }).toBuffer({ resolveWithObject: true });
    const owned = new Uint8Array(data.length);
    owned.set(data);
    const px = sixteen ? new Uint16Array(owned.buffer, 0, owned.length / 2) : owned;
    const { min, max } = minMax(px);
    return {
      width: info.width, height: info.height, samplesPerPixel: info.channels, dtype: sixteen ? 'uint16' : 'uint8',
      photometric: info.channels === 1 ? 'MONOCHROME2' : 'RGB', rescaleSlope: 1, rescaleIntercept: 0,
      minValue: min, maxValue: max, data: owned,
    };
  } catch (e) {
    if (e instanceof FileProblem) throw e;
    const msg = (e as Error).message;
    throw new FileProblem(/premature|truncat|end of file|short/i.test(msg) ? 'truncated' : 'unreadable', `${format.toUpperCase()} decode error: ${msg}`);
  }
}
