/**
 * One complete series through the model and out to the PACS, with the app's own code at
 * every step: the imaging service's parser and decoders, the window policy and SAM
 * preprocessing (inference/segment.ts on a SamEngine), the SEG plan of the app's export
 * (seg-request.ts), the same DICOM tool that writes it (highdicom) and the same sender
 * (pacs.node.ts: C-STORE or STOW-RS). Runtime: node.
 *
 * A series the package is not for (not images: a SEG, an SR, ... -- among them the node's own
 * SEGs, should a PACS route them back; another modality, images too small or too large,
 * several frames per instance, mixed sizes, an unreadable file, more instances or bytes than
 * the node takes) is SKIPPED with a sentence that says why; anything else that goes wrong is
 * thrown, and the queue tries the series again.
 *
 * Memory stays bounded by one slice: the series is checked from the headers (each file read,
 * parsed, and its bytes dropped), then read again and decoded one slice at a time.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { PixelFrame } from '../contract/api.js';
import type { PackageManifest } from '../contract/model-package.js';
import { encodeRle } from '../contract/rle.js';
import { runDicomTool } from '../services/dicom-export/dicom-tool.node.js';
import { sendFiles, type PacsDestination } from '../services/dicom-export/pacs.node.js';
import { planSeg, type ExportMask, type ExportSource } from '../services/dicom-export/seg-request.js';
import { decodeDicomFrame, parseDicomFile, type ParsedDicom } from '../services/imaging/dicom-file.js';
import { orderSlices } from '../contract/geometry.js';
import { sopClassName } from '../services/imaging/sop-classes.js';
import type { ModelFiles } from '../services/inference/sam-engine.node.js';
import { frameForSam, segmentImage, type SegmentEngine } from '../services/inference/segment.js';

/** What the node knows about its package, for the SEG's algorithm identification and segment. */
export interface PackageIdentity {
  name: string;
  version: string;
  /** SHA-256 of the package manifest, which holds every file's hash: the package's identity. */
  sha256: string;
  label: PackageManifest['labels'][number];
  /** The window the training images agreed on (package-window.ts), applied to slices of its modality; null: each file's stored window. */
  window: NonNullable<PackageManifest['model']['fixed_window']> | null;
}

export interface Acceptance {
  /** Upper case; empty: any modality. */
  modalities: string[];
  minSize: number;
  maxSize: number;
  /** More instances, or more bytes of files, and the series is skipped. */
  maxInstances: number;
  maxBytes: number;
}

export interface SeriesJobDeps {
  engine: SegmentEngine;
  files: ModelFiles;
  pkg: PackageIdentity;
  accept: Acceptance;
  /** The light DICOM environment's python. */
  python: string;
  destination: PacsDestination;
  /** Folder the SEGs are written into. */
  segDir: string;
  appVersion: string;
  signal?: AbortSignal;
  /**
   * Whether an instance of the series arrived since the job began (the queue's
   * changedSinceClaim): asked before the SEG is written and again just before it is sent, so
   * that a SEG of an incomplete series does not go out.
   */
  changed?: () => boolean;
}

export type SeriesOutcome =
  | { state: 'done'; segSopUid: string | null; segFile: string | null; slices: number; slicesWithFinding: number; sent: boolean }
  | { state: 'skipped'; reason: string }
  /** Instances arrived while it ran: nothing sent; the series is to be processed again, whole. */
  | { state: 'superseded' };

export class SeriesSkipped extends Error {
  override name = 'SeriesSkipped';
}

export const sha256hex = (s: string): string => createHash('sha256').update(s).digest('hex');

interface Slice {
  file: string;
  header: ParsedDicom['header'];
}

/**
 * Image storage SOP classes, as the app names them (imaging/sop-classes.ts): "CT Image",
 * "Digital X-Ray Image (for presentation)", ... Everything else with pixel data -- a
 * Segmentation, a Parametric Map, RT Dose -- is not an image to segment, and neither is a SOP
 * class the app does not know.
 */
export function isImageStorage(sopClassUid: string | null): boolean {
  return sopClassUid !== null && / Image( \(for (presentation|processing)\))?$/.test(sopClassName(sopClassUid));
}

const MB = 1024 * 1024;

function parse(file: string): ParsedDicom {
  try {
    return parseDicomFile(new Uint8Array(readFileSync(file)));
  } catch (e) {
    throw new SeriesSkipped(`${path.basename(file)}: ${(e as Error).message}`);
  }
}

/**
 * Check every instance from its header (the bytes are not kept), and order the slices; a
 * SeriesSkipped naming the first reason the series is not for this model.
 */
