/**
 * "Retrain on my data": plan, then one job that chains environment -> dataset snapshot ->
 * fine-tuning -> before/after evaluation -> ONNX + int8 export -> gate -> install (and
 * activate only if the gate passes). Runtime: node, never imports `electron`.
 *
 * The job is owned here, not in the renderer: the renderer starts it, polls jobs.get and
 * cancels it. Its state lives in the project database (jobs table) and its files in
 * `<project>/training/<job id>/`, so after a restart or a crash of the Python runtime the
 * run is listed as interrupted and `training.resume` continues from its last checkpoint.
 * Each run gets its own runtime process, so killing it touches nothing else.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { insideProject } from '../project-folder.node.js';
import { ApiError, type ImageDetail, type PixelFrame, type SamHandlers, type TrainingHandlers } from '../../contract/api.js';
import { decodeRle, maskIoU } from '../../contract/rle.js';
import { jobIsLive, type EpochPoint, type JobInfo, type TrainingOutcome, type TrainingSettings, type TrainingStage } from '../../contract/training.js';
import { JobsRepository, type JobProgressFields } from '../jobs/jobs.repository.js';
import type { ModelManager } from '../models/model-manager.node.js';
import type { ProjectService } from '../project.service.js';
import { runtimeRoot } from '../runtime/python-path.node.js';
import { RuntimeClient, RuntimeCrashedError } from '../runtime/runtime-client.node.js';
import { exportOnnx, evaluate, trainStart, type EvaluateResult, type ExportResult, type JobProgress, type TrainResult } from '../runtime/runtime-methods.js';
import { embeddingCacheDir } from '../embedding-cache/embedding-cache.node.js';
import { variantsOf } from '../models/bundle-manifest.js';
import { MasksRepository } from '../store/masks.repository.js';
import { labelledFrames, writeSnapshot } from './dataset-snapshot.node.js';
import { writeEmbeddingSeeds } from './embedding-seeds.node.js';
import { decide, evalRows } from './gate.js';
import { estimateSeconds, resolveSettings, trainConfigFor, type ResolvedSettings } from './presets.js';
import { SshError, SshTrainingHost, type SshHost } from './ssh-host.node.js';

/** Fewest masks per label before a run is worth it, and fewest validation frames. */
export const MIN_MASKS_PER_LABEL = 8;
export const MIN_VAL_FRAMES = 2;
const EVAL_MODES = ['click1', 'click3', 'box', 'auto'];
const PROGRESS_WRITE_MS = 400;
const MAX_LOSS_POINTS = 400;

export interface TrainingEnvironment {
  /** The runtime's python, building its environment when needed (with progress). */
  python(onProgress: (message: string) => void, signal: AbortSignal): Promise<string>;
  /** Fast check, no build. */
  status(): Promise<{ ready: boolean; python: string | null; note: string }>;
  /** Extra environment for the runtime process (tests set threads, caches). */
  env?: Record<string, string>;
}

export interface TrainingServiceOptions {
  user: string;
  now?: () => string;
  /** Device the plan assumes before the runtime has been asked ('cpu' unless told). */
  device?: string;
  /** SAM inference, for ranking unlabelled images by how unsure the active model is. */
  sam?: Pick<SamHandlers, 'sam.predict' | 'sam.candidate' | 'sam.status'>;
}

/**
 * Where a run's runtime works: this computer (paths as they are) or an SSH server (files
 * copied into its remoteDir, paths there). `rel` names a file's place under remoteDir.
 */
interface Place {
  kind: 'local' | 'ssh';
  label: string;
  put(localDir: string, rel: string): Promise<string>;
  putFile(localFile: string, rel: string): Promise<string>;
  path(local: string, rel: string): string;
  join(...parts: string[]): string;
  get(remoteDir: string, localDir: string): Promise<void>;
  start(): RuntimeClient;
  /** Remove a finished run's checkpoints (hundreds of MB for vit_b; the bundle keeps the weights). */
  dropCheckpoints(runDir: string): Promise<void>;
}

/** What a run needs to know again when it is resumed (kept in its folder). */
interface RunFile {
  baseModelId: string;
  baseCheckpoint: string;
  arch: string;
  modelOptions: Record<string, unknown>;
  imageSize: number;
  settings: ResolvedSettings;
  config: Record<string, unknown>;
  datasetHash: string;
  datasetDir: string;
  trainImages: number;
}

