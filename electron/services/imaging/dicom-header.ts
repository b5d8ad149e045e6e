/**
 * Interpreting the tags of a parsed DICOM dataset: image pixel module, rescale, VOI,
 * geometry and the patient/study/series identity used for grouping.
 *
 * Runtime: pure (works on a dicom-parser DataSet already in memory).
 */
import type { DataSet } from 'dicom-parser';
import type { WindowPreset } from '../../contract/api.js';
import { slicePosition } from './slice-order.js';
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
  frames: number;
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

export function readDicomHeader(ds: DataSet): DicomHeader {
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
    sopClassUid: str(ds, 'x00080016'),
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
    frames: Math.max(1, ds.elements.x00280008 ? (ds.intString('x00280008') ?? 1) : 1),
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
  };
}

/** Why this header cannot describe a decodable image, or null when it can. */
export function headerProblem(h: DicomHeader): string | null {
  if (h.rows <= 0 || h.columns <= 0) return `image size is ${h.columns}x${h.rows}`;
  if (![8, 16, 32].includes(h.bitsAllocated)) return `BitsAllocated ${h.bitsAllocated} is not supported (8, 16 or 32)`;
  if (h.bitsStored < 1 || h.bitsStored > h.bitsAllocated) return `BitsStored ${h.bitsStored} does not fit BitsAllocated ${h.bitsAllocated}`;
  if (h.samplesPerPixel !== 1 && h.samplesPerPixel !== 3) return `SamplesPerPixel ${h.samplesPerPixel} is not supported (1 or 3)`;
  if (h.samplesPerPixel === 3 && h.bitsAllocated !== 8) return `colour images with BitsAllocated ${h.bitsAllocated} are not supported`;
  if (h.photometric === 'PALETTE COLOR') return 'PALETTE COLOR images are not supported';
  return null;
}

/** Bytes one uncompressed frame takes. */
export function nativeFrameBytes(h: DicomHeader): number {
  return h.rows * h.columns * h.samplesPerPixel * (h.bitsAllocated / 8);
}
