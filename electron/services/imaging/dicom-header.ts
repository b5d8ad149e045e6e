/**
 * Interpreting the tags of a parsed DICOM dataset: image pixel module, rescale, VOI,
 * geometry and the patient/study/series identity used for grouping.
 *
 * Runtime: pure (works on a dicom-parser DataSet already in memory).
 */
import type { DataSet } from 'dicom-parser';
import { MAX_MASK_PIXELS, type WindowPreset } from '../../contract/api.js';
import { slicePosition } from '../../contract/geometry.js';
import { windowPresets } from './windowing.js';

export interface DicomHeader {
  transferSyntax: string;
  sopClassUid: string | null;
  sopInstanceUid: string | null;
  studyUid: string | null;
  seriesUid: string | null;
  modality: string | null;
  patientName: string | null;
  patientId: string | null;
  studyDescription: string | null;
  seriesDescription: string | null;
  seriesNumber: number | null;
  instanceNumber: number | null;
  rows: number;
  columns: number;
  /** Number of Frames as a valid whole number (1 when absent); the file reader reconciles it with the pixel data. */
  frames: number;
  /** The Number of Frames text when it is not a valid positive whole number ("A1", "1A"), else null. */
  invalidFrames: string | null;
  samplesPerPixel: number;
  photometric: string;
  planarConfiguration: number;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  signed: boolean;
  rescaleSlope: number;
  rescaleIntercept: number;
  windows: WindowPreset[];
  pixelSpacing: [number, number] | null;
  imagePosition: number[] | null;
  imageOrientation: number[] | null;
  slicePosition: number | null;
  /** Slice Thickness (mm) as the file states it: shown, never used to measure (positions are). */
  sliceThickness: number | null;
  accessionNumber: string | null;
  /** Study Date as DICOM writes it (YYYYMMDD). */
  studyDate: string | null;
}

function str(ds: DataSet, tag: string): string | null {
  const v = ds.string(tag);
  return v === undefined || v === '' ? null : v;
}

/** All backslash-separated numbers of a DS/IS element (empty when absent). */
function numbers(ds: DataSet, tag: string): number[] {
  const n = ds.numStringValues(tag) ?? 0;
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(ds.floatString(tag, i) ?? Number.NaN);
  return out;
}

function strings(ds: DataSet, tag: string): string[] {
  const n = ds.numStringValues(tag) ?? 0;
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(ds.string(tag, i) ?? '');
  return out;
}

function finiteOr(v: number | undefined, fallback: number): number {
  return v !== undefined && Number.isFinite(v) ? v : fallback;
}

/** Person Name with the ^ separators turned into a readable form ("Doe^Jane" -> "Doe, Jane"). */
function personName(raw: string | null): string | null {
  if (!raw) return null;
  const [family = '', given = ''] = raw.split('=')[0]!.split('^');
  return given ? `${family}, ${given}` : family || null;
}

/** First item of a sequence, as a dataset. */
function item(ds: DataSet | undefined, tag: string): DataSet | undefined {
  return ds?.elements[tag]?.items?.[0]?.dataSet;
}

/**
 * Where a functional-group attribute lives: Enhanced multi-frame objects (enhanced CT/MR/XA)
 * keep rescale, spacing, VOI and geometry in the Shared (5200,9229) or first Per-frame
 * (5200,9230) Functional Groups instead of the top level. Returns the datasets to look in,
 * top level first.
 */
function groupSources(ds: DataSet, groupTag: string): DataSet[] {
  const out: DataSet[] = [ds];
  const shared = item(item(ds, 'x52009229'), groupTag);
  const perFrame = item(item(ds, 'x52009230'), groupTag);
  if (shared) out.push(shared);
  if (perFrame) out.push(perFrame);
  return out;
}

/**
 * Where frame `frame`'s functional group lives: its own Per-frame item first, then the Shared
 * one, then (when `top`) the top level, which a classic image keeps its geometry in.
 */
function frameGroupSources(ds: DataSet, groupTag: string, frame: number, top: boolean): DataSet[] {
  const out: DataSet[] = [];
  const own = item(ds.elements.x52009230?.items?.[frame]?.dataSet, groupTag);
  const shared = item(item(ds, 'x52009229'), groupTag);
  if (own) out.push(own);
  if (shared) out.push(shared);
  if (top) out.push(ds);
  return out;
}

function firstNumbers(sources: DataSet[], tag: string, count?: number): number[] {
  for (const src of sources) {
    const v = numbers(src, tag);
    if (v.length > 0 && (count === undefined || v.length === count)) return v;
  }
  return [];
}

function firstNumber(sources: DataSet[], tag: string): number | undefined {
  return firstNumbers(sources, tag)[0];
}