function writeRunFile(file: string, run: RunFile): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, JSON.stringify(run, null, 2));
  renameSync(`${file}.tmp`, file);
}

interface Live {
  controller: AbortController;
  done: Promise<void>;
}

export class TrainingService implements TrainingHandlers {
  private readonly live = new Map<string, Live>();
  /** Databases (one per opening of a project) whose stale live jobs have been marked interrupted. */
  private readonly swept = new WeakSet<object>();
  private readonly now: () => string;

  constructor(
    private readonly project: ProjectService,
    private readonly models: () => ModelManager,
    private readonly environment: TrainingEnvironment,
    private readonly opts: TrainingServiceOptions,
  ) {
    this.now = opts.now ?? (() => new Date().toISOString());
  }

  private open(): { dir: string; jobs: JobsRepository; db: NonNullable<ReturnType<ProjectService['openProject']>>['db'] } {
    const p = this.project.openProject();
    if (!p) throw new ApiError('no_project', 'Open or create a project first');
    const jobs = new JobsRepository(p.db, this.now);
    if (!this.swept.has(p.db)) {
      // A fresh opening of the project: runs still marked live were stopped when the app or the
      // project closed (a run holds the database it started with, so none can be live here).
      jobs.markInterrupted('The run stopped when the app or its project closed; Resume continues from its last checkpoint.');
      this.swept.add(p.db);
    }
    return { dir: p.dir, jobs, db: p.db };
  }

  // ------------------------------------------------------------------ plan

  'training.plan': TrainingHandlers['training.plan'] = async ({ settings }) => {
    const { db, jobs } = this.open();
    const { frames, masks, labels, split } = labelledFrames(db);
    const perLabel = labels.map((l) => {
      const own = masks.filter((m) => m.labelId === l.id);
      return { labelId: l.id, name: l.name, masks: own.length, images: new Set(own.map((m) => `${m.imageId}:${m.frame}`)).size, need: Math.max(0, MIN_MASKS_PER_LABEL - own.length) };
    });
    const used = perLabel.filter((l) => l.masks > 0);
    const base = this.models().effectiveActive();
    const baseInfo = base ? { id: base.id, name: base.name, arch: base.arch } : null;
    const env = await this.environment.status();
    const device = this.opts.device ?? 'cpu';
    const resolved = resolveSettings(settings, { arch: base?.arch ?? 'vit_b', device, trainImages: split.train });
    let blocker: string | null = null;
    if (!base) blocker = 'No SAM model is installed: import one under SAM models first; retraining starts from it.';
    else if (!existsSync(this.checkpointOf(base.id))) blocker = `The active model ${base.name} has no PyTorch checkpoint (it was imported as ONNX), so it cannot be fine-tuned; import its .pth checkpoint instead.`;
    else if (used.length === 0) blocker = `No masks yet: accept at least ${MIN_MASKS_PER_LABEL} masks of a label to retrain.`;
    else if (used.some((l) => l.need > 0))
      blocker = `Too few masks: ${used.filter((l) => l.need > 0).map((l) => `${l.name} needs ${l.need} more`).join(', ')} (at least ${MIN_MASKS_PER_LABEL} per label).`;
    else if (split.val < MIN_VAL_FRAMES || split.train < 1)
      blocker = `Too few labelled images to hold some back for validation (${frames.length} labelled; need at least ${MIN_VAL_FRAMES + 2}).`;
    const running = jobs.list(20).find((j) => j.info.kind === 'training' && jobIsLive(j.info.state)); // imports are jobs too
    if (!blocker && running) blocker = 'A retraining run is already going.';
    return {
      ready: blocker === null,
      blocker,
      labels: perLabel,
      images: frames.length,
      masks: masks.length,
      split: { train: split.train, val: split.val, groups: split.groups, pinned: split.pinned, groupBy: split.groupBy },
      baseModel: baseInfo,
      settings: resolved,
      device,
      estimateS: estimateSeconds(resolved, { arch: base?.arch ?? 'vit_b', device, trainImages: split.train, valImages: split.val }),
      environment: { ready: env.ready, path: env.python, note: env.note },
      running: running?.info.id ?? null,
    };
  };

