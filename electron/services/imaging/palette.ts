/**
 * PALETTE COLOR (PS3.3 C.7.6.3.1.5-6): stored values index three lookup tables. The app shows
 * such an image as the RGB the palette gives, as every viewer does, with the table's own
 * depth (8 or 16 bits per entry), the way pydicom's apply_color_lut returns it.
 *
 * Runtime: pure (reads a dicom-parser DataSet already in memory).
 */
import type { DataSet } from 'dicom-parser';

export interface Palette {
  /** Entries per table (the descriptor's 0 means 65536). */
  entries: number;
  /** Stored value mapped to the first entry; values below it take the first entry, above the last. */
  firstMapped: number;
  /** Bits per entry: 8 or 16. */
  bits: 8 | 16;
  red: Uint16Array;
  green: Uint16Array;
  blue: Uint16Array;
}

const CHANNELS = [
  ['red', 'x00281101', 'x00281201', 'x00281221'],
  ['green', 'x00281102', 'x00281202', 'x00281222'],
  ['blue', 'x00281103', 'x00281203', 'x00281223'],
] as const;

/** The palette of a PALETTE COLOR image; throws an Error with a plain sentence when it cannot be used. */
export function readPalette(ds: DataSet, signedIndices: boolean): Palette {
  const tables: Uint16Array[] = [];
  let shape: { entries: number; firstMapped: number; bits: number } | null = null;
  for (const [name, descTag, dataTag, segmentedTag] of CHANNELS) {
    const desc = ds.elements[descTag];
    if (!desc || desc.length < 6) throw new Error(`the ${name} palette descriptor (0028,${descTag.slice(5)}) is missing`);
    // The descriptor's first and third values are US; the second is US or SS by the indices' sign.
    const entries = ds.uint16(descTag, 0) || 65536;
    const firstMapped = signedIndices ? ds.int16(descTag, 1)! : ds.uint16(descTag, 1)!;
    const bits = ds.uint16(descTag, 2)!;
    if (bits !== 8 && bits !== 16) throw new Error(`the ${name} palette has ${bits}-bit entries (8 or 16 expected)`);
    if (shape && (shape.entries !== entries || shape.firstMapped !== firstMapped || shape.bits !== bits)) {
      throw new Error('the red, green and blue palettes have different descriptors');
    }
    shape = { entries, firstMapped, bits };
    const data = ds.elements[dataTag];
    const segmented = ds.elements[segmentedTag];
    if (data) tables.push(lutValues(ds, data.dataOffset, data.length, entries, bits, name));
    else if (segmented) tables.push(segmentedLut(words(ds, segmented.dataOffset, segmented.length, name), entries, name));
    else throw new Error(`the ${name} palette data (0028,${dataTag.slice(5)}) is missing`);
  }
  return { entries: shape!.entries, firstMapped: shape!.firstMapped, bits: shape!.bits as 8 | 16, red: tables[0]!, green: tables[1]!, blue: tables[2]! };
}

function lutValues(ds: DataSet, offset: number, length: number, entries: number, bits: number, name: string): Uint16Array {
  const out = new Uint16Array(entries);
  if (offset + length > ds.byteArray.length) throw new Error(`the ${name} palette data runs past the end of the file`);
  if (bits === 8 && length >= entries && length < entries * 2) {
    // 8-bit entries packed one per byte
    for (let i = 0; i < entries; i++) out[i] = ds.byteArray[offset + i]!;
    return out;
  }
  if (length < entries * 2) throw new Error(`the ${name} palette holds ${Math.floor(length / 2)} entries, its descriptor says ${entries}`);
  for (let i = 0; i < entries; i++) {
    const v = ds.byteArrayParser.readUint16(ds.byteArray, offset + i * 2);
    // 8-bit entries stored one per 16-bit word keep the value in the low byte
    out[i] = bits === 8 ? v & 0xff : v;
  }
  return out;
}

function words(ds: DataSet, offset: number, length: number, name: string): number[] {
  if (offset + length > ds.byteArray.length) throw new Error(`the ${name} palette data runs past the end of the file`);
  return Array.from({ length: Math.floor(length / 2) }, (_, i) => ds.byteArrayParser.readUint16(ds.byteArray, offset + i * 2));
}

/** numpy's round-half-to-even, as pydicom rounds interpolated palette entries. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Expand a segmented palette (PS3.3 C.7.9.2, 16-bit words): discrete segments (0) list
 * values, linear segments (1) ramp from the previous value to a new one, indirect segments
 * (2) replay earlier segments. Interpolation and the indirect offset follow pydicom, the
 * reference the decoding is tested against.
 */
export function expandSegments(data: readonly number[], maxSegments = Infinity, previous: number | null = null, depth = 0): number[] {
  if (depth > 8) throw new Error('the segmented palette refers to itself too deeply');
  const lut: number[] = [];
  let at = 0;
  let segments = 0;
  while (at + 1 < data.length && segments < maxSegments) {
    const opcode = data[at]!;
    const length = data[at + 1]!;
    at += 2;
    if (opcode === 0) {
      lut.push(...data.slice(at, at + length));
      at += length;
    } else if (opcode === 1) {
      const y0 = lut.length ? lut[lut.length - 1]! : previous;
      if (y0 === null) throw new Error('the segmented palette starts with a linear segment');
      const y1 = data[at++]!;
      if (y0 === y1 || length === 1) {
        for (let i = 0; i < length; i++) lut.push(length === 1 ? roundHalfEven(y0 + (y1 - y0)) : y1);
      } else {
        // np.linspace(y0 + step, y1, length): start + i * (stop - start) / (length - 1), last value exact
        const start = y0 + (y1 - y0) / length;
        const delta = (y1 - start) / (length - 1);
        for (let i = 0; i < length; i++) lut.push(roundHalfEven(i === length - 1 ? y1 : i * delta + start));
      }
    } else if (opcode === 2) {
      if (!lut.length) throw new Error('the segmented palette starts with an indirect segment');
      const offset = (data[at + 1]! << 16) | data[at]!;
      at += 2;
      lut.push(...expandSegments(data.slice(offset), length, lut[lut.length - 1]!, depth + 1));
    } else {
      throw new Error(`the segmented palette has an unknown segment type ${opcode}`);
    }
    segments++;
  }
  return lut;
}

function segmentedLut(data: number[], entries: number, name: string): Uint16Array {
  const lut = expandSegments(data);
  if (lut.length < entries) throw new Error(`the segmented ${name} palette expands to ${lut.length} entries, its descriptor says ${entries}`);
  return Uint16Array.from(lut.slice(0, entries));
}

/** Interleaved RGB (uint8 or uint16 by the palette's depth) from one frame of indices. */
export function applyPalette(indices: ArrayLike<number>, p: Palette): Uint8Array | Uint16Array {
  const n = indices.length;
  const out = p.bits === 8 ? new Uint8Array(n * 3) : new Uint16Array(n * 3);
  const last = p.entries - 1;
  for (let i = 0; i < n; i++) {
    let k = indices[i]! - p.firstMapped;
    k = k < 0 ? 0 : k > last ? last : k;
    out[i * 3] = p.red[k]!;
    out[i * 3 + 1] = p.green[k]!;
    out[i * 3 + 2] = p.blue[k]!;
  }
  return out;
}
