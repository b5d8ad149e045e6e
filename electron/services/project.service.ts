/**
 * The project service: implements every method of the API contract on top of the store,
 * the importer and the pixel service. One project is open at a time per instance.
 *
 * Runtime: Node. Never imports `electron`.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ApiError, PIXELS_BATCH_BYTES, type ImageStatus, type MethodName, type ParsedParams, type ProjectHandlers, type ProjectInfo, type Result } from '../contract/api.js';
import { checkRle, rleArea } from '../contract/rle.js';
import { jobIsLive, type JobKind } from '../contract/training.js';
import { sharedDecodePool } from './imaging/decode-pool.node.js';
import type { FrameDecoder } from './imaging/frame-job.js';
import { PixelService } from './imaging/pixel.service.js';
import { ImportService } from './importer/import.service.js';
import { headerBackfillOnOpen } from './importer/header-backfill.node.js';
import { sourcesFromPaths, sourcesFromUploads } from './importer/import-sources.js';
import { checkCreateTarget, insideProject, insideProjectMany, lockProject, makeProjectFolders, projectPathFrom } from './project-folder.node.js';
import { JobsRepository } from './jobs/jobs.repository.js';
import { randomBytes } from 'node:crypto';
import { AuditRepository } from './store/audit.repository.js';
import { ImagesRepository } from './store/images.repository.js';
import { LabelsRepository } from './store/labels.repository.js';
import { MasksRepository } from './store/masks.repository.js';
import { assertSegmentUnlocked } from './segments/segment-lock.js';
import { type Db, openProjectDatabase, schemaVersion } from './store/project-database.js';

export const PROJECT_DB = 'project.sqlite';

export interface ServiceOptions {
  user: string;
  transport: 'electron' | 'browser';
  version?: string;
  /** Clock, injectable so tests can order audit rows; ISO 8601 strings. */
  now?: () => string;
  /** Who decodes frames: the process's worker pool unless given (benches compare, tests slow it down). */
  decoder?: FrameDecoder;
}

/** An open project: its folder, database and the repositories over it. */
class OpenProject {
  readonly images: ImagesRepository;
  readonly masks: MasksRepository;
  readonly labels: LabelsRepository;
  readonly audit: AuditRepository;
  readonly pixels: PixelService;
  readonly importer: ImportService;
  readonly jobs: JobsRepository;
  /**
   * Jobs running in this app that jobs.cancel stops by aborting them (folder imports, .pth
   * conversions), by job id, with what the job says while it stops.
   */
  readonly liveJobs = new Map<string, { controller: AbortController; stopping: string }>();
  /** Rows whose stored paths lead out of the folder (a crafted or damaged database): reported once, refused on use. */
  readonly warnings: string[];

  constructor(
    readonly dir: string,
    readonly db: Db,
    user: string,
    now: () => string,
    decoder: FrameDecoder,
    private readonly unlock: () => void,
  ) {
    this.images = new ImagesRepository(db);
    this.masks = new MasksRepository(db);
    this.labels = new LabelsRepository(db);
    this.audit = new AuditRepository(db);
    this.pixels = new PixelService(dir, this.images, decoder);
    this.importer = new ImportService({ db, images: this.images, audit: this.audit, projectDir: dir, user, now });
    this.warnings = unsafeRows(dir, db);
    this.jobs = new JobsRepository(db, now);
    // Imports that were running when the app or the project closed: say so; what they stored is kept.
    this.jobs.markInterrupted('The import stopped when the app or its project closed. What it stored is kept; import the folder again to finish (files already in the project are skipped).', 'import', false);
    this.jobs.markInterrupted('The retrieval stopped when the app or its project closed. What arrived is kept; retrieve the studies again to finish (instances already in the project are skipped).', 'import', true);
    this.jobs.markInterrupted('The checkpoint import stopped when the app or its project closed; nothing was installed. Import the .pth again.', 'model-import');
    this.jobs.markInterrupted('The export stopped when the app or its project closed; export the series again.', 'export');
  }

  info(): ProjectInfo {
    const name = (this.db.prepare("SELECT value FROM meta WHERE key = 'name'").pluck().get() as string | undefined) ?? path.basename(this.dir);
    return { path: this.dir, name, schemaVersion: schemaVersion(this.db), imageCount: this.images.count(), warnings: this.warnings };
  }

  close(): void {
    for (const j of this.liveJobs.values()) j.controller.abort();
    this.pixels.clear();
    this.db.close();
    this.unlock();
  }
}

