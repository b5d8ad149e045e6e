/**
 * Reading a DICOM Part 10 file: parse, classify what is wrong with it, and decode frames.
 *
 * Runtime: Node (zlib for the deflated syntax, WASM codecs).
 */
import { inflateRawSync } from 'node:zlib';
import dicomParser, { type DataSet, type Element } from 'dicom-parser';
import type { PixelFrame } from '../../contract/api.js';
import { decodeCompressedFrame } from './codecs.node.js';
import { decodeDicomRle } from './dicom-rle.js';
import { type DicomHeader, headerProblem, nativeFrameBytes, readDicomHeader } from './dicom-header.js';
import { FileProblem } from './file-problem.js';
import { bytesOf, convertSamples, minMax } from './pixel-convert.js';
import { isEncapsulated, pixelEncoding, transferSyntaxName } from './transfer-syntax.js';

export interface ParsedDicom {
  dataSet: DataSet;
  header: DicomHeader;
  pixelData: Element;
}

const DEFLATED = '1.2.840.10008.1.2.1.99';

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

/**
 * Parse and check a Part 10 file. Throws FileProblem: not_dicom, truncated, no_pixel_data,
 * unsupported_syntax, unsupported_format or unreadable.
 */
export function parseDicomFile(bytes: Uint8Array): ParsedDicom {
  if (!hasDicomMagic(bytes)) throw new FileProblem('not_dicom', 'no DICOM Part 10 "DICM" marker at byte 128');
  let dataSet: DataSet;
  try {
    dataSet = dicomParser.parseDicom(bytes, { inflater: inflater as never });
  } catch (e) {
    // dicom-parser throws strings or { exception, dataSet } objects as well as Errors
    const msg = e instanceof Error ? e.message : typeof e === 'object' && e && 'exception' in e ? String(e.exception) : String(e);
    if (/past end|overrun|overread|end of buffer|beyond/i.test(msg)) throw new FileProblem('truncated', `file ends early (${msg})`);
    throw new FileProblem('unreadable', `DICOM parse error: ${msg}`);
  }
  const header = readDicomHeader(dataSet);
  const pixelData = dataSet.elements.x7fe00010 ?? dataSet.elements.x7fe00008 ?? dataSet.elements.x7fe00009;
  const encoding = pixelEncoding(header.transferSyntax);
  if (!encoding) {
    throw new FileProblem(
      'unsupported_syntax',
      `transfer syntax ${header.transferSyntax} (${transferSyntaxName(header.transferSyntax)}) is not supported`,
    );
  }
  if (!pixelData) {
    const what = header.sopClassUid === '1.2.840.10008.1.3.10' ? 'a DICOMDIR (the index of a DICOM disc), not an image' : `SOP class ${header.sopClassUid ?? 'unknown'}`;
    throw new FileProblem('no_pixel_data', `no Pixel Data element (${what})`);
  }
  const end = pixelData.dataOffset + pixelData.length;
  if (!pixelData.encapsulatedPixelData && end > dataSet.byteArray.length) {
    throw new FileProblem('truncated', `Pixel Data needs ${pixelData.length} bytes but the file ends ${end - dataSet.byteArray.length} bytes early`);
  }
  const problem = headerProblem(header);
  if (problem) throw new FileProblem('unsupported_format', problem);
  if (!isEncapsulated(encoding)) {
    if (header.photometric.startsWith('YBR_') && header.photometric !== 'YBR_FULL') {
      throw new FileProblem('unsupported_format', `uncompressed ${header.photometric} (subsampled colour) is not supported`);
    }
    const need = nativeFrameBytes(header) * header.frames;
    if (pixelData.length < need) {
      throw new FileProblem('truncated', `Pixel Data has ${pixelData.length} bytes, ${header.frames} frame(s) of ${header.columns}x${header.rows} need ${need}`);
    }
  } else if (!pixelData.fragments || pixelData.fragments.length === 0) {
    throw new FileProblem('truncated', 'encapsulated Pixel Data has no fragments');
  } else {
    const last = pixelData.fragments[pixelData.fragments.length - 1]!;
    if (last.position + last.length > dataSet.byteArray.length) {
      // `position` is the fragment's absolute offset in the file
      throw new FileProblem('truncated', 'the last Pixel Data fragment runs past the end of the file');
    }
  }
  return { dataSet, header, pixelData };
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

/** Decode one frame into stored values (not rescaled, MONOCHROME1 not inverted). */
export async function decodeDicomFrame(p: ParsedDicom, frame: number): Promise<PixelFrame> {
  const h = p.header;
  if (frame < 0 || frame >= h.frames) throw new FileProblem('unreadable', `frame ${frame} out of range (file has ${h.frames})`);
  const encoding = pixelEncoding(h.transferSyntax);
  if (!encoding) throw new FileProblem('unsupported_syntax', `transfer syntax ${h.transferSyntax} is not supported`);
  const layout = { ...h };
  let samples: Uint8Array;
  let bigEndian = false;
  if (encoding === 'native' || encoding === 'native-be') {
    const size = nativeFrameBytes(h);
    const start = p.pixelData.dataOffset + frame * size;
    samples = p.dataSet.byteArray.subarray(start, start + size);
    bigEndian = encoding === 'native-be';
  } else {
    const data = encapsulatedFrame(p, frame);
    if (encoding === 'rle') {
      samples = decodeDicomRle(data, h);
    } else {
      const d = await decodeCompressedFrame(encoding, data, h.bitsAllocated);
      if ((d.width && d.width !== h.columns) || (d.height && d.height !== h.rows)) {
        throw new FileProblem('unreadable', `compressed frame is ${d.width}x${d.height}, header says ${h.columns}x${h.rows}`);
      }
      samples = d.bytes;
      layout.planarConfiguration = 0; // codecs return interleaved samples
      // Codecs undo the colour transform: what comes out of a colour JPEG / J2K is RGB.
      if (h.samplesPerPixel === 3) layout.photometric = 'RGB';
      // Compressed samples are already right-aligned: only BitsStored matters.
      layout.highBit = h.bitsStored - 1;
    }
  }
  const c = convertSamples(samples, layout, { bigEndian });
  const { min, max } = minMax(c.pixels);
  return {
    width: h.columns,
    height: h.rows,
    samplesPerPixel: h.samplesPerPixel,
    dtype: c.dtype,
    photometric: c.photometric,
    rescaleSlope: h.rescaleSlope,
    rescaleIntercept: h.rescaleIntercept,
    minValue: min,
    maxValue: max,
    data: bytesOf(c.pixels),
  };
}
