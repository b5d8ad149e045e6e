/**
 * The one way a series' masks become a DICOM object (SEG, RTSTRUCT): one export of a series
 * at a time; plan the object from the masks; return the recorded export when the same
 * content was exported already (writing its file again, same UIDs, if it went missing);
 * else have the light DICOM environment write it and record it in the exports table and the
 * audit table, in one transaction. What differs per object is its `ObjectSpec`. Runtime: node.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ApiError } from '../../contract/api.js';
import { AuditRepository } from '../store/audit.repository.js';
import { countsFromBlob } from '../store/counts-blob.js';
import { ExportsRepository, type ExportRecord } from '../store/exports.repository.js';
import { ImagesRepository } from '../store/images.repository.js';
import { LabelsRepository } from '../store/labels.repository.js';
import { MasksRepository } from '../store/masks.repository.js';
import type { Db } from '../store/project-database.js';
import { runDicomTool, type DicomToolCommand } from './dicom-tool.node.js';
import type { RtstructPlanInput } from './rtstruct-request.js';
import type { ExportSource } from './seg-request.js';

export const EXPORTS_DIR = 'exports';

export const sha256hex = (s: string): string => createHash('sha256').update(s).digest('hex');

export interface ExportDeps {
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

/**
 * An export's deps from the open project and the app's settings. The installed models' names
 * are best effort: a model list that cannot be read names no model, it does not fail the export.
 */
export function exportDepsFor(
  open: { dir: string; db: Db },
  app: { user: string; appVersion: string; modelNames?: () => Record<string, { name: string }> },
  python: () => Promise<string>,
  signal?: AbortSignal,
): ExportDeps {
  return {
    projectDir: open.dir,
    db: open.db,
    user: app.user,
    appVersion: app.appVersion,
    now: () => new Date().toISOString(),
    ...(signal ? { signal } : {}),
    modelNames: () => {
      try {
        return app.modelNames?.() ?? {};
      } catch {
        return {};
      }
    },
    python,
  };
}

export interface ExportResult {
  /** Relative to the project folder. */
  file: string;
  sopInstanceUid: string;
  seriesInstanceUid: string;
  version: number;
  /** Source frames the object covers. */
  frames: number;
  /** SEG segments, RTSTRUCT ROIs. */
  segments: number;
  /** True when these masks had been exported already: nothing new was written. */
  reused: boolean;
  /** What identifies the export in the exports table. */
  sourceSeriesUid: string;
  masksHash: string;
}

/** What the writer answers (snake case, as the Python side writes it); `parts` is read by the spec. */
export interface Written {
  file: string;
  sop_instance_uid: string;
  series_instance_uid: string;
  frames: number;
}

/** What makes a SEG a SEG and an RTSTRUCT an RTSTRUCT in the shared flow. */
export interface ObjectSpec<P extends { request: object; masksHash: string; modelIds: string[] }, W extends Written> {
  kind: 'seg' | 'rtstruct' | 'sr';
  command: DicomToolCommand;
  /** The start of an error sentence: "DICOM SEG not written". */
  failed: string;
  /** What the environment step says it prepares. */
  environment: string;
  plan: (input: RtstructPlanInput) => P;
  /** Make the request the recorded export `same` again (its file went missing). */
  again: (request: P['request'], same: ExportRecord) => void;
  /** The stage sentence while writing, over `frames` frames. */
  writing: (plan: P, frames: number) => string;
  /** Segments or ROIs in what was written. */
  parts: (w: W) => number;
  /** What the audit entry adds about the written object. */
  audit?: (w: W) => Record<string, unknown>;
}

/** Exports under way, by project, kind and series: a second export of the same waits for the first. */
const running = new Map<string, Promise<unknown>>();

async function oneAtATime<T>(key: string, run: () => Promise<T>): Promise<T> {
  const mine = (running.get(key) ?? Promise.resolve()).catch(() => undefined).then(run);
  running.set(key, mine);
  try {
    return await mine;
  } finally {
    if (running.get(key) === mine) running.delete(key);
  }
}

/** The masks of these images as the SEG and RTSTRUCT planners take them; refuses a series without any. */
function seriesMasks(db: Db, imageIds: readonly number[]) {
  const rows = new MasksRepository(db).forExport(imageIds);
  if (rows.length === 0) throw new ApiError('bad_request', 'This series has no masks to export');
  return rows.map((r) => ({ id: r.id, imageId: r.imageId, frame: r.frame, labelId: r.labelId, rle: { size: [r.height, r.width] as [number, number], counts: countsFromBlob(r.counts) }, modelId: r.modelId, updatedAt: r.updatedAt }));
}

/**
 * Export the series `found` (the sources of `imageId`'s series) as the object `spec` says.
 * The written object's tool answer comes back too (null when the recorded export was reused).
 */
export function exportSeriesObject<P extends { request: object; masksHash: string; modelIds: string[] }, W extends Written>(
  spec: ObjectSpec<P, W>,
  imageId: number,
  found: { seriesUid: string; sources: ExportSource[] },
  deps: ExportDeps,
): Promise<ExportResult & { written: W | null }> {
  return oneAtATime(`${deps.projectDir}\0${spec.kind}\0${found.seriesUid}`, () => exportNow(spec, imageId, found, deps));
}

