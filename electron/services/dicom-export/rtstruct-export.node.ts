/**
 * Export a series' masks as a DICOM RT Structure Set: the same sources and segments as the
 * SEG (seg-export.node.ts, rtstruct-request.ts), contours traced and written by
 * python-runtime/delineate_dicom/rtstruct.py in the light DICOM environment, recorded in the
 * project (exports table, kind 'rtstruct', and audit) in one transaction. Runtime: node.
 *
 * The same masks give the same object (an export again returns the recorded one, rewriting
 * its file if it went missing); changed masks make version n+1, whose Predecessor Structure
 * Set is version n.
 */
import { ApiError } from '../../contract/api.js';
import { ImagesRepository } from '../store/images.repository.js';
import { exportSeriesObject, type ObjectSpec, type Written } from './export-writer.node.js';
import { planRtstruct, rtstructSeries, type RtstructPlan } from './rtstruct-request.js';
import { sourcesFor, type SegExportDeps, type SegExportResult } from './seg-export.node.js';

export type RtstructExportDeps = SegExportDeps;

/** What an RTSTRUCT export wrote: `frames` are the images (frames) with contours, `segments` its ROIs. */
export interface RtstructExportResult extends SegExportResult {
  /** Contours written (0 when the recorded export was reused). */
  contours: number;
}

const RTSTRUCT: ObjectSpec<RtstructPlan, Written & { rois: number; contours: number }> = {
  kind: 'rtstruct',
  command: 'write-rtstruct',
  failed: 'RTSTRUCT not written',
  environment: 'Preparing the DICOM environment (pydicom)',
  plan: planRtstruct,
  // Its predecessor too: version n names version n-1, as when it was first written.
  again: (request, same) => Object.assign(request, rtstructSeries(same.version), { replaces: same.replaces, structure_set_name: `Delineate v${same.version}` }),
  writing: (plan, frames) => `Tracing the contours of ${plan.roiCount} ROI${plan.roiCount === 1 ? '' : 's'} on ${frames} frames`,
  parts: (w) => w.rois,
  audit: (w) => ({ contours: w.contours }),
};

export async function exportRtstruct(imageId: number, deps: RtstructExportDeps): Promise<RtstructExportResult> {
  const d = new ImagesRepository(deps.db).detail(imageId);
  if (!d) throw new ApiError('not_found', `No image with id ${imageId}`);
  if (d.kind !== 'dicom') throw new ApiError('bad_request', `${d.fileName} is not a DICOM image: an RTSTRUCT needs DICOM sources with patient geometry (industrial images export as COCO + PNG)`);
  const { written, ...r } = await exportSeriesObject(RTSTRUCT, imageId, sourcesFor(deps.db, deps.projectDir, imageId), deps);
  return { ...r, contours: written?.contours ?? 0 };
}
