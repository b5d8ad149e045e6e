/**
 * The models half of the API (models.*): the open project's installed SAM models, imports
 * (bundle folder, ONNX pair, official .pth through the Python runtime), delete, and the
 * active model with one-click rollback. Runtime: node, no `electron`.
 *
 * The SAM service reads the active model from here; the training service installs and
 * activates trained models through the same ModelManager.
 */
import path from 'node:path';
import { ApiError, type ModelsHandlers, type ProjectHandlers } from '../../contract/api.js';
import type { RuntimeLauncher } from '../runtime/runtime-launcher.node.js';
import { ModelImportError, ModelManager } from './model-manager.node.js';

export interface ModelsServiceOptions {
  /** Called before a model's files are removed, so whoever holds it open lets go. */
  beforeDelete?: (id: string) => Promise<void>;
}

export class ModelsService implements ModelsHandlers {
  private managers = new Map<string, ModelManager>();
  private importing: { stage: string; step: number | null; steps: number | null; file: string } | null = null;
  private importAbort: AbortController | null = null;

  constructor(
    private readonly project: ProjectHandlers,
    private readonly runtime: RuntimeLauncher,
    private readonly opts: ModelsServiceOptions = {},
  ) {}

  /** The open project's model manager. */
  manager(): ModelManager {
    const p = this.project['project.current']({}) as { path: string } | null;
    if (!p) throw new ApiError('no_project', 'Open or create a project first');
    let m = this.managers.get(p.path);
    if (!m) {
      m = new ModelManager(path.join(p.path, 'models'), () =>
        this.runtime.get((g) => {
          if (this.importing) this.importing = { ...this.importing, stage: `preparing the Python environment: ${g.message}`, step: g.step, steps: g.steps };
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
    return { models, activeId: mgr.effectiveActive(models)?.id ?? null, importing: this.importing };
  };

  'models.import': ModelsHandlers['models.import'] = (p) =>
    this.wrap(async () => {
      const mgr = this.manager();
      if (p.kind === 'bundle') return mgr.importBundle(p.path);
      if (p.kind === 'onnx') return mgr.importOnnxPair(p.encoder, p.decoder, p.name);
      if (this.importing) throw new ApiError('conflict', `A checkpoint import is already running (${this.importing.file})`);
      this.importing = { stage: 'starting the Python runtime', step: null, steps: null, file: p.path };
      const abort = new AbortController();
      this.importAbort = abort;
      try {
        return await mgr.importCheckpoint(p.path, {
          ...(p.arch ? { arch: p.arch } : {}),
          signal: abort.signal,
          onProgress: (g) => (this.importing = { stage: g.stage, step: g.step ?? null, steps: g.steps ?? null, file: p.path }),
        });
      } catch (e) {
        if (abort.signal.aborted) throw new ApiError('conflict', 'The checkpoint import was cancelled; nothing was installed.', p.path);
        throw e;
      } finally {
        this.importing = null;
        this.importAbort = null;
      }
    });

  'models.cancelImport': ModelsHandlers['models.cancelImport'] = async () => {
    if (this.importAbort && this.importing) {
      this.importing = { ...this.importing, stage: 'cancelling' };
      this.importAbort.abort();
    }
    return null;
  };

  'models.delete': ModelsHandlers['models.delete'] = (p) =>
    this.wrap(async () => {
      const mgr = this.manager();
      mgr.files(p.id, 'auto'); // not_found before anything is released
      await this.opts.beforeDelete?.(p.id);
      mgr.delete(p.id);
      return null;
    });

  'models.setActive': ModelsHandlers['models.setActive'] = (p) =>
    this.wrap(async () => {
      this.manager().setActive(p.id);
      return null;
    });
}