async function exportNow<P extends { request: object; masksHash: string; modelIds: string[] }, W extends Written>(
  spec: ObjectSpec<P, W>,
  imageId: number,
  { seriesUid, sources }: { seriesUid: string; sources: ExportSource[] },
  deps: ExportDeps,
): Promise<ExportResult & { written: W | null }> {
  const { db, projectDir } = deps;
  const masks = seriesMasks(db, sources.map((s) => s.imageId));
  const exportsRepo = new ExportsRepository(db);
  const previous = exportsRepo.latest(spec.kind, seriesUid);
  const folder = path.join(EXPORTS_DIR, spec.kind, sha256hex(seriesUid).slice(0, 16));
  const plan = spec.plan({
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
  const same = exportsRepo.byHash(spec.kind, seriesUid, plan.masksHash);
  const identity = { sourceSeriesUid: seriesUid, masksHash: plan.masksHash };
  if (same && existsSync(path.join(projectDir, same.file))) {
    const { file, sopInstanceUid, seriesInstanceUid, version, frames, segments } = same;
    return { file, sopInstanceUid, seriesInstanceUid, version, frames, segments, reused: true, ...identity, written: null };
  }
  // Recorded, but its file is gone: write it again exactly as it was (same UIDs, same version).
  if (same) spec.again(plan.request, same);

  deps.onStage?.('environment', spec.environment);
  const python = await deps.python();
  if (deps.signal?.aborted) throw new ApiError('conflict', 'The export was cancelled; nothing was written');
  deps.onStage?.('writing', spec.writing(plan, new Set(masks.map((m) => `${m.imageId}:${m.frame}`)).size));
  const written = await runWriter<W>({
    python,
    command: spec.command,
    request: plan.request,
    folder: path.join(projectDir, folder),
    failed: spec.failed,
    db,
    sources,
    ...(deps.signal ? { signal: deps.signal } : {}),
  });
  const result = {
    file: path.relative(projectDir, written.file).split(path.sep).join('/'),
    sopInstanceUid: written.sop_instance_uid,
    seriesInstanceUid: written.series_instance_uid,
    version: same?.version ?? (previous?.version ?? 0) + 1,
    frames: written.frames,
    segments: spec.parts(written),
  };
  if (!same) {
    recordExport(
      db,
      { kind: spec.kind, ...result, sourceSeriesUid: seriesUid, masksHash: plan.masksHash, masks: masks.map((m) => [m.id, m.updatedAt]), models: plan.modelIds, replaces: previous?.sopInstanceUid ?? null, author: deps.user, createdAt: deps.now() },
      { imageId, detail: { masks: masks.length, ...spec.audit?.(written) } },
    );
  }
  return { ...result, reused: false, ...identity, written };
}

/**
 * Write `request` next to the export (removed afterwards) and run `command` on it; the tool's
 * JSON answer. The tool names a source by its stored copy (media/<sha256>.dcm): the error
 * names the file as the user imported it.
 */
async function runWriter<T>(w: {
  python: string;
  command: DicomToolCommand;
  request: unknown;
  /** Absolute folder the export is written into. */
  folder: string;
  /** "DICOM SEG not written": the start of an error sentence. */
  failed: string;
  db: Db;
  sources: readonly { imageId: number; file: string }[];
  signal?: AbortSignal;
}): Promise<T> {
  mkdirSync(w.folder, { recursive: true });
  const requestFile = path.join(w.folder, `.request-${randomUUID().slice(0, 8)}.json`);
  writeFileSync(requestFile, JSON.stringify(w.request));
  try {
    return JSON.parse(await runDicomTool(w.python, w.command, requestFile, w.failed, w.signal)) as T;
  } catch (e) {
    const culprit = e instanceof ApiError ? w.sources.find((src) => e.message.includes(src.file)) : undefined;
    const name = culprit && new ImagesRepository(w.db).detail(culprit.imageId)?.fileName;
    if (culprit && name && e instanceof ApiError) throw new ApiError(e.code, e.message.replaceAll(culprit.file, name), culprit.file);
    throw e;
  } finally {
    rmSync(requestFile, { force: true });
  }
}

/** Record a written export and its audit entry together; the export's id. */
export function recordExport(
  db: Db,
  row: Omit<ExportRecord, 'id'> & { masks: [number, string][]; models: string[] },
  audit: { imageId: number | null; detail: Record<string, unknown> },
): number {
  return db
    .transaction(() => {
      const id = new ExportsRepository(db).insert(row);
      new AuditRepository(db).record({
        at: row.createdAt,
        author: row.author,
        action: 'create',
        entity: 'export',
        entityId: id,
        imageId: audit.imageId,
        detail: { kind: row.kind, file: row.file, sopInstanceUid: row.sopInstanceUid, version: row.version, models: row.models, ...audit.detail },
      });
      return id;
    })
    .immediate();
}
