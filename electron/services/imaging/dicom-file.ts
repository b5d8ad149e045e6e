/**
 * Reading a DICOM Part 10 file: parse (tolerating what reference readers tolerate, with a
 * warning), say in plain words what is wrong with a file that cannot be read, and decode
 * frames into the values a viewer shows.
 *
 * Runtime: Node (zlib for the deflated syntax, WASM codecs).
 */
import { inflateRawSync } from 'node:zlib';
import dicomParser, { type ByteStream, type DataSet, type Element } from 'dicom-parser';
import type { PixelFrame } from '../../contract/api.js';
import { CodecError, decodeCompressedFrame } from './codecs.node.js';
import { decodeDicomRle } from './dicom-rle.js';
import { type DicomHeader, headerProblem, nativeFrameBits, nativeFrameBytes, readDicomHeader, sizeProblem } from './dicom-header.js';
import { FileProblem } from './file-problem.js';
import { applyPalette, type Palette, readPalette } from './palette.js';
import { bytesOf, convertSamples, copyBytes, expandYbr422, minMax, type Pixels, unpackBits } from './pixel-convert.js';
import { sopClassName } from './sop-classes.js';
import { isEncapsulated, pixelEncoding, transferSyntaxName } from './transfer-syntax.js';

export interface ParsedDicom {
  dataSet: DataSet;
  /** Number of frames reconciled with what the pixel data holds. */
  header: DicomHeader;
  pixelData: Element;
  palette: Palette | null;
  /** Imported, but not quite as the file says: shown in the import report. */
  warnings: string[];
}

/** What a decoded frame of this file looks like: what the image row records. */
export interface FrameLayout {
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  signed: boolean;
  photometric: string;
}

const IMPLICIT_LE = '1.2.840.10008.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const DEFLATED = '1.2.840.10008.1.2.1.99';
const EXPLICIT_BE = '1.2.840.10008.1.2.2';

function inflater(bytes: Uint8Array, position: number): Uint8Array {
  const inflated = inflateRawSync(bytes.subarray(position));
  const full = new Uint8Array(position + inflated.length);
  full.set(bytes.subarray(0, position));
  full.set(inflated, position);
  return full;
}

/** True when the bytes carry the Part 10 "DICM" magic after the 128-byte preamble. */
export function hasDicomMagic(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}

const tagName = (tag: string) => `(${tag.slice(1, 5)},${tag.slice(5, 9)})`.toUpperCase();

/** dicom-parser throws strings, Errors, and { exception, dataSet } objects. */
function parserMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === 'object' && e && 'exception' in e) return parserMessage((e as { exception: unknown }).exception);
  return String(e);
}

const OVERRUN = /past end|overrun|overread|end of buffer|beyond|cannot be > buffer length|buffer overread/i;

const PIXEL_DATA_TAG = Uint8Array.of(0xe0, 0x7f, 0x10, 0x00);

function indexOfBytes(hay: Uint8Array, needle: Uint8Array, from: number): number {
  return Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength).indexOf(needle, from);
}

/** Two upper-case letters where an explicit-VR element keeps its VR. */
function looksExplicit(bytes: Uint8Array, position: number): boolean {
  const a = bytes[position + 4];
  const b = bytes[position + 5];
  return a !== undefined && b !== undefined && a >= 0x41 && a <= 0x5a && b >= 0x41 && b <= 0x5a;
}

/**
 * Why a parse stopped, in words: a file cut short (the next element's length runs past the
 * end while its tag still follows the order of the ones before it) or damaged data.
 */