  private checkpointOf(modelId: string): string {
    const mgr = this.models();
    const m = mgr.manifest(modelId) as { checkpoint?: unknown };
    return path.join(mgr.modelsDir, modelId, typeof m.checkpoint === 'string' ? m.checkpoint : 'checkpoint.pt');
  }

  // ------------------------------------------------------------------ start / resume / cancel

  'training.start': TrainingHandlers['training.start'] = async ({ settings }) => {
    const plan = await this['training.plan']({ settings });
    if (!plan.ready) throw new ApiError(plan.running ? 'conflict' : 'bad_request', plan.blocker ?? 'Not ready to retrain');
    const { jobs } = this.open();
    const stamp = this.now().replace(/[^0-9]/g, '').slice(0, 14);
    const id = `train-${stamp}-${randomUUID().slice(0, 6)}`;
    jobs.create({ id, settings: settings ?? { preset: 'auto' }, runDir: `training/${id}`, author: this.opts.user });
    this.launch(id, false);
    return { jobId: id };
  };

  'training.resume': TrainingHandlers['training.resume'] = ({ jobId }) => {
    const { jobs } = this.open();
    const j = jobs.get(jobId);
    if (!j) throw new ApiError('not_found', `No training run ${jobId}`);
    if (this.live.has(jobId)) throw new ApiError('conflict', 'This run is still going');
    if (!j.info.resumable) throw new ApiError('bad_request', `Run ${jobId} is ${j.info.state} and cannot be resumed`);
    jobs.update(jobId, { state: 'running', error: null, detail: 'Resuming from the last checkpoint' });
    this.launch(jobId, true);
    return { jobId };
  };

  'jobs.list': TrainingHandlers['jobs.list'] = () => this.open().jobs.list().map((j) => j.info);

  'jobs.get': TrainingHandlers['jobs.get'] = ({ jobId }) => {
    const j = this.open().jobs.get(jobId);
    if (!j) throw new ApiError('not_found', `No job ${jobId}`);
    return j.info;
  };

  'jobs.cancel': TrainingHandlers['jobs.cancel'] = ({ jobId }) => {
    const { jobs } = this.open();
    const j = jobs.get(jobId);
    if (!j) throw new ApiError('not_found', `No job ${jobId}`);
    const l = this.live.get(jobId);
    if (l) {
      jobs.update(jobId, { state: 'cancelling', detail: 'Stopping after the current step (a checkpoint is kept)' });
      l.controller.abort();
    } else {
      this.project.cancelJob(jobId); // folder imports, .pth conversions, exports, sends
    }
    return jobs.get(jobId)!.info;
  };

  'training.pinValidation': TrainingHandlers['training.pinValidation'] = ({ imageId, pinned }) => {
    const { db } = this.open();
    const r = db.prepare('UPDATE images SET pinned_val = ? WHERE id = ?').run(pinned ? 1 : 0, imageId);
    if (r.changes === 0) throw new ApiError('not_found', `No image with id ${imageId}`);
    return null;
  };

