/**
 * Long-running jobs of a project (training runs, folder imports, .pth conversions), stored in its database so
 * that a restart finds them: what was asked, where it got to, its curves and its outcome
 * (a training outcome, or an import's report). Runtime: node.
 *
 * Progress is written at most every few hundred milliseconds by the owner (the training
 * service, the project service's importer); the renderer reads it through jobs.get.
 */
import type { ImportReport } from '../../contract/imports.js';
import { LIVE_JOB_STATES, type JobInfo, type JobKind, type JobState, type TrainingOutcome, type TrainingSettings, type TrainingStage } from '../../contract/training.js';
import type { Db } from '../store/project-database.js';

interface JobRow {
  id: string;
  kind: JobKind;
  state: JobState;
  stage: TrainingStage;
  detail: string;
  settings: string;
  progress: string;
  curves: string;
  loss_steps: string;
  run_dir: string;
  dataset_hash: string | null;
  outcome: string | null;
  error: string | null;
  author: string;
  created_at: string;
  updated_at: string;
}

export interface JobProgressFields {
  step: number | null;
  steps: number | null;
  epoch: number | null;
  epochs: number | null;
  etaS: number | null;
}

export interface StoredJob {
  info: JobInfo;
  settings: TrainingSettings;
  runDir: string;
  datasetHash: string | null;
}

const LIVE = LIVE_JOB_STATES;

/** What an export job writes. */
export type ExportJobKind = 'seg' | 'rtstruct' | 'coco' | 'deidentified' | 'sr';

export class JobsRepository {
  constructor(
    private readonly db: Db,
    private readonly now: () => string,
  ) {}

  create(j: { id: string; settings: TrainingSettings; runDir: string; author: string }): void {
    this.insert(j.id, 'training', j.settings, j.runDir, j.author);
  }

  /** A .pth conversion: what was asked; no run folder (the model lands in models/). */
  createModelImport(j: { id: string; path: string; arch: string | null; variant: string; author: string }): void {
    this.insert(j.id, 'model-import', { path: j.path, arch: j.arch, variant: j.variant }, `models/${j.id}`, j.author);
  }

  /** A DICOM export of the series an image belongs to. */
  createExport(j: { id: string; imageId: number | null; author: string; kind?: ExportJobKind }): void {
    this.insert(j.id, 'export', { imageId: j.imageId, kind: j.kind ?? 'seg' }, `exports/${j.id}`, j.author);
  }

  /** A send's job (the view of outbox item `itemId`, see dicom-export/send-job.ts). */
  createSend(j: { id: string; itemId: number; destinationId: string; author: string }): void {
    this.insert(j.id, 'send', { itemId: j.itemId, destinationId: j.destinationId }, `outbox/${j.itemId}`, j.author);
  }

  /** A propagation through a series (segments.propagateStart): what was asked; no run folder. */
  createPropagate(j: { id: string; settings: object; author: string }): void {
    this.insert(j.id, 'propagate', j.settings, `propagations/${j.id}`, j.author);
  }

  /** An import job: `paths` as asked; no run folder (run_dir holds where it would be, unused). */
  createImport(j: { id: string; paths: readonly string[]; author: string }): void {
    this.insert(j.id, 'import', { paths: j.paths }, `imports/${j.id}`, j.author);
  }

  /** A PACS retrieve: an import job whose files come from a PACS (query/retrieve). */
  createRetrieve(j: { id: string; destinationId: string; studyUids: readonly string[]; author: string }): void {
    this.insert(j.id, 'import', { retrieve: { destinationId: j.destinationId, studyUids: j.studyUids } }, `imports/${j.id}`, j.author);
  }

  private insert(id: string, kind: JobKind, settings: unknown, runDir: string, author: string): void {
    const at = this.now();
    this.db
      .prepare(
        `INSERT INTO jobs (id, kind, state, stage, detail, settings, run_dir, author, created_at, updated_at)
         VALUES (?, ?, 'running', 'queued', 'Starting', ?, ?, ?, ?, ?)`,
      )
      .run(id, kind, JSON.stringify(settings), runDir, author, at, at);
  }

  get(id: string): StoredJob | null {
    const r = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
    return r ? toStored(r) : null;
  }

  list(limit = 50): StoredJob[] {
    return (this.db.prepare('SELECT * FROM jobs ORDER BY created_at DESC, rowid DESC LIMIT ?').all(limit) as JobRow[]).map(toStored);
  }