function parseFailure(e: unknown, bytes: Uint8Array, start: number): FileProblem {
  const msg = parserMessage(e);
  const partial = typeof e === 'object' && e && 'dataSet' in e ? (e as { dataSet?: DataSet }).dataSet : undefined;
  let end = start;
  let lastTag = '';
  for (const [tag, el] of Object.entries(partial?.elements ?? {})) {
    // an element whose length runs past the end of the file is the suspect, not a landmark
    if (el.length >= 0 && el.dataOffset + el.length > end && el.dataOffset + el.length <= bytes.length) {
      end = el.dataOffset + el.length;
      lastTag = tag;
    }
  }
  const detail = `${msg} (after ${lastTag ? `element ${tagName(lastTag)}` : 'the meta header'}, byte ${end} of ${bytes.length})`;
  const nextGroup = end + 2 <= bytes.length ? bytes[end]! | (bytes[end + 1]! << 8) : null;
  const inOrder = nextGroup === null || !lastTag || nextGroup >= parseInt(lastTag.slice(1, 5), 16);
  // A length that runs past the end is a cut-short file only if nothing follows: a Pixel Data
  // element further on means the file is whole and that length is damaged.
  const pixelDataFollows = indexOfBytes(bytes, PIXEL_DATA_TAG, end + 8) >= 0;
  if (OVERRUN.test(msg) && inOrder && !pixelDataFollows) {
    return new FileProblem('truncated', 'The file ends before its data does: it was probably cut short while being copied or downloaded.', detail);
  }
  return new FileProblem('unreadable', `The file's DICOM data is damaged near byte ${end} and cannot be read.`, detail);
}

/**
 * Parse meta header and data set. A data set encoded with the other VR convention than its
 * meta header says (implicit data under an explicit syntax, or the reverse) is read the way
 * it is actually encoded, as pydicom and dcmtk do, with a warning.
 */
function parseDataSet(bytes: Uint8Array): { dataSet: DataSet; warnings: string[] } {
  let meta: DataSet & { position?: number };
  try {
    meta = dicomParser.readPart10Header(bytes);
  } catch (e) {
    throw parseFailure(e, bytes, 132);
  }
  const syntax = meta.string('x00020010')?.replace(/\0/g, '').trim();
  if (!syntax) throw new FileProblem('unreadable', 'The file does not say how its data is encoded (no Transfer Syntax UID in its meta header).', 'missing (0002,0010)');
  const position = meta.position ?? 132;
  const warnings: string[] = [];
  if ((syntax === IMPLICIT_LE || syntax === EXPLICIT_LE || pixelEncoding(syntax) !== null) && syntax !== DEFLATED && syntax !== EXPLICIT_BE && position + 6 <= bytes.length) {
    const explicit = looksExplicit(bytes, position);
    if (explicit !== (syntax !== IMPLICIT_LE)) {
      warnings.push(
        `The file's header says ${transferSyntaxName(syntax)}, but its data is encoded as ${explicit ? 'Explicit' : 'Implicit'} VR Little Endian; it was read as it is encoded.`,
      );
      return { dataSet: parseLittleEndian(bytes, meta, position, explicit), warnings };
    }
  }
  try {
    return { dataSet: dicomParser.parseDicom(bytes, { inflater: inflater as never }), warnings };
  } catch (e) {
    throw parseFailure(e, bytes, position);
  }
}

function parseLittleEndian(bytes: Uint8Array, meta: DataSet, position: number, explicit: boolean): DataSet {
  const lib = dicomParser as unknown as {
    ByteStream: new (parser: unknown, bytes: Uint8Array, position: number) => ByteStream;
    DataSet: new (parser: unknown, bytes: Uint8Array, elements: Record<string, Element>) => DataSet;
  };
  const stream = new lib.ByteStream(dicomParser.littleEndianByteArrayParser, bytes, position);
  const dataSet = new lib.DataSet(stream.byteArrayParser, stream.byteArray, {});
  dataSet.warnings = [];
  try {
    if (explicit) dicomParser.parseDicomDataSetExplicit(dataSet, stream, bytes.length);
    else dicomParser.parseDicomDataSetImplicit(dataSet, stream, bytes.length);
  } catch (e) {
    throw parseFailure({ exception: e, dataSet }, bytes, position);
  }
  Object.assign(dataSet.elements, meta.elements);
  return dataSet;
}

/** Frames the pixel data holds, or null when that cannot be told. */
function framesHeld(h: DicomHeader, pixelData: Element): number | null {
  if (!pixelData.encapsulatedPixelData) {
    const bits = nativeFrameBits(h);
    return bits > 0 ? Math.floor((pixelData.length * 8) / bits) : null;
  }
  const table = pixelData.basicOffsetTable?.length ?? 0;
  if (table > 0) return table;
  return pixelData.fragments?.length || null;
}

