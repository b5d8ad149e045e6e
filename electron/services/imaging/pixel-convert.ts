/**
 * Turning raw sample bytes into typed pixel arrays the viewer can use. Runtime: pure.
 *
 * Handles BitsStored/HighBit masking and sign extension, planar-to-interleaved colour,
 * YBR_FULL to RGB, big-endian swaps, and min/max.
 */
import type { PixelFrame } from '../../contract/api.js';

export type Dtype = PixelFrame['dtype'];
export type Pixels = Uint8Array | Int8Array | Uint16Array | Int16Array | Float32Array;

export interface SampleLayout {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  signed: boolean;
  planarConfiguration: number;
  photometric: string;
}

export interface ConvertedFrame {
  dtype: Dtype;
  pixels: Pixels;
  photometric: string;
}

/**
 * `bytes` holds exactly one frame of samples, little endian (unless `bigEndian`),
 * `bitsAllocated` bits each.
 */
export function convertSamples(bytes: Uint8Array, l: SampleLayout, opts: { bigEndian?: boolean } = {}): ConvertedFrame {
  const count = l.rows * l.columns * l.samplesPerPixel;
  const need = count * (l.bitsAllocated / 8);
  if (bytes.length < need) throw new Error(`frame has ${bytes.length} bytes, expected ${need}`);
  if (l.bitsAllocated === 8) {
    let px: Uint8Array | Int8Array = bytes.slice(0, count);
    if (l.samplesPerPixel === 3) {
      px = l.planarConfiguration === 1 ? planarToInterleaved(px, l.rows * l.columns) : px;
      if (l.photometric === 'YBR_FULL') ybrFullToRgb(px);
      return { dtype: 'uint8', pixels: px, photometric: l.photometric === 'YBR_FULL' ? 'RGB' : l.photometric };
    }
    if (l.bitsStored < 8) maskInPlace8(px, l);
    if (l.signed) px = new Int8Array(px.buffer, px.byteOffset, px.length);
    return { dtype: l.signed ? 'int8' : 'uint8', pixels: px, photometric: l.photometric };
  }
  if (l.bitsAllocated === 16) {
    const copy = bytes.slice(0, need); // aligned copy we can own
    if (opts.bigEndian) swap16(copy);
    const u16 = new Uint16Array(copy.buffer, copy.byteOffset, count);
    const shift = l.highBit + 1 - l.bitsStored;
    if (l.bitsStored < 16 || shift > 0) {
      const mask = (1 << l.bitsStored) - 1;
      const signBit = 1 << (l.bitsStored - 1);
      for (let i = 0; i < count; i++) {
        let v = (u16[i]! >> shift) & mask;
        if (l.signed && v & signBit) v -= 1 << l.bitsStored; // sign-extend; stored back as 16-bit two's complement
        u16[i] = v & 0xffff;
      }
    }
    const pixels = l.signed ? new Int16Array(copy.buffer, copy.byteOffset, count) : u16;
    return { dtype: l.signed ? 'int16' : 'uint16', pixels, photometric: l.photometric };
  }
  if (l.bitsAllocated === 32) {
    const copy = bytes.slice(0, need);
    const view = new DataView(copy.buffer, copy.byteOffset, need);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = l.signed ? view.getInt32(i * 4, !opts.bigEndian) : view.getUint32(i * 4, !opts.bigEndian);
    return { dtype: 'float32', pixels: out, photometric: l.photometric };
  }
  throw new Error(`BitsAllocated ${l.bitsAllocated} is not supported`);
}

function maskInPlace8(px: Uint8Array, l: SampleLayout): void {
  const shift = l.highBit + 1 - l.bitsStored;
  const mask = (1 << l.bitsStored) - 1;
  const signBit = 1 << (l.bitsStored - 1);
  for (let i = 0; i < px.length; i++) {
    let v = (px[i]! >> shift) & mask;
    if (l.signed && v & signBit) v -= 1 << l.bitsStored;
    px[i] = v & 0xff;
  }
}

function swap16(b: Uint8Array): void {
  for (let i = 0; i + 1 < b.length; i += 2) {
    const t = b[i]!;
    b[i] = b[i + 1]!;
    b[i + 1] = t;
  }
}

/** RRR..GGG..BBB.. -> RGBRGB.. */
export function planarToInterleaved(src: Uint8Array, pixelCount: number): Uint8Array {
  const out = new Uint8Array(pixelCount * 3);
  for (let i = 0; i < pixelCount; i++) {
    out[i * 3] = src[i]!;
    out[i * 3 + 1] = src[pixelCount + i]!;
    out[i * 3 + 2] = src[2 * pixelCount + i]!;
  }
  return out;
}

/** In place, per PS3.3 C.7.6.3.1.2 (YBR_FULL, 8-bit). */
export function ybrFullToRgb(px: Uint8Array): void {
  for (let i = 0; i + 2 < px.length; i += 3) {
    const y = px[i]!;
    const cb = px[i + 1]! - 128;
    const cr = px[i + 2]! - 128;
    px[i] = clamp8(y + 1.402 * cr);
    px[i + 1] = clamp8(y - 0.344136 * cb - 0.714136 * cr);
    px[i + 2] = clamp8(y + 1.772 * cb);
  }
}

function clamp8(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

export function minMax(px: ArrayLike<number>): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < px.length; i++) {
    const v = px[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return px.length ? { min, max } : { min: 0, max: 0 };
}

/** The little-endian bytes of a typed array (no copy). */
export function bytesOf(px: Pixels): Uint8Array<ArrayBuffer> {
  return new Uint8Array(px.buffer as ArrayBuffer, px.byteOffset, px.byteLength);
}