  /**
   * Jobs of `kind` that were running when the app (or its runtime) went away; `retrieves`:
   * only the imports that were PACS retrievals (true) or only the others (false).
   */
  markInterrupted(reason: string, kind: JobKind = 'training', retrieves?: boolean): number {
    const at = this.now();
    const error = JSON.stringify({ code: 'interrupted', message: reason });
    const which = retrieves === undefined ? '' : ` AND json_extract(settings, '$.retrieve') IS ${retrieves ? 'NOT ' : ''}NULL`;
    return this.db
      .prepare(`UPDATE jobs SET state = 'interrupted', error = ?, updated_at = ? WHERE kind = ? AND state IN (${LIVE.map(() => '?').join(', ')})${which}`)
      .run(error, at, kind, ...LIVE).changes;
  }

  update(
    id: string,
    f: Partial<{
      state: JobState;
      stage: TrainingStage;
      detail: string;
      progress: JobProgressFields;
      curves: JobInfo['curves'];
      lossSteps: JobInfo['lossSteps'];
      datasetHash: string;
      outcome: TrainingOutcome | null;
      importReport: ImportReport;
      modelId: string;
      exported: NonNullable<JobInfo['exported']>;
      propagated: NonNullable<JobInfo['propagated']>;
      error: JobInfo['error'];
    }>,
  ): void {
    const sets: string[] = [];
    const vals: unknown[] = [];
    const put = (col: string, v: unknown) => {
      sets.push(`${col} = ?`);
      vals.push(v);
    };
    if (f.state !== undefined) put('state', f.state);
    if (f.stage !== undefined) put('stage', f.stage);
    if (f.detail !== undefined) put('detail', f.detail);
    if (f.progress !== undefined) put('progress', JSON.stringify(f.progress));
    if (f.curves !== undefined) put('curves', JSON.stringify(f.curves));
    if (f.lossSteps !== undefined) put('loss_steps', JSON.stringify(f.lossSteps));
    if (f.datasetHash !== undefined) put('dataset_hash', f.datasetHash);
    if (f.outcome !== undefined) put('outcome', f.outcome === null ? null : JSON.stringify(f.outcome));
    if (f.importReport !== undefined) put('outcome', JSON.stringify(f.importReport)); // an import's outcome is its report
    if (f.modelId !== undefined) put('outcome', JSON.stringify({ modelId: f.modelId })); // a model import's is the model
    if (f.exported !== undefined) put('outcome', JSON.stringify(f.exported)); // an export's is what it wrote
    if (f.propagated !== undefined) put('outcome', JSON.stringify(f.propagated)); // a propagation's is what it drafted
    if (f.error !== undefined) put('error', f.error === null ? null : JSON.stringify(f.error));
    put('updated_at', this.now());
    this.db.prepare(`UPDATE jobs SET ${sets.join(', ')} WHERE id = ?`).run(...vals, id);
  }
}

function toStored(r: JobRow): StoredJob {
  const p = JSON.parse(r.progress) as Partial<JobProgressFields>;
  const info: JobInfo = {
    id: r.id,
    kind: r.kind,
    state: r.state,
    stage: r.stage,
    detail: r.detail,
    step: p.step ?? null,
    steps: p.steps ?? null,
    epoch: p.epoch ?? null,
    epochs: p.epochs ?? null,
    etaS: p.etaS ?? null,
    curves: JSON.parse(r.curves) as JobInfo['curves'],
    lossSteps: JSON.parse(r.loss_steps) as JobInfo['lossSteps'],
    outcome: r.kind === 'training' && r.outcome ? (JSON.parse(r.outcome) as TrainingOutcome) : null,
    importReport: r.kind === 'import' && r.outcome ? (JSON.parse(r.outcome) as ImportReport) : null,
    modelId: r.kind === 'model-import' && r.outcome ? ((JSON.parse(r.outcome) as { modelId?: string }).modelId ?? null) : null,
    exported: r.kind === 'export' && r.outcome ? (JSON.parse(r.outcome) as NonNullable<JobInfo['exported']>) : null,
    propagated: r.kind === 'propagate' && r.outcome ? (JSON.parse(r.outcome) as NonNullable<JobInfo['propagated']>) : null,
    error: r.error ? (JSON.parse(r.error) as JobInfo['error']) : null,
    // An import is not resumed: importing the folder again skips what is already stored.
    resumable: r.kind === 'training' && (r.state === 'cancelled' || r.state === 'interrupted' || (r.state === 'failed' && r.stage === 'training')),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    author: r.author,
  };
  return { info, settings: JSON.parse(r.settings) as TrainingSettings, runDir: r.run_dir, datasetHash: r.dataset_hash };
}