/** Settle the number of frames: the file's own value when it is valid and fits the data, else the data's, with a warning. */
function reconcileFrames(h: DicomHeader, pixelData: Element, warnings: string[]): number {
  const held = framesHeld(h, pixelData);
  if (h.invalidFrames !== null) {
    if (!held) {
      throw new FileProblem('unreadable', `Its Number of Frames is "${h.invalidFrames}", not a whole number, and the pixel data does not tell how many frames it holds.`, 'invalid IS in (0028,0008)');
    }
    warnings.push(`Number of Frames (0028,0008) is "${h.invalidFrames}", not a whole number; the pixel data holds ${held} frame${held === 1 ? '' : 's'}, and ${held === 1 ? 'it was' : `all ${held} were`} imported.`);
    return held;
  }
  // Encapsulated data without an offset table may split one frame over several fragments: only a table counts there.
  const countable = !pixelData.encapsulatedPixelData || (pixelData.basicOffsetTable?.length ?? 0) > 0;
  if (held && countable && held > h.frames) {
    warnings.push(`Number of Frames (0028,0008) says ${h.frames}, but the pixel data holds ${held} frames; all ${held} were imported.`);
    return held;
  }
  return h.frames;
}

/**
 * Parse and check a Part 10 file. Throws FileProblem: not_dicom, truncated, no_pixel_data,
 * unsupported_syntax, unsupported_format or unreadable, each with a plain sentence.
 */
export function parseDicomFile(bytes: Uint8Array): ParsedDicom {
  if (!hasDicomMagic(bytes)) throw new FileProblem('not_dicom', 'This is not a DICOM file: it lacks the "DICM" marker every DICOM file carries at byte 128.');
  const { dataSet, warnings } = parseDataSet(bytes);
  let header = readDicomHeader(dataSet);
  const pixelData = dataSet.elements.x7fe00010 ?? dataSet.elements.x7fe00008 ?? dataSet.elements.x7fe00009;
  const syntaxName = transferSyntaxName(header.transferSyntax);
  const encoding = pixelEncoding(header.transferSyntax);
  if (!pixelData) {
    const what = sopClassName(header.sopClassUid);
    const dicomdir = header.sopClassUid === '1.2.840.10008.1.3.10';
    throw new FileProblem(
      'no_pixel_data',
      dicomdir
        ? 'This is a DICOMDIR, the index of a DICOM disc or folder, not an image: import the folder it sits in instead.'
        : `This file holds no image: it is a ${what}.`,
      `no Pixel Data (7FE0,0010); SOP class ${header.sopClassUid ?? 'absent'}`,
    );
  }
  if (!encoding) {
    throw new FileProblem(
      'unsupported_syntax',
      `Its images are compressed as ${syntaxName}, which Delineate cannot decode yet. Convert the file to an uncompressed or JPEG 2000 encoding first (e.g. with dcmtk's dcmdjpeg or GDCM's gdcmconv).`,
      `transfer syntax ${header.transferSyntax}`,
    );
  }
  const problem = headerProblem(header);
  if (problem) throw new FileProblem('unsupported_format', `This image cannot be shown: ${problem}.`, `${header.photometric}, ${header.samplesPerPixel} sample(s), ${header.bitsAllocated}/${header.bitsStored} bits`);
  const end = pixelData.dataOffset + pixelData.length;
  if (!pixelData.encapsulatedPixelData && end > dataSet.byteArray.length) {
    throw new FileProblem(
      'truncated',
      'The file ends before its image data does: it was probably cut short while being copied or downloaded.',
      `Pixel Data needs ${pixelData.length} bytes but the file ends ${end - dataSet.byteArray.length} bytes early`,
    );
  }
  header = { ...header, frames: reconcileFrames(header, pixelData, warnings) };
  // The pixel data may hold more frames than the header said: the size limit counts those too.
  const tooBig = sizeProblem(header);
  if (tooBig) throw new FileProblem('unsupported_format', `This image cannot be shown: ${tooBig}.`, `${header.frames} x ${header.columns} x ${header.rows}`);
  if (!isEncapsulated(encoding)) {
    if (header.samplesPerPixel === 3 && header.photometric.startsWith('YBR_') && header.photometric !== 'YBR_FULL' && header.photometric !== 'YBR_FULL_422') {
      throw new FileProblem('unsupported_format', `This image cannot be shown: uncompressed ${header.photometric} colour is not supported.`, header.photometric);
    }
    const needBits = nativeFrameBits(header) * header.frames;
    if (pixelData.length * 8 < needBits) {
      throw new FileProblem(
        'truncated',
        `The image data is shorter than the image: ${header.frames} frame${header.frames === 1 ? '' : 's'} of ${header.columns} x ${header.rows} need ${Math.ceil(needBits / 8)} bytes, the file has ${pixelData.length}.`,
        `Pixel Data length ${pixelData.length}`,
      );
    }
  } else if (!pixelData.fragments || pixelData.fragments.length === 0) {
    throw new FileProblem('truncated', 'The compressed image data is empty: the file holds no frame.', 'encapsulated Pixel Data has no fragments');
  } else {
    const last = pixelData.fragments[pixelData.fragments.length - 1]!;
    if (last.position + last.length > dataSet.byteArray.length) {
      // `position` is the fragment's absolute offset in the file
      throw new FileProblem('truncated', 'The file ends before its image data does: it was probably cut short while being copied or downloaded.', 'the last Pixel Data fragment runs past the end of the file');
    }
  }
  let palette: Palette | null = null;
  if (header.photometric === 'PALETTE COLOR') {
    try {
      palette = readPalette(dataSet, header.signed);
    } catch (e) {
      throw new FileProblem('unsupported_format', `This palette colour image cannot be shown: ${(e as Error).message}.`, 'PALETTE COLOR');
    }
  }
  return { dataSet, header, pixelData, palette, warnings };
}