/** Check every path the database stores against the folder; a sentence per kind of bad row. */
function unsafeRows(dir: string, db: Db): string[] {
  const out: string[] = [];
  // Rows as arrays: named-column objects cost more than the query on a 50,000-image project.
  const images = db.prepare('SELECT id, media_path, sha256 FROM images').raw().all() as [number, string, string][];
  const inside = insideProjectMany(dir, images.map((r) => r[1]));
  const sha = /^[0-9a-f]{64}$/;
  const bad: number[] = [];
  images.forEach(([id, , hash], i) => {
    if (!inside[i] || !sha.test(hash)) bad.push(id);
  });
  if (bad.length) out.push(`${bad.length} image record(s) point outside the project folder and are refused (ids ${bad.slice(0, 10).join(', ')}${bad.length > 10 ? ', …' : ''}).`);
  const hasJobs = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'jobs'").get();
  if (hasJobs) {
    const runs = db.prepare('SELECT id, run_dir AS runDir FROM jobs').all() as { id: string; runDir: string }[];
    const badRuns = runs.filter((r) => !insideProject(dir, r.runDir)).map((r) => r.id);
    if (badRuns.length) out.push(`${badRuns.length} training run record(s) point outside the project folder and are refused (${badRuns.slice(0, 5).join(', ')}).`);
  }
  return out;
}

/**
 * Handler shapes narrower than the contract's `T | Promise<T>`: most project calls are
 * synchronous SQLite work, and saying so lets in-process callers (tests, benches) use the
 * results directly while the class still satisfies `ProjectHandlers`.
 */
type Sync<M extends MethodName> = (params: ParsedParams<M>) => Result<M>;
type Async<M extends MethodName> = (params: ParsedParams<M>) => Promise<Result<M>>;

export class ProjectService implements ProjectHandlers {
  private project: OpenProject | null = null;
  private readonly now: () => string;
  private readonly decoder: FrameDecoder;
  private readonly cancellers = new Map<JobKind, (jobId: string) => void>();

  constructor(private readonly opts: ServiceOptions) {
    this.now = opts.now ?? (() => new Date().toISOString());
    this.decoder = opts.decoder ?? sharedDecodePool();
    // Rows imported before migration 7 get its header fields from their files, in the background.
    this.onSwitch(headerBackfillOnOpen());
  }

  private open(): OpenProject {
    if (!this.project) throw new ApiError('no_project', 'No project is open: create or open one first');
    return this.project;
  }

  private switchTo(p: OpenProject): ProjectInfo {
    this.closing();
    this.project?.close();
    this.project = p;
    for (const f of this.switchListeners) f({ dir: p.dir, db: p.db });
    return p.info();
  }

  private readonly switchListeners: ((p: { dir: string; db: Db } | null) => void)[] = [];

  /** Called with the project that was opened, and with null before one closes (sibling services start and stop per-project work). */
  onSwitch(f: (p: { dir: string; db: Db } | null) => void): void {
    this.switchListeners.push(f);
  }

  private closing(): void {
    if (this.project) for (const f of this.switchListeners) f(null);
  }

  /** The open project's folder and database, for sibling services (training); null when none is open. */
  openProject(): { dir: string; db: Db } | null {
    return this.project ? { dir: this.project.dir, db: this.project.db } : null;
  }

  /** The open project's importer, for sibling services that bring files in (PACS retrieve); null when none is open. */
  openImporter(): ImportService | null {
    return this.project?.importer ?? null;
  }

  /** Closes the open project (if any) and releases the database. */
  close(): void {
    this.closing();
    this.project?.close();
    this.project = null;
  }

  // ------------------------------------------------------------------ app / project

  'app.info': Sync<'app.info'> = () => ({
    version: this.opts.version ?? '0.0.0',
    transport: this.opts.transport,
    user: this.opts.user,
  });

  'project.create': Sync<'project.create'> = ({ path: raw, name }) => {
    const dir = projectPathFrom(raw);
    checkCreateTarget(dir);
    const dbFile = path.join(dir, PROJECT_DB);
    if (existsSync(dbFile)) throw new ApiError('conflict', 'A project already exists in this folder: open it instead', dir);
    if (existsSync(dir) && readdirSync(dir).length > 0) {
      throw new ApiError('conflict', 'The folder is not empty: choose an empty or new folder for a project', dir);
    }
    try {
      makeProjectFolders(dir);
    } catch {
      throw new ApiError('io', 'The project folder could not be created there.', dir);
    }
    return this.openAt(dir, dbFile, true, name);
  };

