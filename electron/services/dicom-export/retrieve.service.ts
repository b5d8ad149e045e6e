/**
 * PACS query/retrieve (pacs.query, pacs.retrieveStart): search a destination for studies, and
 * bring the chosen ones into the open project as a job. Runtime: node.
 *
 * A retrieve job: the tool retrieves the studies one after another (C-GET or WADO-RS) into a
 * private temporary folder, one subfolder per study; as each study arrives, the project's
 * own importer takes its folder (the same path as a folder import: probed, deduplicated by
 * SHA-256, one transaction per batch) and the subfolder is removed; the temporary folder goes
 * at the end whatever happened. Progress counts instances (received of the total the PACS
 * announced). jobs.cancel stops the tool at once and the importer after its current file:
 * every image stored is whole, nothing half-retrieved stays on disk. A study that fails is
 * named with the reason; the studies that arrived are kept.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApiError, type PacsQueryHandlers } from '../../contract/api.js';
import type { ImportReport } from '../../contract/imports.js';
import { JobsRepository } from '../jobs/jobs.repository.js';
import type { ImportService } from '../importer/import.service.js';
import { sourcesFromPaths } from '../importer/import-sources.js';
import type { ProjectService } from '../project.service.js';
import { findPython, type PythonEnvProgress } from '../runtime/python-path.node.js';
import { DestinationsStore, defaultConfigDir } from '../settings/destinations-store.node.js';
import type { Db } from '../store/project-database.js';
import { dicomLock } from './export.service.js';
import type { PacsDestination } from './pacs.node.js';
import { queryStudies, retrieveStudies, type RetrieveEvent, type StudyOutcome } from './retrieve.node.js';

export interface RetrieveServiceOptions {
  user: string;
  /** The app's config folder (PACS destinations); defaultConfigDir() unless given (tests). */
  configDir?: string;
  /** Where the temporary folders go; the system's temp folder unless given (tests). */
  tmpDir?: string;
}

type JobFields = Parameters<JobsRepository['update']>[1];

export class RetrieveService implements PacsQueryHandlers {
  private readonly destinations: DestinationsStore;

  constructor(
    private readonly project: ProjectService,
    private readonly opts: RetrieveServiceOptions,
  ) {
    this.destinations = new DestinationsStore(opts.configDir ?? defaultConfigDir());
  }

  private python(signal?: AbortSignal, onProgress?: (p: PythonEnvProgress) => void): Promise<string> {
    return findPython({ lock: dicomLock(), ...(signal ? { signal } : {}), ...(onProgress ? { onProgress } : {}) });
  }

  private connection(id: string): { name: string; destination: PacsDestination } {
    const c = this.destinations.connection(id);
    if (!c) throw new ApiError('not_found', `No PACS destination ${id}`);
    return c;
  }

  'pacs.query': PacsQueryHandlers['pacs.query'] = async ({ destinationId, ...filters }) => {
    const c = this.connection(destinationId);
    return queryStudies(await this.python(), c.destination, filters, `Searching ${c.name} failed`);
  };

