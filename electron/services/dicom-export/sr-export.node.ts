/**
 * Export a series' segment measurements as a DICOM Structured Report (TID 1500 Measurement
 * Report): the SEG of the same masks first (exported now, or the recorded one reused), then
 * the report referring to it and to the source images, written by
 * python-runtime/delineate_dicom/sr.py in the light DICOM environment and recorded in the
 * project (exports table, kind 'sr', and audit) in one transaction, through the flow SEG and
 * RTSTRUCT share (export-writer.node.ts). Runtime: node.
 *
 * The same masks give the same report (an export again returns the recorded one); changed
 * masks make version n+1. A series without Pixel Spacing is refused: its figures are in
 * pixels, and a report would have to call them mm.
 *
 * The figures must be those of the SEG's masks: the SEG is exported first, the masks are
 * measured, and then the SEG's masks hash is taken again. A mask edited in between (the
 * measuring awaits every slice's pixels, so an edit can land) makes both again, once; edited
 * again meanwhile, nothing is written and the sentence says so.
 *
 * A PACS send (export.service.ts) takes the SEG and its report together (exportSegWithSr), so
 * the report it sends names exactly the SEG sent with it; a series with nothing to report
 * sends its SEG alone.
 */
import path from 'node:path';
import { ApiError } from '../../contract/api.js';
import type { SegmentMeasurement } from '../../contract/measurements.js';
import { ImagesRepository } from '../store/images.repository.js';
import { exportSeriesObject, type ExportDeps, type ExportResult, type ObjectSpec, type Written } from './export-writer.node.js';
import { exportSeg, sourcesFor } from './seg-export.node.js';
import { planSr, srSeries, type SrPlan } from './sr-request.js';

export interface SrExportDeps extends ExportDeps {
  /** Every segment of the series measured (the measurements service's figures). */
  measure: () => Promise<SegmentMeasurement[]>;
}

export interface SrExportResult extends ExportResult {
  /** The SEG the report refers to (its SOP Instance UID is the one the report names). */
  seg: ExportResult;
}

/** A SEG, and the measurement report of it when the series has something a report can record. */
export interface SegWithSr {
  seg: ExportResult;
  /** The report; null when there is none to write, and `why` says why. */
  sr: SrExportResult | null;
  why: string | null;
  /** There was something to report but the report could not be written (`why` says what failed); the SEG goes alone. */
  srFailed?: boolean;
}

export async function exportSr(imageId: number, deps: SrExportDeps): Promise<SrExportResult> {
  const r = await segAndSr(imageId, deps, false);
  if (!r.sr) throw new ApiError('bad_request', r.why ?? 'No measurement report to write');
  return r.sr;
}

/**
 * For a PACS send: the SEG of the series' masks, and the measurement report referring to that
 * very SEG when the series has measured segments in mm. A series with nothing to report (no
 * accepted masks measured, no Pixel Spacing, figures in pixels) gets its SEG only, and `why`
 * says so; so does one whose report could not be written (`srFailed`): a send does not hold
 * the SEG back for its report.
 */
export function exportSegWithSr(imageId: number, deps: SrExportDeps): Promise<SegWithSr> {
  return segAndSr(imageId, deps, true);
}

/** `optional`: nothing to report is an answer (the SEG alone) rather than an error, and the SEG is written anyway. */
async function segAndSr(imageId: number, deps: SrExportDeps, optional: boolean): Promise<SegWithSr> {
  const d = new ImagesRepository(deps.db).detail(imageId);
  if (!d) throw new ApiError('not_found', `No image with id ${imageId}`);
  if (d.kind !== 'dicom') throw new ApiError('bad_request', `${d.fileName} is not a DICOM image: a measurement report refers to DICOM images and their SEG (copy the measurements or export them as CSV instead)`);
  const found = sourcesFor(deps.db, deps.projectDir, imageId);
  const noSpacing = `${d.fileName} has no Pixel Spacing, so its measurements are in pixels; a DICOM SR records mm (copy the measurements or export them as CSV instead)`;
  // Refused before a SEG is written for it; the figures' unit is checked again below.
  if (!d.pixelSpacing) {
    if (!optional) throw new ApiError('bad_request', noSpacing);
    return { seg: await exportSeg(imageId, deps), sr: null, why: noSpacing };
  }
  const seg = await exportSeg(imageId, deps);
  const report = { imageId, deps, modality: d.modality, found, noSpacing };
  if (!optional) return reportOf(seg, report);
  // For a send, a report that fails (masks edited while measuring, the writer refusing) does
  // not hold back the SEG: it goes alone, and the outbox item says why the report did not.
  try {
    return await reportOf(seg, report);
  } catch (e) {
    return { seg, sr: null, why: `its measurement report was not written: ${e instanceof Error ? e.message : String(e)}`, srFailed: true };
  }
}

interface ReportInput {
  imageId: number;
  deps: SrExportDeps;
  modality: string | null;
  found: ReturnType<typeof sourcesFor>;
  noSpacing: string;
}

/** Measure the series and write the report of `first` (or of the SEG the masks have become meanwhile). */
async function reportOf(first: ExportResult, { imageId, deps, modality, found, noSpacing }: ReportInput): Promise<SegWithSr> {
  let seg = first;
  let measurements = await deps.measure();
  for (let retried = false; ; retried = true) {
    // The masks as they are now: unchanged, this is the recorded SEG (nothing is written).
    const now = await exportSeg(imageId, deps);
    if (now.masksHash === seg.masksHash) break;
    if (retried) throw new ApiError('conflict', 'Measurement report (SR) not written: the masks of this series changed while they were being measured, twice; export it again once the editing has stopped');
    seg = now;
    measurements = await deps.measure();
  }
  const nothing = measurements.length === 0 ? 'This series has no accepted masks to measure' : measurements.some((m) => m.unit !== 'mm') ? noSpacing : null;
  // Nothing to report is an answer; exportSr turns it into its refusal.
  if (nothing) return { seg, sr: null, why: nothing };
  const spec: ObjectSpec<SrPlan, Written & { groups: number }> = {
    kind: 'sr',
    command: 'write-sr',
    failed: 'Measurement report (SR) not written',
    environment: 'Preparing the DICOM environment (highdicom)',
    plan: (input) => {
      try {
        return planSr({ ...input, seg: { file: path.join(deps.projectDir, seg.file), masksHash: seg.masksHash }, measurements, modality });
      } catch (e) {
        throw new ApiError('conflict', `Measurement report (SR) not written: ${e instanceof Error ? e.message : String(e)}`);
      }
    },
    again: (request, same) => Object.assign(request, srSeries(same.version)),
    writing: (plan) => `Writing the measurement report of ${plan.groupCount} segment${plan.groupCount === 1 ? '' : 's'}`,
    parts: (w) => w.groups,
  };
  const { written: _, ...r } = await exportSeriesObject(spec, imageId, found, deps);
  return { seg, sr: { ...r, seg }, why: null };
}
