/**
 * Export a series' masks as a DICOM Segmentation: gather the source files and masks, plan
 * the object (seg-request.ts), have highdicom write it in the light DICOM environment
 * (python-runtime/delineate_dicom, no PyTorch), and record it in the project (exports table
 * and audit) in one transaction. Runtime: node.
 *
 * The same masks give the same UIDs: exporting again without changes returns the recorded
 * export (rewriting its file if it went missing) rather than a second object. Changed masks
 * make version n+1, which names the version it replaces.
 */
import { ApiError } from '../../contract/api.js';
import { ImagesRepository } from '../store/images.repository.js';
import type { Db } from '../store/project-database.js';
import { insideProject } from '../project-folder.node.js';
import { exportSeriesObject, type ExportDeps, type ExportResult, type ObjectSpec, type Written } from './export-writer.node.js';
import { planSeg, segSeries, type ExportSource, type SegPlan } from './seg-request.js';

export { EXPORTS_DIR } from './export-writer.node.js';
export type SegExportResult = ExportResult;
export type SegExportDeps = ExportDeps;

const SEG: ObjectSpec<SegPlan, Written & { segments: number }> = {
  kind: 'seg',
  command: 'write-seg',
  failed: 'DICOM SEG not written',
  environment: 'Preparing the DICOM environment (highdicom)',
  plan: planSeg,
  again: (request, same) => Object.assign(request, segSeries(same.version)),
  writing: (plan, frames) => `Writing a DICOM SEG of ${plan.segmentCount} segment${plan.segmentCount === 1 ? '' : 's'} on ${frames} frames`,
  parts: (w) => w.segments,
};

/** The source instances of the series `imageId` belongs to, in slice order (or the one multi-frame file). */
export function sourcesFor(db: Db, projectDir: string, imageId: number): { seriesUid: string; sources: ExportSource[] } {
  const images = new ImagesRepository(db);
  const d = images.detail(imageId);
  if (!d) throw new ApiError('not_found', `No image with id ${imageId}`);
  if (d.kind !== 'dicom') throw new ApiError('bad_request', `${d.fileName} is not a DICOM image: a DICOM SEG needs DICOM sources (industrial images export as COCO + PNG)`);
  // What an export's versions follow: the series, or the one multi-frame instance exported
  // (two enhanced MR files of one series are two objects with histories of their own).
  const seriesUid = d.seriesUid ? (d.frames > 1 ? `${d.seriesUid}|${d.sha256}` : d.seriesUid) : `image-${d.sha256}`;
  const rows =
    d.frames > 1 || !d.seriesUid
      ? [{ id: d.id, frames: d.frames }]
      : (db
          .prepare("SELECT id, frames FROM images WHERE series_uid = ? AND kind = 'dicom' AND frames = 1 ORDER BY series_index, id")
          .all(d.seriesUid) as { id: number; frames: number }[]);
  const sources = rows.map((r) => {
    const m = images.media(r.id)!;
    const file = insideProject(projectDir, m.mediaPath);
    if (!file) throw new ApiError('bad_request', `The stored path of image ${r.id} leads out of the project; it is not exported`, m.mediaPath);
    return { imageId: r.id, file, frames: r.frames };
  });
  return { seriesUid, sources };
}

export async function exportSeg(imageId: number, deps: SegExportDeps): Promise<SegExportResult> {
  const { written: _, ...r } = await exportSeriesObject(SEG, imageId, sourcesFor(deps.db, deps.projectDir, imageId), deps);
  return r;
}