  /**
   * Unlabelled images, most uncertain first: the active model is asked for a mask with no
   * prompt (SAM's three candidates); low predicted IoU and candidates that disagree with each
   * other mean the model does not know what is there. Embeddings already computed are reused;
   * at most `limit` images are scored per call (each new one costs an encoder run).
   */
  'training.labelNext': TrainingHandlers['training.labelNext'] = async ({ limit }) => {
    const { db } = this.open();
    const sam = this.opts.sam;
    if (!sam) throw new ApiError('internal', 'Label next needs the SAM service');
    const modelId = this.models().effectiveActive()?.id ?? null;
    if (!modelId) return { modelId: null, images: [] };
    const rows = db
      .prepare(
        `SELECT i.id, i.frames FROM images i WHERE NOT EXISTS (SELECT 1 FROM masks m WHERE m.image_id = i.id AND m.area > 0 AND m.draft = 0)
         ORDER BY i.series_uid, i.series_index, i.id LIMIT ?`,
      )
      .all(limit) as { id: number; frames: number }[];
    const scored: { imageId: number; score: number; reason: string }[] = [];
    for (const r of rows) {
      const frame = Math.floor(r.frames / 2);
      const p = await sam['sam.predict']({ imageId: r.id, frame, window: null, points: [], box: null, maskInput: null, multimask: true });
      const best = Math.max(...p.masks.map((m) => m.score));
      // Candidates other than the best come without their full-size mask: ask for them.
      const decoded = await Promise.all(p.masks.map(async (m) => decodeRle(m.rle ?? (await sam['sam.candidate']({ imageId: r.id, frame, lowRes: m.lowRes })).rle)));
      let agree = 0;
      let pairs = 0;
      for (let a = 0; a < decoded.length; a++) for (let b = a + 1; b < decoded.length; b++) {
        agree += maskIoU(decoded[a]!, decoded[b]!);
        pairs++;
      }
      const stability = pairs ? agree / pairs : 1;
      const uncertainty = 1 - Math.max(0, Math.min(1, best)) * stability;
      scored.push({
        imageId: r.id,
        score: Number(uncertainty.toFixed(4)),
        reason: `predicted IoU ${best.toFixed(2)}, candidates agree ${(stability * 100).toFixed(0)} %`,
      });
    }
    scored.sort((a, b) => b.score - a.score);
    return { modelId, images: scored };
  };

  async close(): Promise<void> {
    for (const l of this.live.values()) l.controller.abort();
    await Promise.all([...this.live.values()].map((l) => l.done));
  }

  // ------------------------------------------------------------------ where it runs

  /**
   * The app's own embeddings of the snapshot's images, made by the starting model, as a
   * folder the runtime reads (it checks them against its own before it trusts them).
   * Returns null when there are none; never fails the run (it only saves time).
   */
  private async offerEmbeddings(run: RunFile, runDir: string, projectDir: string): Promise<string | null> {
    const mgr = this.models();
    try {
      const variants = variantsOf(mgr.manifest(run.baseModelId));
      const keys = [...variants].sort((a, b) => Number(b === 'fp32') - Number(a === 'fp32')).map((v) => mgr.files(run.baseModelId, v).key);
      const masks = new MasksRepository(this.project.openProject()!.db);
      const out = await writeEmbeddingSeeds(run.datasetDir, path.join(runDir, 'seeds'), {
        cacheDir: embeddingCacheDir(projectDir),
        modelKeys: keys,
        detail: (imageId) => this.project['image.get']({ imageId }) as ImageDetail,
        pixels: (imageId, frame) => this.project['image.pixels']({ imageId, frame }) as Promise<PixelFrame>,
        drawnWindows: (imageId, frame) => masks.viewWindows(imageId, frame),
      });
      return out.offered > 0 ? out.dir : null;
    } catch (e) {
      console.warn(`[delineate] training: the app's embeddings were not offered (${(e as Error).message})`);
      return null;
    }
  }

  private async localPlace(signal: AbortSignal, say: (m: string) => void): Promise<Place> {
    say('Preparing the Python training environment');
    const python = await this.environment.python(say, signal);
    return {
      kind: 'local',
      label: 'this computer',
      put: async (dir) => dir,
      putFile: async (file) => file,
      path: (local) => local,
      join: (...parts) => path.join(...parts),
      get: async (from, to) => {
        if (from !== to) renameSync(from, to);
      },
      start: () => RuntimeClient.start({ python, ...(this.environment.env ? { env: this.environment.env } : {}) }),
      dropCheckpoints: async (dir) => {
        for (const f of ['checkpoints', 'best.pt', 'initial.pt']) rmSync(path.join(dir, f), { recursive: true, force: true });
        dropSeedCopies(path.join(path.dirname(dir), 'seeds'));
      },
    };
  }