/** Number of Frames (IS): a positive whole number, or null for anything else ("A1", "1A", "0"). */
function parseFrames(raw: string | null): number | null {
  if (raw === null) return 1;
  const t = raw.trim();
  if (!/^\+?\d+$/.test(t)) return null;
  const n = Number(t);
  return n >= 1 && Number.isSafeInteger(n) ? n : null;
}

export function readDicomHeader(ds: DataSet): DicomHeader {
  const framesText = ds.elements.x00280008 ? (ds.string('x00280008') ?? '') : null;
  const frames = parseFrames(framesText);
  const bitsAllocated = ds.uint16('x00280100') ?? 0;
  const bitsStored = ds.uint16('x00280101') ?? bitsAllocated;
  const rescale = groupSources(ds, 'x00289145'); // Pixel Value Transformation
  const measures = groupSources(ds, 'x00289110'); // Pixel Measures
  const voi = groupSources(ds, 'x00289132'); // Frame VOI LUT
  const ipp = firstNumbers(groupSources(ds, 'x00209113'), 'x00200032', 3); // Plane Position
  const iop = firstNumbers(groupSources(ds, 'x00209116'), 'x00200037', 6); // Plane Orientation
  const spacing = firstNumbers(measures, 'x00280030', 2);
  const imagerSpacing = spacing.length === 2 ? spacing : numbers(ds, 'x00181164');
  const voiSource = voi.find((src) => src.elements.x00281050 && src.elements.x00281051) ?? ds;
  return {
    transferSyntax: str(ds, 'x00020010') ?? '1.2.840.10008.1.2',
    // A DICOMDIR (and other media objects) names its class only in the meta header.
    sopClassUid: str(ds, 'x00080016') ?? str(ds, 'x00020002'),
    sopInstanceUid: str(ds, 'x00080018'),
    studyUid: str(ds, 'x0020000d'),
    seriesUid: str(ds, 'x0020000e'),
    modality: str(ds, 'x00080060'),
    patientName: personName(str(ds, 'x00100010')),
    patientId: str(ds, 'x00100020'),
    studyDescription: str(ds, 'x00081030'),
    seriesDescription: str(ds, 'x0008103e'),
    seriesNumber: ds.elements.x00200011 ? (ds.intString('x00200011') ?? null) : null,
    instanceNumber: ds.elements.x00200013 ? (ds.intString('x00200013') ?? null) : null,
    rows: ds.uint16('x00280010') ?? 0,
    columns: ds.uint16('x00280011') ?? 0,
    frames: frames ?? 1,
    invalidFrames: frames === null ? framesText : null,
    samplesPerPixel: ds.uint16('x00280002') ?? 1,
    photometric: (str(ds, 'x00280004') ?? 'MONOCHROME2').trim(),
    planarConfiguration: ds.uint16('x00280006') ?? 0,
    bitsAllocated,
    bitsStored,
    highBit: ds.uint16('x00280102') ?? bitsStored - 1,
    signed: (ds.uint16('x00280103') ?? 0) === 1,
    rescaleSlope: finiteOr(firstNumber(rescale, 'x00281053'), 1) || 1,
    rescaleIntercept: finiteOr(firstNumber(rescale, 'x00281052'), 0),
    windows: windowPresets(numbers(voiSource, 'x00281050'), numbers(voiSource, 'x00281051'), strings(voiSource, 'x00281055')),
    pixelSpacing: imagerSpacing.length === 2 && imagerSpacing.every((v) => v > 0) ? [imagerSpacing[0]!, imagerSpacing[1]!] : null,
    imagePosition: ipp.length === 3 ? ipp : null,
    imageOrientation: iop.length === 6 ? iop : null,
    slicePosition: slicePosition(ipp.length === 3 ? ipp : null, iop.length === 6 ? iop : null),
    sliceThickness: positiveOrNull(firstNumber(measures, 'x00180050')),
    accessionNumber: str(ds, 'x00080050'),
    studyDate: str(ds, 'x00080020'),
  };
}

/** One frame's plane in patient space; null where the file does not say (or says something unreadable). */
export interface FramePlane {
  /** Image Position (Patient): the first pixel's centre, mm. */
  position: [number, number, number] | null;
  /** Image Orientation (Patient): row then column direction cosines. */
  orientation: [number, number, number, number, number, number] | null;
  /** Pixel Spacing (row, column), mm; Imager Pixel Spacing when the file gives only that. */
  pixelSpacing: [number, number] | null;
}

/**
 * The plane of every frame of an image, for measuring across the frames of an enhanced
 * multi-frame object (readDicomHeader reads the first frame's only): Plane Position (0020,9113),
 * Plane Orientation (0020,9116) and Pixel Measures (0028,9110), each from the frame's own
 * Per-frame Functional Groups item, else the Shared one. A top-level Image Position is one
 * frame's at most, so it places only a single-frame image; orientation and spacing at the top
 * level hold for every frame.
 */
