/**
 * Reading a DICOM Segmentation (Segmentation Storage, 1.2.840.10008.5.1.4.1.1.66.4) into
 * what the project stores: its segments (label, colour, code, how it was made) and one
 * RLE mask per SEG frame with the source instance and frame it lies on. Nothing here knows
 * about a project; seg-import-attach.ts maps the result onto the project's images.
 *
 * - Pixel data is decoded by the app's own DICOM reader (dicom-file.ts), so every transfer
 *   syntax it reads works here too, and BINARY frames are unpacked as the standard packs
 *   them (PS3.5 8.1.1: pixels follow one another bit by bit across frame boundaries, the
 *   first pixel in the least significant bit of the first byte).
 * - FRACTIONAL segmentations are thresholded at half their Maximum Fractional Value: a
 *   pixel is inside when its probability (or occupancy) is at least 50 %.
 * - Which source frame a SEG frame lies on: its Derivation Image Sequence (Source Image
 *   Sequence: Referenced SOP Instance UID and Frame Number) when it has one, else its Plane
 *   Position in the SEG's Frame of Reference (the caller matches that against the sources).
 *
 * Runtime: Node (the DICOM reader inflates deflated files with zlib).
 */
import type { DataSet } from 'dicom-parser';
import dicomParser from 'dicom-parser';
import type { Rle } from '../../contract/api.js';
import { encodeRle } from '../../contract/rle.js';
import { type Code, SEGMENT_CODES } from '../../contract/segment-codes.js';
import { decodeDicomFrame, hasDicomMagic, type ParsedDicom, parseDicomFile } from '../imaging/dicom-file.js';
import { framePlanes } from '../imaging/dicom-header.js';
import { FileProblem } from '../imaging/file-problem.js';
import { SEGMENTATION_STORAGE } from '../imaging/sop-classes.js';

export type SegAlgorithmType = 'AUTOMATIC' | 'SEMIAUTOMATIC' | 'MANUAL';

export interface SegSegment {
  number: number;
  /** Segment Label, trimmed (the number as text when the file leaves it empty). */
  label: string;
  algorithmType: SegAlgorithmType | null;
  algorithmName: string | null;
  /** Recommended Display CIELab Value as sRGB "#rrggbb", or null when absent. */
  color: string | null;
  category: Code | null;
  type: Code | null;
}

/** A source frame a SEG frame refers to; frame null: the reference names no frame (a single-frame source). */
export interface SegSourceRef {
  sopInstanceUid: string;
  frame: number | null;
}

/** One SEG frame as its header describes it: which segment, and where it lies. */
export interface SegFrame {
  /** 0-based frame of the SEG. */
  segFrame: number;
  segment: number;
  refs: SegSourceRef[];
  /** Image Position (Patient) of the frame, when the SEG gives one. */
  position: number[] | null;
}

/** One non-empty SEG frame, with its pixels. */
export interface SegFrameMask extends SegFrame {
  rle: Rle;
}

/** What a SEG says before any pixel is decoded (readSeg): enough to check it against the project first. */
export interface SegInfo {
  sopInstanceUid: string | null;
  seriesUid: string | null;
  studyUid: string | null;
  frameOfReferenceUid: string | null;
  /** The series its Referenced Series Sequence names (where its source images are). */
  referencedSeries: string[];
  segmentationType: 'BINARY' | 'FRACTIONAL';
  rows: number;
  columns: number;
  frames: number;
  segments: SegSegment[];
  /** Every frame, in order. */
  frameList: SegFrame[];
}

/** A SEG read but not decoded: its frames are decoded by decodeSegMasks. */
export interface SegRead extends SegInfo {
  parsed: ParsedDicom;
  /** A pixel is inside when its value reaches this. */
  threshold: number;
}

export interface ParsedSeg extends SegInfo {
  /** Frames with at least one pixel inside (empty frames carry nothing to attach). */
  masks: SegFrameMask[];
}

const seq = (ds: DataSet | undefined, tag: string): DataSet[] => (ds?.elements[tag]?.items ?? []).flatMap((i) => (i.dataSet ? [i.dataSet] : []));
const text = (ds: DataSet | undefined, tag: string): string | null => {
  const v = ds?.string(tag)?.trim();
  return v ? v : null;
};

