/**
 * What a JPEG stream says about itself before its entropy-coded data: sample precision,
 * component ids, and the JFIF / Adobe APP14 markers that decide its colour space. Used to
 * pick the right decoder (8- or 12-bit) and to decode colour with exactly one, correct
 * colour transform. Runtime: pure.
 */

export interface JpegInfo {
  /** Sample precision from the frame header (8, 12 or 16). */
  precision: number;
  components: number;
  componentIds: number[];
  jfif: boolean;
  /** The Adobe APP14 transform flag (0: none/RGB, 1: YCbCr, 2: YCCK), or null without the marker. */
  adobeTransform: number | null;
  /** Byte offset of the APP14 transform flag, to rewrite it. */
  adobeTransformAt: number | null;
  /** Byte offset of the "JFIF\0" identifier, to hide it. */
  jfifAt: number | null;
}

const SOF = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

/** Read the markers up to the first scan. Throws when the stream is not a JPEG. */
export function readJpegInfo(b: Uint8Array): JpegInfo {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) throw new Error('the data does not start with a JPEG start-of-image marker');
  const info: JpegInfo = { precision: 0, components: 0, componentIds: [], jfif: false, adobeTransform: null, adobeTransformAt: null, jfifAt: null };
  let p = 2;
  while (p + 4 <= b.length) {
    if (b[p] !== 0xff) throw new Error(`JPEG marker expected at byte ${p}`);
    const marker = b[p + 1]!;
    if (marker === 0xff) {
      p++; // fill byte
      continue;
    }
    if (marker === 0xda || marker === 0xd9) break; // start of scan / end of image
    const len = (b[p + 2]! << 8) | b[p + 3]!;
    const body = p + 4;
    if (marker === 0xe0 && len >= 7 && ascii(b, body, 5) === 'JFIF\0') {
      info.jfif = true;
      info.jfifAt = body;
    } else if (marker === 0xee && len >= 12 && ascii(b, body, 5) === 'Adobe') {
      info.adobeTransform = b[body + 11]!;
      info.adobeTransformAt = body + 11;
    } else if (SOF.has(marker) && len >= 8) {
      info.precision = b[body]!;
      info.components = b[body + 5]!;
      for (let c = 0; c < info.components; c++) info.componentIds.push(b[body + 6 + c * 3]!);
    }
    p += 2 + len;
  }
  if (!info.precision) throw new Error('the JPEG stream has no frame header (SOF marker)');
  return info;
}

function ascii(b: Uint8Array, at: number, n: number): string {
  return String.fromCharCode(...b.subarray(at, at + n));
}

/**
 * Whether the three components of a colour JPEG hold YCbCr (to be converted to RGB) or RGB.
 * The markers decide first, as the JPEG/JFIF specifications and libjpeg do: JFIF means YCbCr,
 * an Adobe marker's transform flag says it outright. Without either, the DICOM Photometric
 * Interpretation decides (RGB: no transform; YBR_*: YCbCr), and only with neither does the
 * component-id convention ('R','G','B' vs 1,2,3) apply. libjpeg guesses YCbCr there, which
 * turns a marker-less RGB JPEG labelled RGB into wrong colours in every sample.
 */
export function jpegHoldsYcbcr(info: JpegInfo, photometric: string): boolean {
  if (info.adobeTransform !== null) return info.adobeTransform === 1;
  if (info.jfif) return true;
  if (photometric === 'RGB') return false;
  if (photometric.startsWith('YBR')) return true;
  const [a, b, c] = info.componentIds;
  return !(a === 0x52 && b === 0x47 && c === 0x42);
}

/**
 * A copy of the stream that libjpeg decodes with no colour transform at all: the JFIF
 * identifier is hidden and an Adobe transform flag set to 0 (or an Adobe APP14 segment with
 * flag 0 inserted after SOI). The caller converts YCbCr itself, with the same arithmetic as
 * every other YBR path, so the result is identical to the reference's.
 */
export function withoutColourTransform(b: Uint8Array, info: JpegInfo): Uint8Array {
  if (info.adobeTransformAt !== null && !info.jfif) {
    const out = new Uint8Array(b); // a copy: b can be a view into the file's Buffer, whose slice() does not copy
    out[info.adobeTransformAt] = 0;
    return out;
  }
  // APP14: FF EE, length 14, "Adobe", version 100, flags0 0, flags1 0, transform 0
  const app14 = Uint8Array.of(0xff, 0xee, 0x00, 0x0e, 0x41, 0x64, 0x6f, 0x62, 0x65, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00);
  const out = new Uint8Array(b.length + app14.length);
  out.set(b.subarray(0, 2));
  out.set(app14, 2);
  out.set(b.subarray(2), 2 + app14.length);
  const shift = app14.length;
  if (info.jfifAt !== null) out[info.jfifAt + shift] = 0x58; // "JFIF" -> "XFIF": no longer a JFIF marker
  if (info.adobeTransformAt !== null) out[info.adobeTransformAt + shift] = 0;
  return out;
}