  private async sshPlace(hostSpec: SshHost, signal: AbortSignal, say: (m: string) => void): Promise<Place> {
    const host = new SshTrainingHost(hostSpec, signal);
    say(`Connecting to ${host.label}`);
    await host.exec('true');
    say(`Copying the runtime to ${host.label} (once per version)`);
    const runtimeDir = await host.syncRuntime(runtimeRoot());
    say(`Preparing the Python environment on ${host.label}`);
    const python = await host.ensureEnv(runtimeDir, (line) => say(`${host.label}: ${line.replace(/^\[ensure_env\]\s*/, '')}`));
    const base = hostSpec.remoteDir;
    const at = (rel: string) => path.posix.join(base, rel);
    return {
      kind: 'ssh',
      label: host.label,
      put: async (dir, rel) => {
        const remote = at(rel);
        // Snapshots are immutable and named by content: copied once per server.
        if ((await host.exec(`test -f '${remote}/.complete' && echo yes || echo no`)).trim() !== 'yes') {
          await host.exec(`rm -rf '${remote}.partial'`);
          await host.upload(dir, `${remote}.partial`);
          await host.exec(`touch '${remote}.partial/.complete' && rm -rf '${remote}' && mv '${remote}.partial' '${remote}'`);
        }
        return remote;
      },
      putFile: async (file, rel) => {
        const remote = at(rel);
        const tmpDir = `${remote}.d`;
        await host.exec(`mkdir -p '${path.posix.dirname(remote)}'`);
        if ((await host.exec(`test -f '${remote}' && echo yes || echo no`)).trim() !== 'yes') {
          await host.upload(path.dirname(file), tmpDir, (n) => n !== path.basename(file));
          await host.exec(`mv '${tmpDir}/${path.basename(file)}' '${remote}' && rm -rf '${tmpDir}'`);
        }
        return remote;
      },
      path: (_local, rel) => at(rel),
      join: (...parts) => path.posix.join(...parts),
      get: (from, to) => host.download(from, to),
      start: () => host.startRuntime(runtimeDir, python, this.environment.env ?? {}),
      dropCheckpoints: async (dir) => {
        await host.exec(`rm -rf '${dir}/checkpoints' '${dir}/best.pt' '${dir}/initial.pt'`);
      },
    };
  }

  // ------------------------------------------------------------------ the run

  private launch(id: string, resume: boolean): void {
    const { dir, jobs } = this.open();
    const controller = new AbortController();
    const live: Live = { controller, done: Promise.resolve() };
    this.live.set(id, live);
    // The run belongs to the project it started in: closing or switching the project stops it
    // (watched each second, and checked again before each stage; it resumes when the project is back).
    const ours = () => this.project.openProject()?.dir === dir;
    const watch = setInterval(() => {
      if (!ours()) controller.abort();
    }, 1000);
    live.done = this.run(id, dir, jobs, live.controller, ours, resume)
      .catch(() => undefined)
      .finally(() => {
        clearInterval(watch);
        this.live.delete(id);
      });
  }