function code(ds: DataSet | undefined): Code | null {
  const value = text(ds, 'x00080100') ?? text(ds, 'x00080119') ?? text(ds, 'x00080120');
  const scheme = text(ds, 'x00080102');
  return value && scheme ? { scheme, value, meaning: text(ds, 'x00080104') ?? value } : null;
}

/** True when the file says (in its meta header, else its data set) that it is a DICOM Segmentation. */
export function isSegmentation(bytes: Uint8Array): boolean {
  if (!hasDicomMagic(bytes)) return false;
  try {
    const meta = dicomParser.readPart10Header(bytes);
    const cls = meta.string('x00020002')?.trim();
    if (cls) return cls === SEGMENTATION_STORAGE;
    // No class in the meta header: the data set's own SOP Class UID decides.
    return dicomParser.parseDicom(bytes, { untilTag: 'x00080018' }).string('x00080016')?.trim() === SEGMENTATION_STORAGE;
  } catch {
    // A damaged header: the importer's reader says what is wrong with it.
    return false;
  }
}

/** The Segment Sequence, checked: numbers unique and positive. */
function readSegments(ds: DataSet): SegSegment[] {
  const items = seq(ds, 'x00620002');
  if (items.length === 0) throw new FileProblem('unreadable', 'This segmentation lists no segments (its Segment Sequence is empty or missing), so there is nothing to attach.', 'no (0062,0002)');
  const seen = new Set<number>();
  return items.map((it, k) => {
    const number = it.uint16('x00620004');
    if (number === undefined || number < 1) throw new FileProblem('unreadable', `Segment ${k + 1} of this segmentation has no valid Segment Number.`, '(0062,0004)');
    if (seen.has(number)) throw new FileProblem('unreadable', `This segmentation numbers two segments ${number}.`, '(0062,0004) repeated');
    seen.add(number);
    const algorithm = text(it, 'x00620008')?.toUpperCase() ?? null;
    const lab = it.elements.x0062000d && it.elements.x0062000d.length >= 6 ? [0, 1, 2].map((i) => it.uint16('x0062000d', i) ?? 0) : null;
    return {
      number,
      label: text(it, 'x00620005') ?? `Segment ${number}`,
      algorithmType: algorithm === 'AUTOMATIC' || algorithm === 'SEMIAUTOMATIC' || algorithm === 'MANUAL' ? algorithm : null,
      algorithmName: text(it, 'x00620009'),
      color: lab ? dicomLabToHex(lab as [number, number, number]) : null,
      category: code(seq(it, 'x00620003')[0]),
      type: code(seq(it, 'x0062000f')[0]),
    };
  });
}

/** Where per-frame attribute `group` lives for frame k: its own Per-frame item, else the Shared one. */
function group(perFrame: DataSet | undefined, shared: DataSet | undefined, tag: string): DataSet | undefined {
  return seq(perFrame, tag)[0] ?? seq(shared, tag)[0];
}

function numbersOf(ds: DataSet | undefined, tag: string): number[] | null {
  if (!ds?.elements[tag]) return null;
  const n = ds.numStringValues(tag) ?? 0;
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(ds.floatString(tag, i) ?? Number.NaN);
  return out.length && out.every(Number.isFinite) ? out : null;
}

/** The source frames a SEG frame was derived from (Derivation Image Sequence > Source Image Sequence). */
function sourceRefs(perFrame: DataSet | undefined, shared: DataSet | undefined): SegSourceRef[] {
  const derivations = [...seq(perFrame, 'x00089124'), ...(perFrame?.elements.x00089124 ? [] : seq(shared, 'x00089124'))];
  return derivations.flatMap((d) =>
    seq(d, 'x00082112').flatMap((src): SegSourceRef[] => {
      const sopInstanceUid = text(src, 'x00081155');
      if (!sopInstanceUid) return [];
      const frames = numbersOf(src, 'x00081160');
      return frames ? frames.map((f) => ({ sopInstanceUid, frame: f - 1 })) : [{ sopInstanceUid, frame: null }];
    }),
  );
}

/** Image Position (Patient) of each frame of a data set: per-frame Plane Position, else the top level (a single-frame image). */
export function framePositions(ds: DataSet, frames: number): (number[] | null)[] {
  return framePlanes(ds, frames).map((p) => p.position);
}

