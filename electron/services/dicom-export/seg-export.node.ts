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
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ApiError } from '../../contract/api.js';
import { ExportsRepository } from '../store/exports.repository.js';
import { ImagesRepository } from '../store/images.repository.js';
import { LabelsRepository } from '../store/labels.repository.js';
import type { Db } from '../store/project-database.js';
import { insideProject } from '../project-folder.node.js';
import { oneAtATime, recordExport, runWriter, seriesMasks } from './export-writer.node.js';
import { planSeg, segSeries, type ExportSource } from './seg-request.js';

export const EXPORTS_DIR = 'exports';

export interface SegExportResult {
  /** Relative to the project folder. */
  file: string;
  sopInstanceUid: string;
  seriesInstanceUid: string;
  version: number;
  frames: number;
  segments: number;
  /** True when these masks had been exported already: nothing new was written. */
  reused: boolean;
  /** What identifies the export in the exports table. */
  sourceSeriesUid: string;
  masksHash: string;
}

export interface SegExportDeps {
  projectDir: string;
  db: Db;
  user: string;
  appVersion: string;
  now: () => string;
  /** The light DICOM environment's python (built on first use). */
  python: () => Promise<string>;
  /** Names of installed models, for the algorithm identification. */
  modelNames: () => Record<string, { name: string }>;
  signal?: AbortSignal;
  onStage?: (stage: 'environment' | 'writing', detail: string) => void;
}

const sha256hex = (s: string) => createHash('sha256').update(s).digest('hex');

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
  const found = sourcesFor(deps.db, deps.projectDir, imageId);
  return oneAtATime(`${deps.projectDir}\0seg\0${found.seriesUid}`, () => exportSegNow(imageId, found, deps));
}

async function exportSegNow(imageId: number, { seriesUid, sources }: ReturnType<typeof sourcesFor>, deps: SegExportDeps): Promise<SegExportResult> {
  const { db, projectDir } = deps;
  const masks = seriesMasks(db, sources.map((s) => s.imageId));
  const exportsRepo = new ExportsRepository(db);
  const previous = exportsRepo.latest('seg', seriesUid);
  const folder = path.join(EXPORTS_DIR, 'seg', sha256hex(seriesUid).slice(0, 16));
  const plan = planSeg({
    sources,
    masks,
    labels: new LabelsRepository(db).list(),
    models: deps.modelNames(),
    sourceSeriesUid: seriesUid,
    author: deps.user,
    appVersion: deps.appVersion,
    version: (previous?.version ?? 0) + 1,
    out: (sop) => path.join(projectDir, folder, `${sop}.dcm`),
    sha256hex,
  });
  const same = exportsRepo.byHash('seg', seriesUid, plan.masksHash);
  if (same && existsSync(path.join(projectDir, same.file))) {
    return { file: same.file, sopInstanceUid: same.sopInstanceUid, seriesInstanceUid: same.seriesInstanceUid, version: same.version, frames: same.frames, segments: same.segments, reused: true, sourceSeriesUid: seriesUid, masksHash: plan.masksHash };
  }
  if (same) {
    // Recorded, but its file is gone: write it again exactly as it was (same UIDs, same version).
    Object.assign(plan.request, segSeries(same.version));
  }

  deps.onStage?.('environment', 'Preparing the DICOM environment (highdicom)');
  const python = await deps.python();
  if (deps.signal?.aborted) throw new ApiError('conflict', 'The export was cancelled; nothing was written');
  deps.onStage?.('writing', `Writing a DICOM SEG of ${plan.segmentCount} segment${plan.segmentCount === 1 ? '' : 's'} on ${new Set(masks.map((m) => `${m.imageId}:${m.frame}`)).size} frames`);
  const written = await runWriter<{ file: string; sop_instance_uid: string; series_instance_uid: string; frames: number; segments: number }>({
    python,
    command: 'write-seg',
    request: plan.request,
    folder: path.join(projectDir, folder),
    failed: 'DICOM SEG not written',
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
        kind: 'seg',
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
        segments: written.segments,
        author: deps.user,
        createdAt: deps.now(),
      },
      { imageId, detail: { masks: masks.length } },
    );
  }
  return { file, sopInstanceUid: written.sop_instance_uid, seriesInstanceUid: written.series_instance_uid, version, frames: written.frames, segments: written.segments, reused: false, sourceSeriesUid: seriesUid, masksHash: plan.masksHash };
}