export function checkSeries(files: readonly string[], accept: Acceptance): Slice[] {
  if (files.length === 0) throw new SeriesSkipped('the series has no instances');
  if (files.length > accept.maxInstances) throw new SeriesSkipped(`${files.length} instances: more than the ${accept.maxInstances} the node takes in one series (--max-instances)`);
  let bytes = 0;
  for (const file of files) bytes += statSync(file, { throwIfNoEntry: false })?.size ?? 0;
  if (bytes > accept.maxBytes) throw new SeriesSkipped(`${(bytes / MB).toFixed(1)} MB of instances: more than the ${(accept.maxBytes / MB).toFixed(1)} MB the node takes in one series (--max-series-mb)`);
  const slices: Slice[] = [];
  for (const file of files) {
    const h = parse(file).header;
    if (!isImageStorage(h.sopClassUid)) {
      throw new SeriesSkipped(`${path.basename(file)} is a ${sopClassName(h.sopClassUid)} (${h.sopClassUid ?? 'no SOP class'}), not an image: the node segments image series only`);
    }
    const modality = (h.modality ?? '').toUpperCase();
    if (accept.modalities.length && !accept.modalities.includes(modality)) {
      throw new SeriesSkipped(`modality ${modality || '(none)'}: this package segments ${accept.modalities.join(', ')} images`);
    }
    if (h.frames !== 1) throw new SeriesSkipped(`${path.basename(file)} holds ${h.frames} frames: the node segments series of single-frame images`);
    for (const [what, n] of [['rows', h.rows], ['columns', h.columns]] as const) {
      if (n < accept.minSize || n > accept.maxSize) throw new SeriesSkipped(`images of ${h.columns} x ${h.rows}: ${what} outside the accepted ${accept.minSize}-${accept.maxSize}`);
    }
    const first = slices[0]?.header;
    if (first && (first.rows !== h.rows || first.columns !== h.columns)) throw new SeriesSkipped(`mixed image sizes (${first.columns} x ${first.rows} and ${h.columns} x ${h.rows}) in one series`);
    slices.push({ file, header: h });
  }
  const order = orderSlices(slices.map((s, id) => ({ id, slicePosition: s.header.slicePosition, instanceNumber: s.header.instanceNumber, fileName: path.basename(s.file) })));
  return order.map((i) => slices[i]!);
}

/** Segment, write the SEG, send it. */
export async function runSeriesJob(seriesUid: string, files: readonly string[], deps: SeriesJobDeps): Promise<SeriesOutcome> {
  let slices: Slice[];
  try {
    slices = checkSeries(files, deps.accept);
  } catch (e) {
    if (e instanceof SeriesSkipped) return { state: 'skipped', reason: e.message };
    throw e;
  }
  const MODEL = 'package';
  const masks: ExportMask[] = [];
  const sources: ExportSource[] = [];
  for (const [i, s] of slices.entries()) {
    if (deps.signal?.aborted) throw new Error('stopped: the node is shutting down');
    sources.push({ imageId: i, file: s.file, frames: 1 });
    let px: PixelFrame;
    try {
      // Read again: only this slice's bytes are held while it is segmented.
      px = await decodeDicomFrame(parse(s.file), 0);
    } catch (e) {
      return { state: 'skipped', reason: e instanceof SeriesSkipped ? e.message : `${path.basename(s.file)}: ${(e as Error).message}` };
    }
    // The window the model was trained through, where the package carries one for this modality; else the file's.
    const fixed = deps.pkg.window && (s.header.modality ?? '').toUpperCase() === deps.pkg.window.modality.toUpperCase() ? deps.pkg.window : null;
    const image = frameForSam(px, s.header.windows, fixed);
    const r = await segmentImage(deps.engine, deps.files, image, { kind: 'none' });
    if (r.area > 0) masks.push({ id: i, imageId: i, frame: 0, labelId: 1, rle: encodeRle(r.mask, px.height, px.width), modelId: MODEL, updatedAt: '' });
  }
  if (deps.changed?.()) return { state: 'superseded' };
  if (masks.length === 0) return { state: 'done', segSopUid: null, segFile: null, slices: slices.length, slicesWithFinding: 0, sent: false };
  const plan = planSeg({
    sources,
    masks,
    labels: [{ id: 1, name: deps.pkg.label.name, code: null, codes: { category: deps.pkg.label.category, type: deps.pkg.label.type } }],
    models: { [MODEL]: { name: deps.pkg.name } },
    automatic: { name: deps.pkg.name, version: deps.pkg.version, parameters: { package_sha256: deps.pkg.sha256 } },
    sourceSeriesUid: seriesUid,
    author: 'Delineate node',
    appVersion: deps.appVersion,
    version: 1,
    out: (sop) => path.join(deps.segDir, `${sop}.dcm`),
    sha256hex,
  });
  mkdirSync(deps.segDir, { recursive: true });
  const requestFile = path.join(deps.segDir, `.request-${plan.request.sop_instance_uid}.json`);
  writeFileSync(requestFile, JSON.stringify(plan.request));
  let written: { file: string; sop_instance_uid: string };
  try {
    written = JSON.parse(await runDicomTool(deps.python, 'write-seg', requestFile, 'DICOM SEG not written', deps.signal)) as { file: string; sop_instance_uid: string };
  } finally {
    rmSync(requestFile, { force: true });
  }
  if (deps.changed?.()) {
    rmSync(written.file, { force: true }); // never sent nor recorded: retention would not find it
    return { state: 'superseded' };
  }
  const [sent] = await sendFiles(deps.python, deps.destination, [written.file], deps.signal);
  if (!sent?.ok) throw new Error(`the SEG was written but not stored at the destination: ${sent?.error ?? 'no answer'}`);
  return { state: 'done', segSopUid: written.sop_instance_uid, segFile: written.file, slices: slices.length, slicesWithFinding: masks.length, sent: true };
}
