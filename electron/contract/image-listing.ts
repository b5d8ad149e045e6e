/**
 * The image browser's list in columns: the same rows as `ImageSummary[]`, packed so that a
 * 50,000-image project travels as ~5.5 MB (binary columns plus its distinct strings)
 * instead of 22 MB of JSON objects that both ends walk field by field (measured: listing,
 * encoding and decoding 50,000 objects took about 1 s before a single row was drawn).
 *
 * Columns, one entry per image, in list order:
 *   ints     int32 LE x INT_FIELDS: id, width, height, frames, seriesIndex, maskCount
 *   numbers  float64 LE x NUMBER_FIELDS: seriesNumber, slicePosition, sliceThickness (NaN for none)
 *   strs     int32 LE x STRING_FIELDS: index into `strings`, -1 for null
 *   codes    uint8 x 3: kind, status, validationPinned
 * DataView reads, so no column has to be aligned.
 *
 * Runtime: pure (shared by the services, which encode, and the renderer, which decodes).
 */
import { z } from 'zod';
// Types only: api.ts imports this module for its contract, so no values may come back from it.
import type { ImageStatus, ImageSummary } from './api.js';

const INT_FIELDS = ['id', 'width', 'height', 'frames', 'seriesIndex', 'maskCount'] as const;
const NUMBER_FIELDS = ['seriesNumber', 'slicePosition', 'sliceThickness'] as const;
const STRING_FIELDS = ['fileName', 'folder', 'modality', 'patientName', 'patientId', 'studyUid', 'studyDescription', 'seriesUid', 'seriesDescription', 'accessionNumber', 'studyDate'] as const;
const KINDS = ['dicom', 'raster'] as const;
const STATUSES = ['unlabelled', 'in_progress', 'done'] as const satisfies readonly ImageStatus[];
// Every status has a code: this fails to compile when ImageStatus gains a value.
const _allStatuses: Record<ImageStatus, true> = { unlabelled: true, in_progress: true, done: true };
void _allStatuses;
const CODES = 3;

export const ImageListing = z.object({
  count: z.number().int().nonnegative(),
  strings: z.array(z.string()),
  ints: z.instanceof(Uint8Array),
  numbers: z.instanceof(Uint8Array),
  strs: z.instanceof(Uint8Array),
  codes: z.instanceof(Uint8Array),
});
export type ImageListing = z.infer<typeof ImageListing>;

export function encodeListing(rows: readonly ImageSummary[]): ImageListing {
  const b = listingBuilder(rows.length);
  for (const r of rows) b.add(r);
  return b.done();
}

/**
 * The columns filled row by row: `add` copies what it needs out of the row, so a caller may
 * hand it the same object refilled for every row (the store does, for 50,000 rows, instead
 * of making an object per row only to drop it).
 */
export function listingBuilder(n: number): { add(r: ImageSummary): void; done(): ImageListing } {
  const ints = new DataView(new ArrayBuffer(n * INT_FIELDS.length * 4));
  const numbers = new DataView(new ArrayBuffer(n * NUMBER_FIELDS.length * 8));
  const strs = new DataView(new ArrayBuffer(n * STRING_FIELDS.length * 4));
  const codes = new Uint8Array(n * CODES);
  const strings: string[] = [];
  const index = new Map<string, number>();
  const intern = (s: string | null): number => {
    if (s === null) return -1;
    let i = index.get(s);
    if (i === undefined) {
      i = strings.length;
      strings.push(s);
      index.set(s, i);
    }
    return i;
  };
  let k = 0;
  return {
    add(r: ImageSummary): void {
      if (k >= n) throw new Error(`image listing: more than the ${n} rows announced`);
      for (let j = 0; j < INT_FIELDS.length; j++) ints.setInt32((k * INT_FIELDS.length + j) * 4, r[INT_FIELDS[j]!], true);
      for (let j = 0; j < NUMBER_FIELDS.length; j++) numbers.setFloat64((k * NUMBER_FIELDS.length + j) * 8, r[NUMBER_FIELDS[j]!] ?? NaN, true);
      for (let j = 0; j < STRING_FIELDS.length; j++) strs.setInt32((k * STRING_FIELDS.length + j) * 4, intern(r[STRING_FIELDS[j]!]), true);
      codes[k * CODES] = KINDS.indexOf(r.kind);
      codes[k * CODES + 1] = STATUSES.indexOf(r.status);
      codes[k * CODES + 2] = r.validationPinned ? 1 : 0;
      k++;
    },
    done(): ImageListing {
      if (k !== n) throw new Error(`image listing: ${k} rows added, ${n} announced`);
      const bytes = (v: DataView) => new Uint8Array(v.buffer as ArrayBuffer); // made from ArrayBuffers above
      return { count: n, strings, ints: bytes(ints), numbers: bytes(numbers), strs: bytes(strs), codes };
    },
  };
}

/** Thrown when a listing's columns do not fit its count or point outside its strings. */
export class ListingFormatError extends Error {}

/** The rows back; checks every column's size, every string index and every code. */
export function decodeListing(l: ImageListing): ImageSummary[] {
  const n = l.count;
  const expect = (what: string, got: number, want: number) => {
    if (got !== want) throw new ListingFormatError(`image listing: the ${what} column holds ${got} bytes, ${want} expected for ${n} images`);
  };
  expect('ints', l.ints.byteLength, n * INT_FIELDS.length * 4);
  expect('numbers', l.numbers.byteLength, n * NUMBER_FIELDS.length * 8);
  expect('strs', l.strs.byteLength, n * STRING_FIELDS.length * 4);
  expect('codes', l.codes.byteLength, n * CODES);
  const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
  const ints = view(l.ints);
  const numbers = view(l.numbers);
  const strs = view(l.strs);
  const str = (k: number, j: number): string | null => {
    const i = strs.getInt32((k * STRING_FIELDS.length + j) * 4, true);
    if (i === -1) return null;
    const s = l.strings[i];
    if (s === undefined) throw new ListingFormatError(`image listing: string index ${i} of image ${k} is outside the ${l.strings.length} strings`);
    return s;
  };
  const code = <T>(values: readonly T[], k: number, j: number, what: string): T => {
    const v = values[l.codes[k * CODES + j]!];
    if (v === undefined) throw new ListingFormatError(`image listing: image ${k} has an unknown ${what} code ${l.codes[k * CODES + j]}`);
    return v;
  };
  const out = new Array<ImageSummary>(n);
  for (let k = 0; k < n; k++) {
    const int = (j: number) => ints.getInt32((k * INT_FIELDS.length + j) * 4, true);
    const num = (j: number): number | null => {
      const v = numbers.getFloat64((k * NUMBER_FIELDS.length + j) * 8, true);
      return Number.isNaN(v) ? null : v;
    };
    out[k] = {
      id: int(0),
      kind: code(KINDS, k, 0, 'kind'),
      fileName: str(k, 0) ?? '',
      folder: str(k, 1) ?? '',
      status: code(STATUSES, k, 1, 'status'),
      width: int(1),
      height: int(2),
      frames: int(3),
      modality: str(k, 2),
      patientName: str(k, 3),
      patientId: str(k, 4),
      studyUid: str(k, 5),
      studyDescription: str(k, 6),
      seriesUid: str(k, 7),
      seriesDescription: str(k, 8),
      seriesNumber: num(0),
      seriesIndex: int(4),
      maskCount: int(5),
      validationPinned: code([false, true], k, 2, 'validationPinned'),
      accessionNumber: str(k, 9),
      studyDate: str(k, 10),
      slicePosition: num(1),
      sliceThickness: num(2),
    };
  }
  return out;
}
