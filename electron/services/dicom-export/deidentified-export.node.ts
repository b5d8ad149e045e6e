/**
 * A de-identified copy of a series or study for sharing outside the hospital: the source
 * images and a SEG of each series with masks, through the Basic Application Level
 * Confidentiality Profile (python-runtime/delineate_dicom/deid.py), into a folder the user
 * chose. Runtime: node.
 *
 * The UIDs are replaced by a mapping keyed with a secret kept in the project
 * (exports/deidentified/uid-secret, readable by the user only), so the same study copied
 * again, or series by series, keeps the same new UIDs, and the mapping cannot be recomputed
 * outside the project. The copy is recorded in the audit table (what, where, by whom).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApiError } from '../../contract/api.js';
import { insideProject } from '../project-folder.node.js';
import { AuditRepository } from '../store/audit.repository.js';
import { ImagesRepository } from '../store/images.repository.js';
import type { Db } from '../store/project-database.js';
import { runDicomTool } from './dicom-tool.node.js';
import { EXPORTS_DIR } from './export-writer.node.js';

export interface DeidentifiedExportDeps {
  projectDir: string;
  db: Db;
  user: string;
  now: () => string;
  python: () => Promise<string>;
  /** The SEG of the series `imageId` belongs to (exported now, or the recorded export of these masks). */
  segOf: (imageId: number) => Promise<{ file: string; sopInstanceUid: string; version: number }>;
  signal?: AbortSignal;
  onStage?: (stage: 'environment' | 'exporting', detail: string) => void;
}

export interface DeidentifiedExportResult {
  folder: string;
  /** Files written (images and SEGs). */
  files: number;
  images: number;
  segs: number;
  /** The new Study Instance UIDs (each a subfolder of `folder`). */
  studies: string[];
}

/** One series (or one multi-frame instance): its images, and whether it has masks. */
interface Group {
  imageIds: number[];
  hasMasks: boolean;
}

const SECRET_FILE = path.join(EXPORTS_DIR, 'deidentified', 'uid-secret');

/** The project's UID secret (32 random bytes, hex), made the first time. */
export function uidSecret(projectDir: string): string {
  const file = path.join(projectDir, SECRET_FILE);
  if (existsSync(file)) {
    const s = readFileSync(file, 'utf8').trim();
    if (/^[0-9a-f]{64}$/.test(s)) return s;
    throw new ApiError('io', `The de-identification secret is damaged (not 64 hex digits); remove it to make a new one (the UIDs of new copies will differ from earlier ones)`, file);
  }
  mkdirSync(path.dirname(file), { recursive: true });
  const s = randomBytes(32).toString('hex');
  writeFileSync(file, `${s}\n`, { mode: 0o600, flag: 'wx' });
  return s;
}

function groups(db: Db, imageId: number, scope: 'series' | 'study'): Group[] {
  const d = new ImagesRepository(db).detail(imageId);
  if (!d) throw new ApiError('not_found', `No image with id ${imageId}`);
  if (d.kind !== 'dicom') throw new ApiError('bad_request', `${d.fileName} is not a DICOM image: a de-identified copy needs DICOM sources`);
  const hasMasks = `EXISTS (SELECT 1 FROM masks m WHERE m.image_id = i.id AND m.area > 0 AND m.draft = 0)`;
  // What belongs together: a series of single-frame images, or one multi-frame instance.
  const groupKey = `CASE WHEN i.frames > 1 THEN 'f' || i.id ELSE COALESCE(i.series_uid, 'i' || i.id) END`;
  const where =
    scope === 'study' && d.studyUid
      ? { sql: `i.study_uid = ?`, arg: d.studyUid }
      : d.frames > 1 || !d.seriesUid
        ? { sql: `i.id = ?`, arg: d.id }
        : { sql: `i.series_uid = ? AND i.frames = 1`, arg: d.seriesUid };
  const rows = db
    .prepare(`SELECT i.id AS id, ${groupKey} AS g, ${hasMasks} AS m FROM images i WHERE i.kind = 'dicom' AND ${where.sql} ORDER BY i.series_index, i.id`)
    .all(where.arg) as { id: number; g: string; m: number }[];
  const byGroup = new Map<string, Group>();
  for (const r of rows) {
    const g = byGroup.get(r.g) ?? { imageIds: [], hasMasks: false };
    g.imageIds.push(r.id);
    g.hasMasks ||= r.m === 1;
    byGroup.set(r.g, g);
  }
  return [...byGroup.values()];
}

