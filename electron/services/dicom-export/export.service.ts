/**
 * The DICOM output half of the API (export.*): SEG export of a series as a job (progress,
 * cancel through jobs.cancel, the written object's UIDs at the end). Runtime: node.
 *
 * The writer runs in the light DICOM environment (highdicom, pydicom; no PyTorch), built on
 * first use from python-runtime/dicom-requirements.lock, so annotation-only users never
 * install the training stack.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ApiError, type ExportHandlers } from '../../contract/api.js';
import { JobsRepository } from '../jobs/jobs.repository.js';
import type { ProjectService } from '../project.service.js';
import { findPython, runtimeRoot } from '../runtime/python-path.node.js';
import { exportSeg } from './seg-export.node.js';

/** The light DICOM environment's lock file. */
export const dicomLock = (): string => path.join(runtimeRoot(), 'dicom-requirements.lock');

export interface ExportServiceOptions {
  user: string;
  appVersion: string;
  modelNames: () => Record<string, { name: string }>;
}

export class ExportService implements ExportHandlers {
  constructor(
    private readonly project: ProjectService,
    private readonly opts: ExportServiceOptions,
  ) {}

  'export.segStart': ExportHandlers['export.segStart'] = ({ imageId }) => {
    const open = this.project.openProject();
    if (!open) throw new ApiError('no_project', 'Open or create a project first');
    const now = () => new Date().toISOString();
    const jobs = new JobsRepository(open.db, now);
    const jobId = `export-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    jobs.createExport({ id: jobId, imageId, author: this.opts.user });
    const controller = this.project.registerJob(jobId, 'Stopping the export; nothing will be written');
    const write = (f: Parameters<JobsRepository['update']>[1]) => {
      if (open.db.open) jobs.update(jobId, f);
    };
    void exportSeg(imageId, {
      projectDir: open.dir,
      db: open.db,
      user: this.opts.user,
      appVersion: this.opts.appVersion,
      now,
      signal: controller.signal,
      modelNames: () => {
        try {
          return this.opts.modelNames();
        } catch {
          return {};
        }
      },
      python: () =>
        findPython({
          lock: dicomLock(),
          signal: controller.signal,
          onProgress: (g) => write({ stage: 'environment', detail: `Preparing the DICOM environment: ${g.message}`, progress: { step: g.step, steps: g.steps, epoch: null, epochs: null, etaS: null } }),
        }),
      onStage: (stage, detail) => write({ stage: stage === 'environment' ? 'environment' : 'exporting', detail }),
    })
      .then((r) => write({ state: 'succeeded', stage: 'done', detail: r.reused ? `Already exported as version ${r.version}: ${r.file}` : `Wrote ${r.file} (version ${r.version}, ${r.frames} frames, ${r.segments} segments)`, exported: r, error: null }))
      .catch((e: unknown) => {
        if (controller.signal.aborted) return write({ state: 'cancelled', stage: 'done', detail: 'The export was cancelled; nothing was written', error: null });
        const err = e instanceof ApiError ? e : new ApiError('internal', e instanceof Error ? e.message : String(e));
        write({ state: 'failed', stage: 'done', detail: err.message, error: { code: err.code, message: err.message, ...(err.file ? { file: err.file } : {}) } });
      })
      .finally(() => this.project.endJob(jobId));
    return { jobId };
  };
}