/**
 * Parse a SEG file and decode its frames. Throws FileProblem (a sentence naming what is
 * wrong) for anything that is not a readable BINARY or FRACTIONAL segmentation.
 */
export async function parseSeg(bytes: Uint8Array): Promise<ParsedSeg> {
  const seg = readSeg(bytes);
  const masks = await decodeSegMasks(seg);
  const { parsed: _, threshold: __, ...info } = seg;
  return { ...info, masks };
}

/**
 * Read a SEG's header, segments and frame descriptions without decoding a pixel (the size
 * limits of dicom-header.ts are checked here): the importer checks it against the project's
 * images before paying for its frames. Throws FileProblem as parseSeg does.
 */
export function readSeg(bytes: Uint8Array): SegRead {
  const parsed = parseDicomFile(bytes);
  const ds = parsed.dataSet;
  const h = parsed.header;
  if (h.sopClassUid !== SEGMENTATION_STORAGE) throw new FileProblem('unsupported_format', 'This file is not a DICOM Segmentation.', `SOP class ${h.sopClassUid ?? 'absent'}`);
  const type = text(ds, 'x00620001')?.toUpperCase() ?? null;
  if (type !== 'BINARY' && type !== 'FRACTIONAL') {
    throw new FileProblem(
      'unsupported_format',
      type === 'LABELMAP'
        ? 'This is a LABELMAP segmentation, which Delineate cannot read yet; export it as a BINARY or FRACTIONAL segmentation.'
        : `This segmentation's type is ${type ? `"${type}"` : 'not stated'}; Delineate reads BINARY and FRACTIONAL segmentations.`,
      `Segmentation Type (0062,0001) ${type ?? 'absent'}`,
    );
  }
  if (type === 'BINARY' && h.bitsAllocated !== 1) throw new FileProblem('unreadable', `This BINARY segmentation stores ${h.bitsAllocated} bits per pixel; the standard says 1.`, `Bits Allocated ${h.bitsAllocated}`);
  if (type === 'FRACTIONAL' && h.bitsAllocated !== 8) throw new FileProblem('unreadable', `This FRACTIONAL segmentation stores ${h.bitsAllocated} bits per pixel; the standard says 8.`, `Bits Allocated ${h.bitsAllocated}`);
  const maxFractional = type === 'FRACTIONAL' ? (ds.uint16('x0062000e') ?? 0) : 1;
  if (maxFractional < 1) throw new FileProblem('unreadable', 'This FRACTIONAL segmentation has no Maximum Fractional Value, so its pixels cannot be read as fractions.', '(0062,000E)');
  const segments = readSegments(ds);
  const numbers = new Set(segments.map((s) => s.number));
  const perFrame = seq(ds, 'x52009230');
  const shared = seq(ds, 'x52009229')[0];
  if (perFrame.length !== h.frames) {
    throw new FileProblem('unreadable', `This segmentation has ${h.frames} frame(s) but describes ${perFrame.length} in its Per-frame Functional Groups, so its frames cannot be placed.`, '(5200,9230) item count');
  }
  const positions = framePositions(ds, h.frames);
  const frameList: SegFrame[] = [];
  for (let k = 0; k < h.frames; k++) {
    const segment = group(perFrame[k], shared, 'x0062000a')?.uint16('x0062000b');
    if (segment === undefined || !numbers.has(segment)) {
      throw new FileProblem('unreadable', `Frame ${k + 1} of this segmentation names ${segment === undefined ? 'no segment' : `segment ${segment}, which it does not describe`}.`, '(0062,000B)');
    }
    frameList.push({ segFrame: k, segment, refs: sourceRefs(perFrame[k], shared), position: positions[k] ?? null });
  }
  return {
    parsed,
    threshold: type === 'BINARY' ? 1 : maxFractional / 2,
    sopInstanceUid: h.sopInstanceUid,
    seriesUid: h.seriesUid,
    studyUid: h.studyUid,
    frameOfReferenceUid: text(ds, 'x00200052'),
    referencedSeries: seq(ds, 'x00081115').flatMap((it) => text(it, 'x0020000e') ?? []),
    segmentationType: type,
    rows: h.rows,
    columns: h.columns,
    frames: h.frames,
    segments,
    frameList,
  };
}

