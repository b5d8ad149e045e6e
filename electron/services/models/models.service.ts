/**
 * The models half of the API (models.*): the open project's installed SAM models, imports
 * (bundle folder, ONNX pair, official .pth through the Python runtime), delete, and the
 * active model with one-click rollback. Runtime: node, no `electron`.
 *
 * The SAM service reads the active model from here; the training service installs and
 * activates trained models through the same ModelManager.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ApiError, type ModelsHandlers } from '../../contract/api.js';
import { JobsRepository } from '../jobs/jobs.repository.js';
import type { ProjectService } from '../project.service.js';
import type { VariantChoice } from './bundle-manifest.js';
import type { RuntimeLauncher } from '../runtime/runtime-launcher.node.js';
import { checkpointArch, ModelImportError, ModelManager } from './model-manager.node.js';
import { PackageError } from './model-package.node.js';
import { exportModelPackage } from './package-export.node.js';

export interface ModelsServiceOptions {
  /** Called before a model's files are removed, so whoever holds it open lets go. */
  beforeDelete?: (id: string) => Promise<void>;
  /** Who imports (recorded with the job) and exports (named in a package). */
  user?: string;
  /** Written into exported packages. */
  appVersion?: string;
}

export class ModelsService implements ModelsHandlers {
  private managers = new Map<string, ModelManager>();
  /** The .pth conversion running now (one at a time): where the environment step reports. */
  private importJob: { jobs: JobsRepository; jobId: string } | null = null;

  constructor(
    private readonly project: ProjectService,
    private readonly runtime: RuntimeLauncher,
    private readonly opts: ModelsServiceOptions = {},
  ) {}

  /** Write what is only in memory (measured speeds) before the app or project closes. */
  flush(): void {
    for (const m of this.managers.values()) m.speed.flush();
  }

  /** The open project's model manager. */
  manager(): ModelManager {
    const p = this.project['project.current']({}) as { path: string } | null;
    if (!p) throw new ApiError('no_project', 'Open or create a project first');
    let m = this.managers.get(p.path);
    if (!m) {
      m = new ModelManager(path.join(p.path, 'models'), () =>
        this.runtime.get((g) => {
          const j = this.importJob;
          if (j)
            j.jobs.update(j.jobId, {
              stage: 'environment',
              detail: `Preparing the Python environment: ${g.message}`,
              progress: {
                step: g.step,
                steps: g.steps,
                epoch: null,
                epochs: null,
                etaS: null,
              },
            });
        }),
      );
      m.sweep();
      this.managers.set(p.path, m);
    }
    return m;
  }

  private wrap<T>(f: () => Promise<T>): Promise<T> {
    return f().catch((e: unknown) => {
      if (e instanceof ModelImportError) throw new ApiError('bad_request', e.message, e.file);
      throw e;
    });
  }

  'models.list': ModelsHandlers['models.list'] = () => {
    const mgr = this.manager();
    const models = mgr.list(); // each listing reads every model's files: once per call
    return { models, activeId: mgr.effectiveActive(models)?.id ?? null };
  };

  'models.import': ModelsHandlers['models.import'] = (p) =>
    this.wrap(async () => {
      const mgr = this.manager();
      if (p.kind === 'bundle') return mgr.importBundle(p.path);
      if (p.kind === 'package') return mgr.importPackage(p.path);
      return mgr.importOnnxPair(p.encoder, p.decoder, p.name);
    });

  'models.exportPackage': ModelsHandlers['models.exportPackage'] = ({ id, folder }) =>
    this.wrap(async () => {
      const open = this.project.openProject();
      if (!open) throw new ApiError('no_project', 'Open or create a project first');
      if (!path.isAbsolute(folder)) throw new ApiError('bad_request', `${folder}: choose a folder by its full path`);
      const r = await exportModelPackage(id, folder, { mgr: this.manager(), db: open.db, projectDir: open.dir, user: this.opts.user ?? '', appVersion: this.opts.appVersion ?? '', now: () => new Date().toISOString() }).catch((e: unknown) => {
        throw e instanceof PackageError ? new ApiError('bad_request', e.message, e.file) : e;
      });
      const files = Object.values(r.manifest.files);
      return { folder: r.folder, archive: r.archive, files: files.length, bytes: files.reduce((a, f) => a + f.bytes, 0) };
    });