  'project.open': Sync<'project.open'> = ({ path: raw }) => {
    const dir = projectPathFrom(raw);
    const dbFile = path.join(dir, PROJECT_DB);
    if (!existsSync(dbFile)) throw new ApiError('not_found', `No Delineate project here (no ${PROJECT_DB})`, dir);
    return this.openAt(dir, dbFile, false);
  };

  /** Lock, open and (for a new project) name it; the lock is released if anything fails. */
  private openAt(dir: string, dbFile: string, create: boolean, name?: string): ProjectInfo {
    const unlock = lockProject(dir);
    let db: Db | null = null;
    try {
      db = openProjectDatabase(dbFile, { create });
      if (create) {
        const at = this.now();
        db.prepare('INSERT INTO meta (key, value) VALUES (?, ?), (?, ?), (?, ?)').run(
          'name', name?.trim() || path.basename(dir), 'created_at', at, 'created_by', this.opts.user,
        );
      } else {
        makeProjectFolders(dir);
      }
      const opened = this.switchTo(new OpenProject(dir, db, this.opts.user, this.now, this.decoder, unlock));
      // Its first slice is asked for right after a project with images opens: have the decoder ready.
      if (opened.imageCount > 0) this.decoder.warm();
      return opened;
    } catch (e) {
      db?.close();
      unlock();
      throw e;
    }
  }

  'project.current': Sync<'project.current'> = () => this.project?.info() ?? null;

  'project.close': Sync<'project.close'> = () => {
    this.close();
    return null;
  };

  // ------------------------------------------------------------------ images

  'images.list': Sync<'images.list'> = () => this.open().images.list();

  'images.listing': Sync<'images.listing'> = () => this.open().images.listing();

  'images.importPaths': Async<'images.importPaths'> = async ({ paths }) => {
    const p = this.open();
    this.decoder.warm(); // what is imported is looked at next
    const { sources, unreadable } = await sourcesFromPaths(paths);
    return p.importer.importSources(sources, { unreadable });
  };