export async function exportDeidentified(p: { imageId: number; scope: 'series' | 'study'; folder: string }, deps: DeidentifiedExportDeps): Promise<DeidentifiedExportResult> {
  const { db, projectDir } = deps;
  if (!path.isAbsolute(p.folder)) throw new ApiError('bad_request', `${p.folder}: the folder must be an absolute path`);
  const folder = path.resolve(p.folder);
  const found = groups(db, p.imageId, p.scope);
  const images = new ImagesRepository(db);
  const files: string[] = [];
  for (const g of found) {
    for (const id of g.imageIds) {
      const m = images.media(id);
      const file = m ? insideProject(projectDir, m.mediaPath) : null;
      if (!file) throw new ApiError('bad_request', `The stored path of image ${id} leads out of the project; nothing was copied`, m?.mediaPath);
      files.push(file);
    }
  }
  const segs: { file: string; sopInstanceUid: string; version: number }[] = [];
  for (const g of found.filter((x) => x.hasMasks)) {
    deps.onStage?.('exporting', `Exporting the SEG of series ${segs.length + 1} of ${found.filter((x) => x.hasMasks).length}`);
    const seg = await deps.segOf(g.imageIds[0]!);
    segs.push(seg);
    files.push(path.join(projectDir, seg.file));
  }
  if (deps.signal?.aborted) throw new ApiError('conflict', 'The copy was cancelled; nothing was written');
  deps.onStage?.('environment', 'Preparing the DICOM environment');
  const python = await deps.python();
  deps.onStage?.('exporting', `De-identifying ${files.length} files into ${folder}`);
  mkdirSync(folder, { recursive: true });
  const staging = path.join(folder, `.delineate-partial-${randomUUID().slice(0, 8)}`);
  // The request holds the secret: a private temp file, removed right after.
  const request = path.join(os.tmpdir(), `delineate-deid-${randomUUID()}.json`);
  writeFileSync(request, JSON.stringify({ files, out_dir: folder, staging, uid_secret: uidSecret(projectDir) }), { mode: 0o600 });
  let out: { files: { file: string; study_instance_uid: string; modality: string }[] };
  try {
    out = JSON.parse(await runDicomTool(python, 'deidentify', request, 'De-identified copy not written', deps.signal)) as typeof out;
  } finally {
    rmSync(request, { force: true });
    rmSync(staging, { recursive: true, force: true }); // left only by a run that was stopped
  }
  const studies = [...new Set(out.files.map((f) => f.study_instance_uid))];
  const result = { folder, files: out.files.length, images: out.files.filter((f) => f.modality !== 'SEG').length, segs: segs.length, studies };
  new AuditRepository(db).record({
    at: deps.now(),
    author: deps.user,
    action: 'create',
    entity: 'deidentified-copy',
    entityId: p.imageId,
    imageId: p.imageId,
    detail: { scope: p.scope, ...result, profile: 'PS3.15 Basic Application Level Confidentiality Profile (113100)', segExports: segs.map((s) => ({ sopInstanceUid: s.sopInstanceUid, version: s.version })) },
  });
  return result;
}

/** The sentence that closes a de-identified copy's job. */
export function deidentifiedDetail(r: DeidentifiedExportResult): string {
  return `Wrote a de-identified copy to ${r.folder}: ${r.images} image${r.images === 1 ? '' : 's'} and ${r.segs} SEG${r.segs === 1 ? '' : 's'}, in ${r.studies.map((u) => `${u}/`).join(', ')}`;
}