  private async run(id: string, projectDir: string, jobs: JobsRepository, controller: AbortController, ours: () => boolean, resume: boolean): Promise<void> {
    const t0 = performance.now();
    const stored = jobs.get(id)!;
    const runDir = insideProject(projectDir, stored.runDir);
    if (!runDir) throw new ApiError('io', `Training run ${id} is refused: its record in the project database points outside the project folder.`);
    const runFile = path.join(runDir, 'run.json');
    let stage: TrainingStage = 'environment';
    const progress = new ProgressWriter(jobs, id, stored.info);
    const set = (s: TrainingStage, detail: string, p: Partial<JobProgressFields> = {}) => {
      stage = s;
      progress.stage(s, detail, p);
    };
    const signal = controller.signal;
    // Its models are those of its project, taken now; a stopped run's row reads interrupted when
    // that project is opened again.
    const models = this.models();
    const checkCancel = () => {
      if (!ours()) controller.abort();
      if (signal.aborted) throw abortError();
    };
    try {
      const host = stored.settings.host ?? { kind: 'local' as const };
      const place = host.kind === 'ssh' ? await this.sshPlace(host, signal, (m) => set('environment', m)) : await this.localPlace(signal, (m) => set('environment', m));
      checkCancel();

      let run: RunFile;
      if (resume && existsSync(runFile)) {
        run = JSON.parse(readFileSync(runFile, 'utf8')) as RunFile;
        if (!existsSync(path.join(run.datasetDir, 'annotations.json'))) throw new ApiError('not_found', `The run's dataset snapshot is gone`, run.datasetDir);
      } else {
        set('snapshot', 'Writing the dataset snapshot');
        const snap = await writeSnapshot(
          {
            db: this.project.openProject()!.db,
            projectDir,
            pixels: (imageId, frame) => this.project['image.pixels']({ imageId, frame }) as Promise<PixelFrame>,
            detail: (imageId) => this.project['image.get']({ imageId }) as ImageDetail,
          },
          { onProgress: (step, steps) => progress.fields({ step, steps }) },
        );
        const mgr = models;
        const base = mgr.effectiveActive();
        if (!base) throw new ApiError('not_found', 'No SAM model is installed to start from');
        const arch = mgr.manifest(base.id).architecture as Record<string, unknown>;
        const { arch: archName, image_size, ...modelOptions } = arch;
        const settings = resolveSettings(stored.settings, { arch: String(archName), device: this.opts.device ?? 'cpu', trainImages: snap.train });
        run = {
          baseModelId: base.id,
          baseCheckpoint: this.checkpointOf(base.id),
          arch: String(archName),
          modelOptions,
          imageSize: Number(image_size),
          settings,
          config: trainConfigFor(settings),
          datasetHash: snap.hash,
          datasetDir: snap.dir,
          trainImages: snap.train,
        };
        writeRunFile(runFile, run);
        jobs.update(id, { datasetHash: snap.hash });
      }
      checkCancel();

      if (place.kind === 'ssh') set('snapshot', `Copying the dataset snapshot and the base model to ${place.label}`);
      const dataset = await place.put(run.datasetDir, `datasets/${run.datasetHash}`);
      const baseCheckpoint = await place.putFile(run.baseCheckpoint, `models/${run.baseModelId}.pt`);
      const remoteRun = place.path(runDir, `runs/${id}`);
      // Over SSH the app's embeddings would cost more to copy than a GPU takes to recompute.
      const seeds = place.kind === 'local' ? await this.offerEmbeddings(run, runDir, projectDir) : null;
      checkCancel();
      const runtime = place.start();
      try {
        // Settings left on auto follow the device the runtime actually has (a GPU server
        // gets the guide's progressive unfreezing); decided once, when the run is new.
        const info = await runtime.info();
        const device = info.device;
        if (!resume && (stored.settings.preset ?? 'auto') === 'auto' && device !== (this.opts.device ?? 'cpu')) {
          run.settings = resolveSettings(stored.settings, { arch: run.arch, device, trainImages: run.trainImages });
          run.config = trainConfigFor(run.settings);
          writeRunFile(runFile, run);
        }
        // A host with several GPUs runs one training process per GPU (the runtime's torchrun path).
        const gpus = (info.gpus ?? 0) > 1 ? ` with ${info.gpus} GPUs (one process each)` : '';
        set('training', place.kind === 'ssh' ? `Starting the Python runtime on ${place.label}${gpus}` : `Starting the Python runtime${gpus}`);
        const modelRef = (checkpoint: string) => ({ checkpoint, arch: run.arch, image_size: run.imageSize, model_options: run.modelOptions });
        const config = {
          ...run.config,
          dataset,
          run_dir: place.join(remoteRun, 'run'),
          arch: run.arch,
          checkpoint: baseCheckpoint,
          image_size: run.imageSize,
          model_options: run.modelOptions,
          cache_dir: place.path(path.join(projectDir, 'cache', 'training-embeddings'), 'cache/training-embeddings'),
          ...(seeds ? { seed_embeddings: seeds } : {}),
          eval_before: false,
          resume: true,
        };
        const tTrain = performance.now();
        const result = (await runtime.runJob(trainStart, { config }, { signal, onProgress: (p) => progress.fromRuntime(p) })) as TrainResult;
        const trainSeconds = (performance.now() - tTrain) / 1000;
        if (result.status === 'cancelled') throw abortError();
        const best = result.best_checkpoint;
        if (!best) throw new ApiError('internal', 'Training ended without a checkpoint to evaluate', runDir);

        set('evaluating', 'Comparing the new model with the current one on the validation images');
        const evaluation = (await runtime.runJob(
          evaluate,
          { model: modelRef(best), base_model: modelRef(baseCheckpoint), dataset, split: 'val', options: { modes: EVAL_MODES }, report_path: place.join(remoteRun, 'evaluation.json') },
          { signal, onProgress: (p) => set('evaluating', `Evaluating the ${p.model === 'base_model' ? 'current' : 'new'} model`) },
        )) as EvaluateResult;

        set('exporting', 'Exporting to ONNX with int8 and checking parity');
        const outDir = path.join(runDir, 'bundle');
        rmSync(outDir, { recursive: true, force: true });
        const exportDir = place.join(remoteRun, 'bundle');
        const exported = (await runtime.runJob(
          exportOnnx,
          {
            model: modelRef(best),
            out_dir: exportDir,
            overwrite: true,
            quantize: 'dynamic',
            base_model: run.baseModelId,
            dataset_hash: run.datasetHash,
            training_config: { ...config, settings: run.settings, trained_by: this.opts.user },
            metrics: { val_dice_before: evaluation.before?.val_dice ?? null, val_dice_after: evaluation.after.val_dice },
          },
          { signal },
        )) as ExportResult;

        if (place.kind === 'ssh') set('exporting', `Copying the new model back from ${place.label}`);
        await place.get(exportDir, outDir);
        set('gating', 'Deciding whether to switch to the new model');
        checkCancel();
        const gate = decide(evaluation, exported.parity);
        const mgr = models;
        // Pin the model in use first: with no explicit choice the newest model is the active
        // one, and a refused model must never become active by merely being installed.
        const installedBefore = mgr.list();
        const previous = mgr.effectiveActive(installedBefore)?.id ?? null;
        if (previous && mgr.activeId() !== previous) mgr.setActive(previous);
        const name = `${installedBefore.find((m) => m.id === run.baseModelId)?.name ?? run.arch} + ${run.datasetHash.slice(0, 8)}`;
        const installed = await mgr.installTrained(outDir, name, {
          datasetHash: run.datasetHash,
          trainedBy: this.opts.user,
          parentModelId: run.baseModelId,
          config: { ...run.settings, jobId: id },
          gate,
        });
        if (gate.passed) mgr.setActive(installed.id);
        const outcome: TrainingOutcome = {
          datasetHash: run.datasetHash,
          modelId: installed.id,
          previousModelId: previous,
          activated: gate.passed,
          gate,
          evaluation: evalRows(evaluation),
          trainSeconds,
          totalSeconds: (performance.now() - t0) / 1000,
          embeddingSeeds: seedOutcome(result),
        };
        // The installed bundle holds the weights; the run keeps its run.json and evaluation.
        await place.dropCheckpoints(place.join(remoteRun, 'run')).catch(() => undefined);
        progress.flush();
        jobs.update(id, { state: 'succeeded', stage: 'done', detail: gate.reason, outcome, error: null });
      } finally {
        await runtime.close().catch(() => undefined);
      }
    } catch (e) {
      progress.flush();
      const cancelled = (e as Error).name === 'AbortError' || signal.aborted;
      if (cancelled) {
        jobs.update(id, { state: 'cancelled', detail: 'Cancelled; Resume continues from the last checkpoint', error: null });
      } else {
        const crashed = e instanceof RuntimeCrashedError;
        const code = crashed ? 'runtime_crashed' : e instanceof SshError ? 'ssh_failed' : e instanceof ApiError ? e.code : 'failed';
        const message = crashed
          ? `${(e as Error).message}. The project is intact; Resume continues from the last checkpoint.`
          : (e as Error).message;
        const file = e instanceof ApiError ? e.file : undefined;
        jobs.update(id, {
          state: crashed ? 'interrupted' : 'failed',
          stage,
          detail: crashed ? 'The Python runtime stopped' : 'Failed',
          error: { code, message, ...(file ? { file } : {}) },
        });
      }
      throw e;
    }
  }
}

