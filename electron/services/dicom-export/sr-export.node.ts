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
  /** The SEG the report refers to. */
  seg: { file: string; sopInstanceUid: string; version: number; reused: boolean };
}

export async function exportSr(imageId: number, deps: SrExportDeps): Promise<SrExportResult> {
  const d = new ImagesRepository(deps.db).detail(imageId);
  if (!d) throw new ApiError('not_found', `No image with id ${imageId}`);
  if (d.kind !== 'dicom') throw new ApiError('bad_request', `${d.fileName} is not a DICOM image: a measurement report refers to DICOM images and their SEG (copy the measurements or export them as CSV instead)`);
  const found = sourcesFor(deps.db, deps.projectDir, imageId);
  const noSpacing = `${d.fileName} has no Pixel Spacing, so its measurements are in pixels; a DICOM SR records mm (copy the measurements or export them as CSV instead)`;
  // Refused before a SEG is written for it; the figures' unit is checked again below.
  if (!d.pixelSpacing) throw new ApiError('bad_request', noSpacing);
  let seg = await exportSeg(imageId, deps);
  let measurements = await deps.measure();
  for (let retried = false; ; retried = true) {
    // The masks as they are now: unchanged, this is the recorded SEG (nothing is written).
    const now = await exportSeg(imageId, deps);
    if (now.masksHash === seg.masksHash) break;
    if (retried) throw new ApiError('conflict', 'Measurement report (SR) not written: the masks of this series changed while they were being measured, twice; export it again once the editing has stopped');
    seg = now;
    measurements = await deps.measure();
  }
  if (measurements.length === 0) throw new ApiError('bad_request', 'This series has no accepted masks to measure');
  if (measurements.some((m) => m.unit !== 'mm')) throw new ApiError('bad_request', noSpacing);
  const spec: ObjectSpec<SrPlan, Written & { groups: number }> = {
    kind: 'sr',
    command: 'write-sr',
    failed: 'Measurement report (SR) not written',
    environment: 'Preparing the DICOM environment (highdicom)',
    plan: (input) => {
      try {
        return planSr({ ...input, seg: { file: path.join(deps.projectDir, seg.file), masksHash: seg.masksHash }, measurements, modality: d.modality });
      } catch (e) {
        throw new ApiError('conflict', `Measurement report (SR) not written: ${e instanceof Error ? e.message : String(e)}`);
      }
    },
    again: (request, same) => Object.assign(request, srSeries(same.version)),
    writing: (plan) => `Writing the measurement report of ${plan.groupCount} segment${plan.groupCount === 1 ? '' : 's'}`,
    parts: (w) => w.groups,
  };
  const { written: _, ...r } = await exportSeriesObject(spec, imageId, found, deps);
  return { ...r, seg: { file: seg.file, sopInstanceUid: seg.sopInstanceUid, version: seg.version, reused: seg.reused } };
}