  /** A .pth conversion as a job: progress in the jobs table, cancel through jobs.cancel, the model id at the end. */
  'models.importStart': ModelsHandlers['models.importStart'] = (p) =>
    this.wrap(async () => {
      const mgr = this.manager();
      checkpointArch(p.path, p.arch); // a missing file or a folder is said at once, not as a failed job
      if (this.importJob) throw new ApiError('conflict', `A checkpoint import is already running (${this.importJob.jobId}); wait for it or cancel it`);
      const jobs = new JobsRepository(this.project.openProject()!.db, () => new Date().toISOString());
      const jobId = `model-import-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
      jobs.createModelImport({
        id: jobId,
        path: p.path,
        arch: p.arch ?? null,
        variant: p.variant ?? 'auto',
        author: this.opts.user ?? '',
      });
      const controller = this.project.registerJob(jobId, 'Stopping the conversion; nothing will be installed');
      this.importJob = { jobs, jobId };
      void this.runImport(mgr, jobs, jobId, p, controller.signal).finally(() => {
        this.project.endJob(jobId);
        if (this.importJob?.jobId === jobId) this.importJob = null;
      });
      return { jobId };
    });

  private async runImport(
    mgr: ModelManager,
    jobs: JobsRepository,
    jobId: string,
    p: {
      path: string;
      arch?: 'vit_b' | 'vit_l' | 'vit_h' | 'vit_t' | 'efficientsam_ti' | undefined;
      variant?: VariantChoice | undefined;
    },
    signal: AbortSignal,
  ): Promise<void> {
    const write = (f: Parameters<JobsRepository['update']>[1]) => {
      try {
        jobs.update(jobId, f);
      } catch {
        /* the project was closed under the import: it reads as interrupted when reopened */
      }
    };
    write({ stage: 'environment', detail: 'Starting the Python runtime' });
    try {
      const installed = await mgr.importCheckpoint(p.path, {
        ...(p.arch ? { arch: p.arch } : {}),
        signal,
        onProgress: (g) =>
          write({
            stage: 'exporting',
            detail: `Converting ${path.basename(p.path)}: ${g.stage}`,
            progress: {
              step: g.step ?? null,
              steps: g.steps ?? null,
              epoch: null,
              epochs: null,
              etaS: null,
            },
          }),
      });
      if (p.variant && p.variant !== 'auto') mgr.setVariant(installed.id, p.variant);
      write({
        state: 'succeeded',
        stage: 'done',
        detail: `Installed ${installed.name}`,
        modelId: installed.id,
        error: null,
      });
    } catch (e) {
      if (signal.aborted) {
        write({
          state: 'cancelled',
          stage: 'done',
          detail: 'The checkpoint import was cancelled; nothing was installed.',
          error: null,
        });
        return;
      }
      const file = e instanceof ModelImportError || e instanceof ApiError ? e.file : undefined;
      const message = e instanceof Error ? e.message : String(e);
      write({
        state: 'failed',
        detail: message,
        error: {
          code: e instanceof ApiError ? e.code : 'bad_request',
          message,
          ...(file ? { file } : {}),
        },
      });
    }
  }

  'models.delete': ModelsHandlers['models.delete'] = (p) =>
    this.wrap(async () => {
      const mgr = this.manager();
      mgr.files(p.id, 'auto'); // not_found before anything is released
      await this.opts.beforeDelete?.(p.id);
      mgr.delete(p.id);
      return null;
    });

  'models.setVariant': ModelsHandlers['models.setVariant'] = (p) =>
    this.wrap(async () => {
      this.manager().setVariant(p.id, p.variant);
      return null;
    });

  'models.setActive': ModelsHandlers['models.setActive'] = (p) =>
    this.wrap(async () => {
      this.manager().setActive(p.id);
      return null;
    });
}