/** What the runtime did with the app's embeddings (TrainResult.timing.embedding_seeds), validated. */
function seedOutcome(result: TrainResult): TrainingOutcome['embeddingSeeds'] {
  const s = result.timing.embedding_seeds as Record<string, unknown> | null | undefined;
  if (!s || typeof s !== 'object') return null;
  const count = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : 0);
  const errors = Array.isArray(s.checked_rel_error) ? s.checked_rel_error.filter((v): v is number => typeof v === 'number' && Number.isFinite(v)) : [];
  return {
    offered: count(s.offered),
    reused: count(s.reused),
    maxRelError: errors.length ? Math.max(...errors) : null,
    bound: typeof s.max_rel_error === 'number' ? s.max_rel_error : 0,
    refused: typeof s.refused === 'string' ? s.refused : null,
  };
}

/** The app's embeddings copied for a run (about 4 MiB per image for vit_b): gone once the model is installed; index.json stays as the record. */
function dropSeedCopies(dir: string): void {
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) if (n.endsWith('.npy')) rmSync(path.join(dir, n), { force: true });
}

function abortError(): Error {
  const e = new Error('cancelled');
  e.name = 'AbortError';
  return e;
}

/** Folds runtime progress into the job row: throttled writes, epoch curves, thinned loss. */
class ProgressWriter {
  private p: JobProgressFields;
  private curves: EpochPoint[];
  private loss: [number, number][];
  private lastWrite = 0;
  private pending: Parameters<JobsRepository['update']>[1] = {};
  private globalStep = 0;

