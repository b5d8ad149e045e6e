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
/**
 * The first `n` bytes as a new array. Not `bytes.slice(0, n)`: frames arrive as views into
 * the file's Node Buffer, whose slice() is a view too, and the conversions below work in
 * place: they would change the cached file, so decoding the same frame twice gave different
 * pixels (found by the decode pool's parity test), and every frame kept its whole file alive.
 */
export function copyBytes(bytes: Uint8Array, n = bytes.length): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes.subarray(0, n));
}

export function convertSamples(bytes: Uint8Array, l: SampleLayout, opts: { bigEndian?: boolean } = {}): ConvertedFrame {
  const count = l.rows * l.columns * l.samplesPerPixel;
  const need = count * (l.bitsAllocated / 8);
  if (bytes.length < need) throw new Error(`frame has ${bytes.length} bytes, expected ${need}`);
  if (l.bitsAllocated === 8) {
    let px: Uint8Array | Int8Array = copyBytes(bytes, count);
    if (l.samplesPerPixel === 3) {
      px = l.planarConfiguration === 1 ? planarToInterleaved(px, l.rows * l.columns) : px;
      const ybr = l.photometric === 'YBR_FULL';
      if (ybr) ybrFullToRgb(px);
      return { dtype: 'uint8', pixels: px, photometric: ybr ? 'RGB' : l.photometric };
    }
    if (l.bitsStored < 8) maskInPlace8(px, l);
    if (l.signed) px = new Int8Array(px.buffer, px.byteOffset, px.length);
    return { dtype: l.signed ? 'int8' : 'uint8', pixels: px, photometric: l.photometric };
  }
  if (l.bitsAllocated === 16) {
    let copy: Uint8Array<ArrayBuffer> = copyBytes(bytes, need); // aligned copy we can own
    if (opts.bigEndian) swap16(copy);
    if (l.samplesPerPixel === 3 && l.planarConfiguration === 1) copy = planarToInterleaved(copy, l.rows * l.columns, 2);
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
    let copy: Uint8Array<ArrayBuffer> = copyBytes(bytes, need);
    if (l.samplesPerPixel === 3 && l.planarConfiguration === 1) copy = planarToInterleaved(copy, l.rows * l.columns, 4);
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

/** RRR..GGG..BBB.. -> RGBRGB.., for samples of `bytesPerSample` bytes. */
export function planarToInterleaved(src: Uint8Array, pixelCount: number, bytesPerSample = 1): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(pixelCount * 3 * bytesPerSample);
  const plane = pixelCount * bytesPerSample;
  for (let i = 0; i < pixelCount; i++) {
    for (let c = 0; c < 3; c++) {
      const from = c * plane + i * bytesPerSample;
      const to = (i * 3 + c) * bytesPerSample;
      for (let b = 0; b < bytesPerSample; b++) out[to + b] = src[from + b]!;
    }
  }
  return out;
}

// PS3.3 C.7.6.3.1.2 coefficients, as float32 the way pydicom (the reference we are tested
// against) holds them. The arithmetic below reproduces its float32 matrix product with fused
// multiply-adds (what its BLAS does on x86-64): y + cb*k and then + cr*k, each rounded once
// to float32. Every one of the 16.7 M (Y, Cb, Cr) triples gives pydicom's RGB, checked
// exhaustively when this was written; a double-precision formula differs in 24 of them.
const f32 = Math.fround;
const R_CR = f32(1.402);
const G_CB = f32((-0.114 * 1.772) / 0.587);
const G_CR = f32((-0.299 * 1.402) / 0.587);
const B_CB = f32(1.772);

function roundClamp8(v: number): number {
  const r = Math.floor(f32(v + 0.5));
  return r < 0 ? 0 : r > 255 ? 255 : r;
}

/** In place, interleaved 8-bit YBR_FULL to RGB (PS3.3 C.7.6.3.1.2). */
export function ybrFullToRgb(px: Uint8Array): void {
  for (let i = 0; i + 2 < px.length; i += 3) {
    const y = px[i]!;
    const cb = px[i + 1]! - 128;
    const cr = px[i + 2]! - 128;
    // cb*k and cr*k are exact in float64 (8-bit integer times a float32), so each f32() of a
    // sum is one correctly rounded fused multiply-add.
    px[i] = roundClamp8(f32(y + cr * R_CR));
    px[i + 1] = roundClamp8(f32(f32(y + cb * G_CB) + cr * G_CR));
    px[i + 2] = roundClamp8(f32(y + cb * B_CB));
  }
}

/**
 * YBR_FULL_422 as stored uncompressed (Y1 Y2 Cb Cr for each pair of pixels in a row) to
 * interleaved YBR_FULL, each pair's chroma repeated for both pixels (as pydicom does).
 */
export function expandYbr422(src: Uint8Array, rows: number, columns: number): Uint8Array {
  const out = new Uint8Array(rows * columns * 3);
  let s = 0;
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < columns; x += 2, s += 4) {
      const o = (y * columns + x) * 3;
      const cb = src[s + 2]!;
      const cr = src[s + 3]!;
      out[o] = src[s]!;
      out[o + 1] = cb;
      out[o + 2] = cr;
      if (x + 1 < columns) {
        out[o + 3] = src[s + 1]!;
        out[o + 4] = cb;
        out[o + 5] = cr;
      }
    }
  }
  return out;
}

/** Bytes one frame of uncompressed YBR_FULL_422 takes: rows of pixel pairs, 4 bytes each. */
export function ybr422FrameBytes(rows: number, columns: number): number {
  return rows * Math.ceil(columns / 2) * 4;
}

/**
 * 1-bit pixels (Bits Allocated 1) as 0/1 bytes. Bits are packed LSB first and frames follow
 * each other with no padding, so a frame may start mid-byte: at bit `firstBit` of `packed`.
 */
export function unpackBits(packed: Uint8Array, pixels: number, firstBit: number): Uint8Array {
  const out = new Uint8Array(pixels);
  for (let i = 0; i < pixels; i++) {
    const bit = firstBit + i;
    out[i] = (packed[bit >> 3]! >> (bit & 7)) & 1;
  }
  return out;
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