  'pacs.retrieveStart': PacsQueryHandlers['pacs.retrieveStart'] = ({ destinationId, studyUids }) => {
    const c = this.connection(destinationId);
    const open = this.project.openProject();
    const importer = this.project.openImporter();
    if (!open || !importer) throw new ApiError('no_project', 'Open or create a project first');
    const jobs = new JobsRepository(open.db, () => new Date().toISOString());
    const jobId = `retrieve-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    jobs.createRetrieve({ id: jobId, destinationId, studyUids, author: this.opts.user });
    const controller = this.project.registerJob(jobId, 'Stopping the retrieval; the studies already imported are kept');
    void new RetrieveJob(jobId, c, studyUids, open.db, jobs, importer, controller.signal, (s, p) => this.python(s, p), this.opts.tmpDir ?? os.tmpdir())
      .run()
      .finally(() => this.project.endJob(jobId));
    return { jobId };
  };
}

/** One retrieve job: the tool's events in, job rows out. */
class RetrieveJob {
  private readonly report: ImportReport = { imported: [], duplicates: [], failed: [], warnings: [], cancelled: 0, elapsedMs: 0 };
  private plan: { studyUid: string; label: string; total: number | null }[] = [];
  private readonly received: number[] = [];
  private stored = 0;
  private lastWrite = 0;
  private readonly started = performance.now();
  private imports: Promise<void> = Promise.resolve();
  private importError: Error | null = null;
  /** This job's temporary folder, once made. */
  private tmp: string | null = null;

  constructor(
    private readonly jobId: string,
    private readonly c: { name: string; destination: PacsDestination },
    private readonly studyUids: readonly string[],
    private readonly db: Db,
    private readonly jobs: JobsRepository,
    private readonly importer: ImportService,
    private readonly signal: AbortSignal,
    private readonly python: (signal: AbortSignal, onProgress: (p: PythonEnvProgress) => void) => Promise<string>,
    private readonly tmpRoot: string,
  ) {}

  private write(f: JobFields): void {
    if (this.db.open) this.jobs.update(this.jobId, f); // a project closed under the job: it reads as interrupted when reopened
  }

  private totals(): { step: number; steps: number | null } {
    const step = this.received.reduce((a, b) => a + (b || 0), 0);
    const known = this.plan.map((p) => p.total);
    return { step, steps: known.length && known.every((t) => t !== null) ? Math.max(step, known.reduce<number>((a, b) => a + (b ?? 0), 0)) : null };
  }

  private progress(stage: 'reading' | 'storing', detail: string, force = false): void {
    const now = performance.now();
    if (!force && now - this.lastWrite < 100) return; // the renderer polls; a row update per instance would be waste
    this.lastWrite = now;
    const { step, steps } = this.totals();
    const elapsed = (now - this.started) / 1000;
    const etaS = steps && step > 0 ? Math.round((elapsed / step) * (steps - step)) : null;
    this.write({ stage, detail, progress: { step, steps, epoch: null, epochs: null, etaS }, importReport: { ...this.report, elapsedMs: now - this.started } });
  }

  private studyName(index: number): string {
    return `study ${index + 1} of ${this.studyUids.length}`;
  }

  private onEvent(e: RetrieveEvent): void {
    if (e.event === 'planned') {
      this.plan = e.studies;
      const total = this.totals().steps;
      this.progress('reading', `Retrieving ${this.studyUids.length} stud${this.studyUids.length === 1 ? 'y' : 'ies'} from ${this.c.name}${total !== null ? ` (${total} instances)` : ''}`, true);
    } else if (e.event === 'received') {
      this.received[e.index] = e.done;
      const total = this.plan[e.index]?.total;
      this.progress('reading', `Retrieving ${this.studyName(e.index)} from ${this.c.name}: ${e.done}${total ? ` of ${total}` : ''} instances`);
    } else {
      // A study is all here: import its folder while the next one is retrieved.
      this.imports = this.imports.then(() => this.importStudy(e.index, e.dir));
    }
  }

  private async importStudy(index: number, dir: string): Promise<void> {
    // Only a folder inside this job's temporary folder is read (and then removed).
    const rel = this.tmp ? path.relative(this.tmp, path.resolve(dir)) : '';
    if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) return;
    try {
      if (this.signal.aborted || this.importError) return;
      const studyUid = this.studyUids[index] ?? `#${index + 1}`;
      const { sources, unreadable } = await sourcesFromPaths([dir]);
      const named = (f: string) => `${this.c.name}/${studyUid}/${path.basename(f)}`;
      const r = await this.importer.importSources(sources, {
        unreadable,
        signal: this.signal,
        onProgress: ({ done, total, segmentations: sg }) =>
          this.progress('storing', sg ? `Attaching segmentations of ${this.studyName(index)}: ${sg.done} of ${sg.total}` : `Importing ${this.studyName(index)}: ${done} of ${total} files`),
      });
      this.report.imported.push(...r.imported.map((x) => ({ ...x, file: named(x.file) })));
      this.report.duplicates.push(...r.duplicates.map((x) => ({ ...x, file: named(x.file) })));
      this.report.failed.push(...r.failed.map((x) => ({ ...x, file: named(x.file) })));
      this.report.warnings.push(...r.warnings.map((x) => ({ ...x, file: named(x.file) })));
      if (r.segmentations?.length) (this.report.segmentations ??= []).push(...r.segmentations.map((x) => ({ ...x, file: named(x.file) })));
      this.report.cancelled += r.cancelled;
      this.stored += r.imported.length + r.duplicates.length;
      this.progress('storing', `Imported ${this.studyName(index)}: ${r.imported.length} new, ${r.duplicates.length} already in the project`, true);
    } catch (e) {
      this.importError = e instanceof Error ? e : new Error(String(e));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  async run(): Promise<void> {
    let tmp: string | null = null;
    try {
      this.write({ stage: 'environment', detail: 'Preparing the DICOM environment' });
      const python = await this.python(this.signal, (g) =>
        this.write({ stage: 'environment', detail: `Preparing the DICOM environment: ${g.message}`, progress: { step: g.step, steps: g.steps, epoch: null, epochs: null, etaS: null } }),
      );
      tmp = this.tmp = mkdtempSync(path.join(this.tmpRoot, 'delineate-retrieve-'));
      this.write({ stage: 'reading', detail: `Asking ${this.c.name} what the studies hold` });
      let outcomes: StudyOutcome[] | null = null;
      let failure: unknown = null;
      try {
        outcomes = await retrieveStudies(python, this.c.destination, this.studyUids, tmp, {
          failed: `Retrieving from ${this.c.name} failed`,
          signal: this.signal,
          onEvent: (e) => this.onEvent(e),
        });
      } catch (e) {
        failure = e;
      }
      await this.imports; // what arrived is stored (or, cancelled, stops after its current file)
      this.finish(outcomes, failure);
    } catch (e) {
      await this.imports.catch(() => undefined);
      this.finish(null, e);
    } finally {
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    }
  }

  private finish(outcomes: StudyOutcome[] | null, failure: unknown): void {
    const report = { ...this.report, elapsedMs: performance.now() - this.started };
    const { step, steps } = this.totals();
    const progress = { step, steps: steps ?? step, epoch: null, epochs: null, etaS: 0 };
    const counts = `${report.imported.length} imported, ${report.duplicates.length} already in the project, ${report.failed.length} failed`;
    if (this.signal.aborted) {
      this.write({ state: 'cancelled', stage: 'done', detail: `Retrieval cancelled: ${counts}; what was stored is kept, the rest was not imported`, progress, importReport: report, error: null });
      return;
    }
    const err = failure ?? this.importError;
    if (err) {
      const e = err instanceof ApiError ? err : new ApiError('io', `Retrieving from ${this.c.name} failed: ${err instanceof Error ? err.message : String(err)}`);
      this.write({ state: 'failed', stage: 'done', detail: e.message, progress, importReport: report, error: { code: e.code, message: e.message } });
      return;
    }
    const bad = (outcomes ?? []).filter((o) => !o.ok);
    const got = (outcomes ?? []).length - bad.length;
    if (bad.length) {
      const message = `${bad.map((o) => `Could not retrieve ${o.label} from ${this.c.name}: ${o.error}`).join('; ')}${got ? ` (${got} other stud${got === 1 ? 'y' : 'ies'} arrived: ${counts})` : ''}`;
      this.write({ state: 'failed', stage: 'done', detail: message, progress, importReport: report, error: { code: 'bad_request', message } });
      return;
    }
    this.write({ state: 'succeeded', stage: 'done', detail: `Retrieved ${got} stud${got === 1 ? 'y' : 'ies'} from ${this.c.name} (${step} instances): ${counts}`, progress, importReport: report, error: null });
  }
}