  'images.importStart': Async<'images.importStart'> = async ({ paths }) => {
    const p = this.open();
    this.decoder.warm();
    const jobId = `import-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    p.jobs.createImport({ id: jobId, paths, author: this.opts.user });
    const controller = this.registerJob(jobId, 'Stopping after the current file; what was read is stored');
    void this.runImportJob(p, jobId, paths, controller).finally(() => p.liveJobs.delete(jobId));
    return { jobId };
  };

  /**
   * A job of the open project that jobs.cancel can stop (`stopping`: what it says meanwhile).
   * The controller is also aborted when the project closes. Call `endJob` when it ends.
   */
  registerJob(jobId: string, stopping: string): AbortController {
    const controller = new AbortController();
    this.open().liveJobs.set(jobId, { controller, stopping });
    return controller;
  }

  endJob(jobId: string): void {
    this.project?.liveJobs.delete(jobId);
  }

  /** Who cancels the jobs of a kind that are not running in this app (a send: the outbox takes it out). */
  onCancel(kind: JobKind, cancel: (jobId: string) => void): void {
    this.cancellers.set(kind, cancel);
  }

  /** Cancel a job of the open project; false when nothing here can (an ended job, an unknown id). */
  cancelJob(jobId: string): boolean {
    const j = this.project?.liveJobs.get(jobId);
    if (j) {
      this.project!.jobs.update(jobId, { state: 'cancelling', detail: j.stopping });
      j.controller.abort();
      return true;
    }
    const stored = this.project?.jobs.get(jobId);
    const cancel = stored && jobIsLive(stored.info.state) ? this.cancellers.get(stored.info.kind) : undefined;
    if (!cancel) return false;
    cancel(jobId);
    return true;
  }

  private async runImportJob(p: OpenProject, jobId: string, paths: string[], controller: AbortController): Promise<void> {
    const started = performance.now();
    let last = 0;
    const write = (f: Parameters<JobsRepository['update']>[1]) => {
      if (p.db.open) p.jobs.update(jobId, f); // a project closed under the job: it reads as interrupted when reopened
    };
    try {
      write({ stage: 'reading', detail: 'Listing the files' });
      const { sources, unreadable } = await sourcesFromPaths(paths);
      const report = await p.importer.importSources(sources, {
        unreadable,
        signal: controller.signal,
        onProgress: ({ done, total, stage, report: partial, segmentations }) => {
          const now = performance.now();
          if (now - last < 100 && (done < total || segmentations)) return; // the renderer polls; a row update per file would be waste
          last = now;
          const elapsed = (now - started) / 1000;
          const etaS = done > 0 ? Math.round((elapsed / done) * (total - done)) : null;
          write({
            stage,
            detail: segmentations ? `Attaching segmentations: ${segmentations.done} of ${segmentations.total}` : `${stage === 'reading' ? 'Reading' : 'Storing'}: ${done} of ${total} files`,
            progress: { step: done, steps: total, epoch: null, epochs: null, etaS },
            importReport: { ...partial, elapsedMs: now - started },
          });
        },
      });
      const cancelled = controller.signal.aborted;
      write({
        state: cancelled ? 'cancelled' : 'succeeded',
        stage: 'done',
        detail: `${report.imported.length} imported, ${report.duplicates.length} already in the project, ${report.failed.length} failed${cancelled ? `, ${report.cancelled} not imported (cancelled)` : ''}`,
        progress: { step: sources.length - report.cancelled, steps: sources.length, epoch: null, epochs: null, etaS: 0 },
        importReport: report,
      });
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError('io', 'The import stopped on an error; what it stored is kept.');
      write({ state: 'failed', detail: err.message, error: { code: err.code, message: err.message } });
    }
  }

  'images.importFiles': Async<'images.importFiles'> = async ({ files }) => {
    const p = this.open();
    this.decoder.warm();
    return p.importer.importSources(sourcesFromUploads(files));
  };

  'images.setStatus': Sync<'images.setStatus'> = ({ imageId, status }) => {
    const p = this.open();
    p.db.transaction(() => this.changeStatus(p, imageId, status)).immediate();
    return null;
  };

  private changeStatus(p: OpenProject, imageId: number, status: ImageStatus): void {
    const before = p.images.status(imageId);
    if (before === undefined) throw new ApiError('not_found', `No image with id ${imageId}`);
    if (before === status) return;
    p.images.setStatus(imageId, status);
    p.audit.record({
      at: this.now(), author: this.opts.user, action: 'update', entity: 'image', entityId: imageId, imageId,
      detail: { status: { from: before, to: status } },
    });
  }

  'image.get': Sync<'image.get'> = ({ imageId }) => {
    const d = this.open().images.detail(imageId);
    if (!d) throw new ApiError('not_found', `No image with id ${imageId}`);
    return d;
  };

  'image.pixels': Async<'image.pixels'> = ({ imageId, frame }) => this.open().pixels.pixels(imageId, frame);

  'image.pixelsMany': Async<'image.pixelsMany'> = async ({ items }) => {
    const pixels = this.open().pixels;
    // Decoded side by side (the decode pool queues them); a failure is the single call's to explain.
    const frames = await Promise.all(items.map((i) => pixels.pixels(i.imageId, i.frame).catch(() => null)));
    let budget = PIXELS_BATCH_BYTES;
    return frames.map((f) => {
      if (!f || f.data.byteLength > budget) return null; // still in the host's frame cache for the single call
      budget -= f.data.byteLength;
      return f;
    });
  };

  'image.thumbnail': Async<'image.thumbnail'> = async ({ imageId }) => ({ png: await this.open().pixels.thumbnail(imageId) });

  // ------------------------------------------------------------------ labels

  'labels.list': Sync<'labels.list'> = () => this.open().labels.list();

  'labels.upsert': Sync<'labels.upsert'> = ({ id, name, color, code }) => {
    const p = this.open();
    const trimmed = name.trim();
    if (!trimmed) throw new ApiError('bad_request', 'A label needs a name');
    return p.db.transaction(() => {
      const clash = p.labels.findByName(trimmed);
      if (clash && clash.id !== id) throw new ApiError('conflict', `A label named "${trimmed}" already exists`);
      const at = this.now();
      if (id === undefined) {
        const created = p.labels.insert(trimmed, color, code ?? null);
        p.audit.record({ at, author: this.opts.user, action: 'create', entity: 'label', entityId: created.id, imageId: null, detail: { name: trimmed, color, code: created.code } });
        return created;
      }
      const before = p.labels.get(id);
      if (!before) throw new ApiError('not_found', `No label with id ${id}`);
      const after = { id, name: trimmed, color, code: code === undefined ? before.code : code };
      p.labels.update(id, trimmed, color, after.code);
      p.audit.record({ at, author: this.opts.user, action: 'update', entity: 'label', entityId: id, imageId: null, detail: { from: before, to: after } });
      return after;
    }).immediate();
  };

  'labels.delete': Sync<'labels.delete'> = ({ id }) => {
    const p = this.open();
    p.db.transaction(() => {
      const before = p.labels.get(id);
      if (!before) throw new ApiError('not_found', `No label with id ${id}`);
      const used = p.labels.maskCount(id);
      // Refuse rather than cascade: deleting a class must never silently delete annotations.
      if (used > 0) throw new ApiError('conflict', `Label "${before.name}" is used by ${used} mask(s); delete or relabel them first`);
      p.labels.delete(id);
      p.audit.record({ at: this.now(), author: this.opts.user, action: 'delete', entity: 'label', entityId: id, imageId: null, detail: before });
    }).immediate();
    return null;
  };

  // ------------------------------------------------------------------ masks

  'masks.list': Sync<'masks.list'> = ({ imageId }) => {
    const p = this.open();
    if (p.images.status(imageId) === undefined) throw new ApiError('not_found', `No image with id ${imageId}`);
    return p.masks.listForImage(imageId);
  };

  'masks.save': Sync<'masks.save'> = ({ imageId, frame, labelId, instance, rle, source, prompts, window }) => {
    const p = this.open();
    const img = p.images.media(imageId);
    if (!img) throw new ApiError('not_found', `No image with id ${imageId}`);
    if (frame >= img.frames) throw new ApiError('bad_request', `Image ${imageId} has ${img.frames} frame(s); frame ${frame} does not exist`);
    const [h, w] = rle.size;
    if (h !== img.height || w !== img.width) {
      throw new ApiError('bad_request', `Mask is ${w}x${h} but image ${imageId} is ${img.width}x${img.height}`);
    }
    try {
      checkRle(rle);
    } catch (e) {
      throw new ApiError('bad_request', `Invalid mask RLE: ${(e as Error).message}`);
    }
    if (!p.labels.get(labelId)) throw new ApiError('not_found', `No label with id ${labelId}`);
    const area = rleArea(rle);
    const key = { imageId, frame, labelId, instance };
    const at = this.now();
    const author = this.opts.user;
    const id = p.db.transaction((): number | null => {
      assertSegmentUnlocked(p.db, key); // paint, erase and SAM alike: a locked segment keeps its pixels
      const existing = p.masks.find(key);
      const detail = { frame, labelId, instance, area, source };
      if (area === 0) {
        if (existing) {
          p.masks.delete(existing.id);
          p.audit.record({ at, author, action: 'delete', entity: 'mask', entityId: existing.id, imageId, detail: { ...detail, areaBefore: existing.area } });
        }
        return null;
      }
      const modelId = source === 'sam' ? (prompts?.model ?? null) : null;
      const m = { height: h, width: w, counts: rle.counts, area, prompts, source, window: window ?? null, modelId, author, at };
      if (existing) {
        p.masks.update(existing.id, m);
        p.audit.record({ at, author, action: 'update', entity: 'mask', entityId: existing.id, imageId, detail: { ...detail, areaBefore: existing.area } });
        return existing.id;
      }
      const newId = p.masks.insert(key, m);
      p.audit.record({ at, author, action: 'create', entity: 'mask', entityId: newId, imageId, detail });
      if (p.images.status(imageId) === 'unlabelled') this.changeStatus(p, imageId, 'in_progress');
      return newId;
    }).immediate();
    return { id, savedAt: at };
  };

  'masks.delete': Sync<'masks.delete'> = (key) => {
    const p = this.open();
    p.db.transaction(() => {
      const existing = p.masks.find(key);
      if (!existing) return; // deleting what is not there is a no-op, so a retried delete is safe
      assertSegmentUnlocked(p.db, key);
      p.masks.delete(existing.id);
      p.audit.record({
        at: this.now(), author: this.opts.user, action: 'delete', entity: 'mask', entityId: existing.id, imageId: key.imageId,
        detail: { frame: key.frame, labelId: key.labelId, instance: key.instance, areaBefore: existing.area },
      });
    }).immediate();
    return null;
  };

  'audit.list': Sync<'audit.list'> = ({ imageId, limit }) => this.open().audit.list(imageId, limit);
}