export function framePlanes(ds: DataSet, frames: number): FramePlane[] {
  const finite = (v: number[]) => (v.every(Number.isFinite) ? v : []);
  return Array.from({ length: frames }, (_, k) => {
    const ipp = finite(firstNumbers(frameGroupSources(ds, 'x00209113', k, frames === 1), 'x00200032', 3));
    const iop = finite(firstNumbers(frameGroupSources(ds, 'x00209116', k, true), 'x00200037', 6));
    const measured = finite(firstNumbers(frameGroupSources(ds, 'x00289110', k, true), 'x00280030', 2));
    const spacing = measured.length === 2 ? measured : finite(numbers(ds, 'x00181164'));
    return {
      position: ipp.length === 3 ? [ipp[0]!, ipp[1]!, ipp[2]!] : null,
      orientation: iop.length === 6 ? [iop[0]!, iop[1]!, iop[2]!, iop[3]!, iop[4]!, iop[5]!] : null,
      pixelSpacing: spacing.length === 2 && spacing.every((v) => v > 0) ? [spacing[0]!, spacing[1]!] : null,
    };
  });
}

function positiveOrNull(v: number | null | undefined): number | null {
  return v !== null && v !== undefined && Number.isFinite(v) && v > 0 ? v : null;
}

/**
 * The most pixels one frame may have, for images and DICOM Segmentations alike: a mask's
 * limit (contract/api.ts), as every frame can carry masks. A compressed frame is tiny on disk
 * whatever its size (a 726-byte RLE SEG can claim 65535 x 65535), so the header's size is
 * checked against this before anything is decoded, and the RLE decoder refuses more.
 */
export const MAX_FRAME_PIXELS = MAX_MASK_PIXELS;
/**
 * The most pixels all the frames of one file may have together (16384 frames of 512 x 512):
 * a SEG's frames are all decoded when it is imported, and nothing bigger is a real study file.
 */
export const MAX_FILE_PIXELS = 2 ** 32;

/** Why a file of this size is refused before decoding (the two limits above), or null. */
export function sizeProblem(h: Pick<DicomHeader, 'rows' | 'columns' | 'frames'>): string | null {
  const frame = h.rows * h.columns;
  if (frame > MAX_FRAME_PIXELS) return `its frames are ${h.columns} x ${h.rows} pixels, more than the ${MAX_FRAME_PIXELS} pixels (16384 x 16384) a frame may have`;
  if (frame * h.frames > MAX_FILE_PIXELS) return `its ${h.frames} frames of ${h.columns} x ${h.rows} pixels add up to more than the ${MAX_FILE_PIXELS} pixels one file may have`;
  return null;
}

/** Why this header cannot describe a decodable image, or null when it can. */
export function headerProblem(h: DicomHeader): string | null {
  if (h.rows <= 0 || h.columns <= 0) return `the image size in its header is ${h.columns} x ${h.rows} pixels`;
  const size = sizeProblem(h);
  if (size) return size;
  if (![1, 8, 16, 32].includes(h.bitsAllocated)) return `it stores ${h.bitsAllocated} bits per pixel sample (Bits Allocated), which no DICOM viewer reads (1, 8, 16 or 32 are valid)`;
  if (h.bitsStored < 1 || h.bitsStored > h.bitsAllocated) return `its header says ${h.bitsStored} of ${h.bitsAllocated} bits hold the value (Bits Stored / Bits Allocated), which cannot be`;
  if (h.samplesPerPixel !== 1 && h.samplesPerPixel !== 3) return `it has ${h.samplesPerPixel} samples per pixel (1 for greyscale or 3 for colour are supported)`;
  if (h.bitsAllocated === 1 && h.samplesPerPixel !== 1) return 'it is a 1-bit colour image, which DICOM does not define';
  if (h.photometric === 'PALETTE COLOR' && (h.samplesPerPixel !== 1 || h.bitsAllocated > 16)) return 'its palette colour indices are not 8- or 16-bit single samples';
  return null;
}

/** Bytes one uncompressed frame takes (1-bit frames are not byte-aligned: see nativeFrameBits). */
export function nativeFrameBytes(h: DicomHeader): number {
  return Math.ceil(nativeFrameBits(h) / 8);
}

/** Bits one uncompressed frame takes; frames follow each other with no padding. */
export function nativeFrameBits(h: DicomHeader): number {
  // Uncompressed YBR_FULL_422 keeps one Cb/Cr pair per two pixels: 2 samples a pixel.
  const samples = h.photometric === 'YBR_FULL_422' && h.samplesPerPixel === 3 ? Math.ceil(h.columns / 2) * 4 * h.rows : h.rows * h.columns * h.samplesPerPixel;
  return samples * h.bitsAllocated;
}