/** The layout of the frames decodeDicomFrame returns for this file. */
export function frameLayout(p: ParsedDicom): FrameLayout {
  const h = p.header;
  if (p.palette) return { samplesPerPixel: 3, bitsAllocated: p.palette.bits, bitsStored: p.palette.bits, signed: false, photometric: 'RGB' };
  if (h.bitsAllocated === 1) return { samplesPerPixel: 1, bitsAllocated: 8, bitsStored: 1, signed: false, photometric: h.photometric };
  if (h.samplesPerPixel === 3) return { samplesPerPixel: 3, bitsAllocated: h.bitsAllocated, bitsStored: h.bitsStored, signed: h.signed, photometric: 'RGB' };
  return { samplesPerPixel: 1, bitsAllocated: h.bitsAllocated, bitsStored: h.bitsStored, signed: h.signed, photometric: h.photometric };
}

function encapsulatedFrame(p: ParsedDicom, frame: number): Uint8Array {
  const { dataSet, pixelData, header } = p;
  const fragments = pixelData.fragments ?? [];
  if (header.frames === 1) return dicomParser.readEncapsulatedPixelDataFromFragments(dataSet, pixelData, 0, fragments.length);
  if ((pixelData.basicOffsetTable?.length ?? 0) > 0) return dicomParser.readEncapsulatedImageFrame(dataSet, pixelData, frame);
  if (fragments.length === header.frames) return dicomParser.readEncapsulatedPixelDataFromFragments(dataSet, pixelData, frame, 1);
  const table = dicomParser.createJPEGBasicOffsetTable(dataSet, pixelData);
  return dicomParser.readEncapsulatedImageFrame(dataSet, pixelData, frame, table);
}

/** One uncompressed frame's bytes, as little-endian samples of the file's layout. */
function nativeFrame(p: ParsedDicom, frame: number, bigEndian: boolean): Uint8Array {
  const h = p.header;
  const size = nativeFrameBytes(h);
  const base = p.pixelData.dataOffset;
  const start = base + frame * size;
  if (!(bigEndian && h.bitsAllocated === 8 && p.pixelData.vr === 'OW')) return p.dataSet.byteArray.subarray(start, start + size);
  // 8-bit samples in an OW element of a big-endian file are stored as swapped 16-bit words;
  // the words are aligned to the element's start, not the frame's.
  const from = start - ((start - base) % 2);
  const words = copyBytes(p.dataSet.byteArray.subarray(from, Math.min(base + p.pixelData.length, start + size + 1)));
  for (let i = 0; i + 1 < words.length; i += 2) {
    const t = words[i]!;
    words[i] = words[i + 1]!;
    words[i + 1] = t;
  }
  return words.subarray(start - from, start - from + size);
}