  constructor(
    private readonly jobs: JobsRepository,
    private readonly id: string,
    info: JobInfo,
  ) {
    this.p = { step: info.step, steps: info.steps, epoch: info.epoch, epochs: info.epochs, etaS: info.etaS };
    this.curves = [...info.curves];
    this.loss = [...info.lossSteps];
    this.globalStep = this.loss.at(-1)?.[0] ?? 0;
  }

  stage(stage: TrainingStage, detail: string, p: Partial<JobProgressFields> = {}): void {
    this.p = { ...this.p, step: null, steps: null, etaS: null, ...p };
    this.pending = { ...this.pending, stage, detail, progress: this.p };
    this.flush();
  }

  fields(p: Partial<JobProgressFields>): void {
    this.p = { ...this.p, ...p };
    this.pending.progress = this.p;
    this.maybeWrite();
  }

  fromRuntime(g: JobProgress): void {
    const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
    if (g.stage === 'caching_embeddings') {
      this.pending.stage = 'caching';
      const reused = n(g.reused) ?? 0;
      this.pending.detail = `Computing image embeddings (once; cached for later runs${reused ? `; ${reused} reused from the app` : ''})`;
      this.fields({ step: n(g.step), steps: n(g.steps), etaS: null });
    } else if (g.stage === 'train') {
      this.pending.stage = 'training';
      this.pending.detail = `Training (${String(g.freeze_stage ?? 'fine-tuning')})`;
      this.globalStep++;
      const loss = n(g.loss);
      if (loss !== null) this.loss.push([this.globalStep, loss]);
      if (this.loss.length > MAX_LOSS_POINTS) this.loss = this.loss.filter((_, i) => i % 2 === 0);
      this.pending.lossSteps = this.loss;
      this.fields({ step: n(g.step), steps: n(g.steps), epoch: n(g.epoch), epochs: n(g.epochs), etaS: n(g.eta_s) });
    } else if (g.stage === 'lr_range') {
      this.pending.stage = 'training';
      const lr = n(g.lr);
      this.pending.detail = `Finding the learning rate (range test${lr !== null ? `, trying ${lr.toExponential(1)}` : ''})`;
      this.fields({ step: n(g.step), steps: n(g.steps), etaS: null });
    } else if (g.stage === 'validating') {
      this.pending.detail = `Validating epoch ${String(g.epoch ?? '')}`;
      this.maybeWrite();
    } else if (g.stage === 'epoch_end') {
      const metrics = (g.metrics ?? {}) as Record<string, unknown>;
      const epoch = n(g.epoch) ?? this.curves.length + 1;
      this.curves = [...this.curves.filter((c) => c.epoch !== epoch), { epoch, trainLoss: n(g.loss), valDice: n(metrics.val_dice) }];
      this.pending.curves = this.curves;
      this.fields({ epoch, epochs: n(g.epochs), etaS: n(g.eta_s) });
      this.flush();
    }
  }

  private maybeWrite(): void {
    if (performance.now() - this.lastWrite >= PROGRESS_WRITE_MS) this.flush();
  }

  flush(): void {
    if (Object.keys(this.pending).length === 0) return;
    try {
      this.jobs.update(this.id, this.pending);
    } catch {
      /* the project was closed under the run; the run is being stopped */
    }
    this.pending = {};
    this.lastWrite = performance.now();
  }
}

