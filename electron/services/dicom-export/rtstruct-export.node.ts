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
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ApiError } from '../../contract/api.js';
import { ExportsRepository } from '../store/exports.repository.js';
import { ImagesRepository } from '../store/images.repository.js';
import { LabelsRepository } from '../store/labels.repository.js';
import { oneAtATime, recordExport, runWriter, seriesMasks } from './export-writer.node.js';
import { planRtstruct, rtstructSeries } from './rtstruct-request.js';
import { EXPORTS_DIR, sourcesFor, type SegExportDeps, type SegExportResult } from './seg-export.node.js';

export type RtstructExportDeps = SegExportDeps;

/** What an RTSTRUCT export wrote: `frames` are the images (frames) with contours, `segments` its ROIs. */
export interface RtstructExportResult extends SegExportResult {
  contours: number;
}

const sha256hex = (s: string) => createHash('sha256').update(s).digest('hex');

export async function exportRtstruct(imageId: number, deps: RtstructExportDeps): Promise<RtstructExportResult> {
  const d = new ImagesRepository(deps.db).detail(imageId);
  if (!d) throw new ApiError('not_found', `No image with id ${imageId}`);
  if (d.kind !== 'dicom') throw new ApiError('bad_request', `${d.fileName} is not a DICOM image: an RTSTRUCT needs DICOM sources with patient geometry (industrial images export as COCO + PNG)`);
  const found = sourcesFor(deps.db, deps.projectDir, imageId);
  return oneAtATime(`${deps.projectDir}\0rtstruct\0${found.seriesUid}`, () => exportNow(imageId, found, deps));
}

async function exportNow(imageId: number, { seriesUid, sources }: ReturnType<typeof sourcesFor>, deps: RtstructExportDeps): Promise<RtstructExportResult> {
  const { db, projectDir } = deps;
  const masks = seriesMasks(db, sources.map((s) => s.imageId));
  const exportsRepo = new ExportsRepository(db);
  const previous = exportsRepo.latest('rtstruct', seriesUid);
  const folder = path.join(EXPORTS_DIR, 'rtstruct', sha256hex(seriesUid).slice(0, 16));
  const plan = planRtstruct({
    sources,
    masks,
    labels: new LabelsRepository(db).list(),
    models: deps.modelNames(),
    sourceSeriesUid: seriesUid,
    author: deps.user,
    appVersion: deps.appVersion,
    version: (previous?.version ?? 0) + 1,
    replaces: previous?.sopInstanceUid ?? null,
    out: (sop) => path.join(projectDir, folder, `${sop}.dcm`),
    sha256hex,
  });
  const same = exportsRepo.byHash('rtstruct', seriesUid, plan.masksHash);
  const result = (r: { file: string; sopInstanceUid: string; seriesInstanceUid: string; version: number; frames: number; segments: number }, reused: boolean, contours: number): RtstructExportResult => ({
    file: r.file,
    sopInstanceUid: r.sopInstanceUid,
    seriesInstanceUid: r.seriesInstanceUid,
    version: r.version,
    frames: r.frames,
    segments: r.segments,
    reused,
    sourceSeriesUid: seriesUid,
    masksHash: plan.masksHash,
    contours,
  });
  if (same && existsSync(path.join(projectDir, same.file))) return result(same, true, 0);
  if (same) {
    // Recorded, but its file is gone: write it again as it was (same UIDs, version, predecessor).
    Object.assign(plan.request, rtstructSeries(same.version), { replaces: same.replaces, structure_set_name: `Delineate v${same.version}` });
  }

  deps.onStage?.('environment', 'Preparing the DICOM environment (pydicom)');
  const python = await deps.python();
  if (deps.signal?.aborted) throw new ApiError('conflict', 'The export was cancelled; nothing was written');
  deps.onStage?.('writing', `Tracing the contours of ${plan.roiCount} ROI${plan.roiCount === 1 ? '' : 's'} on ${new Set(masks.map((m) => `${m.imageId}:${m.frame}`)).size} frames`);
  const written = await runWriter<{ file: string; sop_instance_uid: string; series_instance_uid: string; frames: number; rois: number; contours: number }>({
    python,
    command: 'write-rtstruct',
    request: plan.request,
    folder: path.join(projectDir, folder),
    failed: 'RTSTRUCT not written',
    db,
    sources,
    ...(deps.signal ? { signal: deps.signal } : {}),
  });
  const file = path.relative(projectDir, written.file).split(path.sep).join('/');
  const version = same?.version ?? (previous?.version ?? 0) + 1;
  if (!same) {
    recordExport(
      db,
      {
        kind: 'rtstruct',
        sourceSeriesUid: seriesUid,
        file,
        sopInstanceUid: written.sop_instance_uid,
        seriesInstanceUid: written.series_instance_uid,
        version,
        masksHash: plan.masksHash,
        masks: masks.map((m) => [m.id, m.updatedAt]),
        models: plan.modelIds,
        replaces: previous?.sopInstanceUid ?? null,
        frames: written.frames,
        segments: written.rois,
        author: deps.user,
        createdAt: deps.now(),
      },
      { imageId, detail: { masks: masks.length, contours: written.contours } },
    );
  }
  return result({ file, sopInstanceUid: written.sop_instance_uid, seriesInstanceUid: written.series_instance_uid, version, frames: written.frames, segments: written.rois }, false, written.contours);
}
