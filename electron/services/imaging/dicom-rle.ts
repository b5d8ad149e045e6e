import { MAX_FRAME_PIXELS } from './dicom-header.js';

/**
 * DICOM RLE Lossless (PS3.5 Annex G): a 64-byte header with up to 15 segment offsets,
 * each segment a PackBits byte stream holding one byte plane (most significant first
 * for multi-byte samples, one segment per sample per byte). No maintained library
 * decodes it in Node, and it is 40 lines. Runtime: pure.
 *
 * Returns the frame as little-endian, pixel-interleaved samples.
 */
export function decodeDicomRle(
  src: Uint8Array,
  l: { rows: number; columns: number; samplesPerPixel: number; bitsAllocated: number },
): Uint8Array {
  const pixels = l.rows * l.columns;
  // A few bytes of runs can claim any size: never allocate past the frame limit the header check uses.
  if (pixels > MAX_FRAME_PIXELS) throw new Error(`RLE frame of ${l.columns} x ${l.rows} pixels is larger than the ${MAX_FRAME_PIXELS}-pixel limit`);
  const bytesPerSample = l.bitsAllocated / 8;
  if (src.length < 64) throw new Error('RLE frame is shorter than its 64-byte header');
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const segments = view.getUint32(0, true);
  const expected = l.samplesPerPixel * bytesPerSample;
  if (segments !== expected) throw new Error(`RLE frame has ${segments} segments, expected ${expected}`);
  const out = new Uint8Array(pixels * expected);
  for (let s = 0; s < segments; s++) {
    const start = view.getUint32(4 + 4 * s, true);
    const end = s + 1 < segments ? view.getUint32(8 + 4 * s, true) : src.length;
    if (start < 64 || end > src.length || start > end) throw new Error(`RLE segment ${s} offsets ${start}..${end} are out of range`);
    const sample = Math.floor(s / bytesPerSample);
    const byteInSample = bytesPerSample - 1 - (s % bytesPerSample); // segment order is MSB first; output is LE
    const stride = expected;
    let o = sample * bytesPerSample + byteInSample;
    const last = pixels * stride;
    let p = start;
    while (p < end && o < last) {
      const n = src[p++]!;
      const h = n > 127 ? n - 256 : n;
      if (h >= 0) {
        for (let k = 0; k <= h && p < end && o < last; k++, o += stride) out[o] = src[p++]!;
      } else if (h > -128) {
        const v = src[p++]!;
        for (let k = 0; k < 1 - h && o < last; k++, o += stride) out[o] = v;
      }
      // -128 is a no-op
    }
  }
  return out;
}

/** PackBits-encode one byte plane (used by the test corpus writer). */
export function packBits(plane: Uint8Array): Uint8Array {
  const out: number[] = [];
  let i = 0;
  while (i < plane.length) {
    let run = 1;
    while (i + run < plane.length && run < 128 && plane[i + run] === plane[i]) run++;
    if (run >= 2) {
      out.push(257 - run, plane[i]!);
      i += run;
      continue;
    }
    let lit = 1;
    while (i + lit < plane.length && lit < 128 && !(i + lit + 1 < plane.length && plane[i + lit] === plane[i + lit + 1])) lit++;
    out.push(lit - 1);
    for (let k = 0; k < lit; k++) out.push(plane[i + k]!);
    i += lit;
  }
  return Uint8Array.from(out);
}