/** Decode the frames of a read SEG: the non-empty ones, as RLE masks. */
export async function decodeSegMasks(seg: SegRead): Promise<SegFrameMask[]> {
  const masks: SegFrameMask[] = [];
  let slice = performance.now();
  for (const f of seg.frameList) {
    if (performance.now() - slice > 15) {
      // A SEG of a whole CT holds hundreds of frames (about 5 ms each at 512 x 512): let
      // other requests in between, as the importer does between files.
      await new Promise((r) => setImmediate(r));
      slice = performance.now();
    }
    const px = await decodeDicomFrame(seg.parsed, f.segFrame);
    const inside = insideMask(px.data, px.dtype, seg.rows * seg.columns, seg.threshold);
    if (inside) masks.push({ ...f, rle: encodeRle(inside, seg.rows, seg.columns) });
  }
  return masks;
}

/** 1 where the value reaches `threshold`; null when no pixel does. */
function insideMask(data: Uint8Array, dtype: string, pixels: number, threshold: number): Uint8Array | null {
  const values = dtype === 'uint16' ? new Uint16Array(data.buffer, data.byteOffset, pixels) : data;
  const out = new Uint8Array(pixels);
  let any = false;
  for (let i = 0; i < pixels; i++) {
    if (values[i]! >= threshold) {
      out[i] = 1;
      any = true;
    }
  }
  return any ? out : null;
}

/**
 * Which label and instance each segment becomes: segments are matched to labels by their
 * Segment Label (case and surrounding space ignored), and the segments that share a label
 * are its instances 1, 2, ... in Segment Number order, so the same SEG always lands on the
 * same masks.
 */
export function segmentInstances(segments: readonly SegSegment[]): Map<number, { label: string; instance: number }> {
  const byLabel = new Map<string, number>();
  const out = new Map<number, { label: string; instance: number }>();
  for (const s of [...segments].sort((a, b) => a.number - b.number)) {
    const key = s.label.toLowerCase();
    const instance = (byLabel.get(key) ?? 0) + 1;
    byLabel.set(key, instance);
    out.set(s.number, { label: s.label, instance });
  }
  return out;
}

/** The key of the label codes list (contract/segment-codes.ts) whose coded concept this segment's type is, or null. */
export function codeKeyOf(s: SegSegment): string | null {
  if (!s.type) return null;
  return SEGMENT_CODES.find((c) => c.type.scheme === s.type!.scheme && c.type.value === s.type!.value)?.key ?? null;
}

/**
 * DICOM's Recommended Display CIELab Value (PS3.3 C.10.7.1.1: L*, a*, b* scaled to 0..65535,
 * D50 white) as sRGB hex: Lab -> XYZ (D50) -> Bradford to D65 -> linear sRGB -> gamma.
 */
export function dicomLabToHex([l16, a16, b16]: [number, number, number]): string {
  const L = (l16 / 65535) * 100;
  const a = (a16 / 65535) * 255 - 128;
  const b = (b16 / 65535) * 255 - 128;
  const fy = (L + 16) / 116;
  const fx = fy + a / 500;
  const fz = fy - b / 200;
  const finv = (t: number) => (t ** 3 > 216 / 24389 ? t ** 3 : (116 * t - 16) / (24389 / 27));
  const X = 0.96422 * finv(fx);
  const Y = 1.0 * (L > 8 ? fy ** 3 : L / (24389 / 27));
  const Z = 0.82521 * finv(fz);
  const X65 = 0.9555766 * X - 0.0230393 * Y + 0.0631636 * Z;
  const Y65 = -0.0282895 * X + 1.0099416 * Y + 0.0210077 * Z;
  const Z65 = 0.0122982 * X - 0.020483 * Y + 1.3299098 * Z;
  const lin = [3.2404542 * X65 - 1.5371385 * Y65 - 0.4985314 * Z65, -0.969266 * X65 + 1.8760108 * Y65 + 0.041556 * Z65, 0.0556434 * X65 - 0.2040259 * Y65 + 1.0572252 * Z65];
  return `#${lin
    .map((c) => {
      const v = c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055;
      return Math.round(Math.min(1, Math.max(0, v)) * 255).toString(16).padStart(2, '0');
    })
    .join('')}`;
}
