/**
 * An export run as a job of the open project (kind export: SEG, RTSTRUCT, COCO, de-identified
 * copy): created in the jobs table, cancellable through jobs.cancel, its stages, progress and
 * end (what it wrote, or why not) written to the job row the renderer watches. Runtime: node.
 */
import { randomBytes } from 'node:crypto';
import { ApiError } from '../../contract/api.js';
import type { JobInfo } from '../../contract/training.js';
import { JobsRepository, type ExportJobKind } from '../jobs/jobs.repository.js';
import type { ProjectService } from '../project.service.js';
import type { Db } from '../store/project-database.js';

export type Exported = NonNullable<JobInfo['exported']>;

export interface ExportJobContext {
  signal: AbortSignal;
  /** Report a stage ('environment': preparing Python; 'exporting': writing) with a sentence and, where counted, progress. */
  stage: (stage: 'environment' | 'exporting', detail: string, progress?: { step: number | null; steps: number | null }) => void;
}

export function startExportJob(p: {
  project: ProjectService;
  db: Db;
  user: string;
  /** The image the export started from; null for a whole-project export. */
  imageId: number | null;
  kind: ExportJobKind;
  /** What the user reads when it is cancelled, e.g. "the export". */
  what: string;
  /** The export itself: the sentence that closes the job, and what it wrote where that is one object. */
  run: (ctx: ExportJobContext) => Promise<{ detail: string; exported: Exported | null }>;
}): { jobId: string } {
  const jobs = new JobsRepository(p.db, () => new Date().toISOString());
  const jobId = `export-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  jobs.createExport({ id: jobId, imageId: p.imageId, author: p.user, kind: p.kind });
  const controller = p.project.registerJob(jobId, `Stopping ${p.what}; nothing will be written`);
  const write = (f: Parameters<JobsRepository['update']>[1]) => {
    if (p.db.open) jobs.update(jobId, f);
  };
  const stage: ExportJobContext['stage'] = (s, detail, progress) =>
    write({ stage: s, detail, ...(progress ? { progress: { step: progress.step, steps: progress.steps, epoch: null, epochs: null, etaS: null } } : {}) });
  void p
    .run({ signal: controller.signal, stage })
    .then((r) => write({ state: 'succeeded', stage: 'done', detail: r.detail, ...(r.exported ? { exported: r.exported } : {}), error: null }))
    .catch((e: unknown) => {
      if (controller.signal.aborted) return write({ state: 'cancelled', stage: 'done', detail: `${p.what[0]!.toUpperCase()}${p.what.slice(1)} was cancelled; nothing was written`, error: null });
      const err = e instanceof ApiError ? e : new ApiError('internal', e instanceof Error ? e.message : String(e));
      write({ state: 'failed', stage: 'done', detail: err.message, error: { code: err.code, message: err.message, ...(err.file ? { file: err.file } : {}) } });
    })
    .finally(() => p.project.endJob(jobId));
  return { jobId };
}

/** The closing sentence of a SEG, RTSTRUCT or SR (measurement report) export. */
export function dicomExportDetail(what: 'SEG' | 'RTSTRUCT' | 'SR', r: Exported): string {
  const parts = what === 'SEG' ? 'segments' : what === 'SR' ? 'segments measured' : 'ROIs';
  return r.reused ? `${what} already exported as version ${r.version}: ${r.file}` : `Wrote ${r.file} (${what} version ${r.version}, ${r.frames} frames, ${r.segments} ${parts})`;
}