/** Decode one frame into stored values (not rescaled, MONOCHROME1 not inverted), colour as RGB. */
export async function decodeDicomFrame(p: ParsedDicom, frame: number): Promise<PixelFrame> {
  const h = p.header;
  if (frame < 0 || frame >= h.frames) throw new FileProblem('unreadable', `This image has ${h.frames} frame${h.frames === 1 ? '' : 's'}; frame ${frame + 1} does not exist.`);
  const encoding = pixelEncoding(h.transferSyntax);
  if (!encoding) throw new FileProblem('unsupported_syntax', `Its images are compressed as ${transferSyntaxName(h.transferSyntax)}, which Delineate cannot decode yet.`);
  const layout = { ...h };
  let samples: Uint8Array;
  let bigEndian = false;
  try {
    if (encoding === 'native' || encoding === 'native-be') {
      bigEndian = encoding === 'native-be';
      if (h.bitsAllocated === 1) {
        const pixelBits = h.rows * h.columns;
        const first = p.pixelData.dataOffset + Math.floor((frame * pixelBits) / 8);
        const packed = p.dataSet.byteArray.subarray(first, first + Math.ceil(pixelBits / 8) + 1);
        samples = unpackBits(packed, pixelBits, (frame * pixelBits) % 8);
        Object.assign(layout, { bitsAllocated: 8, bitsStored: 8, highBit: 7 });
      } else {
        samples = nativeFrame(p, frame, bigEndian);
        if (h.photometric === 'YBR_FULL_422' && h.samplesPerPixel === 3) {
          samples = expandYbr422(samples, h.rows, h.columns);
          Object.assign(layout, { photometric: 'YBR_FULL', planarConfiguration: 0 });
        }
      }
    } else {
      const data = encapsulatedFrame(p, frame);
      if (data.length === 0) throw new CodecError(transferSyntaxName(h.transferSyntax), `frame ${frame + 1} has no data`);
      if (encoding === 'rle') {
        samples = decodeDicomRle(data, h);
        layout.planarConfiguration = 0; // RLE segments come out interleaved
      } else {
        const d = await decodeCompressedFrame(encoding, data, { bitsAllocated: h.bitsAllocated, photometric: h.photometric, width: h.columns, height: h.rows, signed: h.signed });
        if ((d.width && d.width !== h.columns) || (d.height && d.height !== h.rows)) {
          throw new CodecError(transferSyntaxName(h.transferSyntax), `the compressed frame is ${d.width} x ${d.height}, the header says ${h.columns} x ${h.rows}`);
        }
        samples = d.bytes;
        layout.planarConfiguration = 0; // codecs return interleaved samples
        if (h.samplesPerPixel === 3) {
          // JPEG: the stream's own colour space (converted once, below); JPEG 2000: OpenJPEG
          // undoes its component transform; JPEG-LS and lossless JPEG: the stored components.
          const ybr = encoding === 'jpeg-baseline' ? d.ycbcr === true : encoding !== 'jpeg-2000' && h.photometric === 'YBR_FULL';
          layout.photometric = ybr ? 'YBR_FULL' : 'RGB';
        }
        // Compressed samples are already right-aligned: only BitsStored matters.
        layout.highBit = h.bitsStored - 1;
      }
    }
  } catch (e) {
    if (e instanceof FileProblem) throw e;
    const detail = e instanceof CodecError ? e.message : e instanceof Error ? e.message : String(e);
    throw new FileProblem(
      'unreadable',
      `The compressed image data of frame ${frame + 1} could not be decoded (${transferSyntaxName(h.transferSyntax)}): the file is damaged, or uses a variant of the format the decoder does not handle.`,
      detail,
    );
  }
  let c: { dtype: PixelFrame['dtype']; pixels: Pixels; photometric: string };
  try {
    c = convertSamples(samples, layout, { bigEndian });
  } catch (e) {
    throw new FileProblem('unreadable', `The image data of frame ${frame + 1} is shorter than the image it describes.`, (e as Error).message);
  }
  let samplesPerPixel = h.samplesPerPixel;
  if (p.palette) {
    const rgb = applyPalette(c.pixels, p.palette);
    c = { dtype: rgb instanceof Uint8Array ? 'uint8' : 'uint16', pixels: rgb, photometric: 'RGB' };
    samplesPerPixel = 3;
  }
  const { min, max } = minMax(c.pixels);
  return {
    width: h.columns,
    height: h.rows,
    samplesPerPixel,
    dtype: c.dtype,
    photometric: c.photometric,
    rescaleSlope: h.rescaleSlope,
    rescaleIntercept: h.rescaleIntercept,
    minValue: min,
    maxValue: max,
    data: bytesOf(c.pixels),
  };
}
