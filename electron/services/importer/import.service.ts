/**
 * Importing files into a project.
 *
 * Per batch: read + hash + probe every file (async, nothing written), then ONE SQLite
 * transaction that copies the media (named by sha256), inserts the rows and audit entries,
 * and re-orders the touched series. Each file is written under its own savepoint: one that
 * fails (a row the database refuses, a media file that cannot be written) rolls back alone,
 * its media file is removed, and it is reported 'write_failed' while the rest of the batch
 * is kept. Only a failing commit (a full disk) loses the batch, and then nothing of it stays.
 * Media files are named by content hash, so a leftover from a hard crash is harmless
 * (a later import of the same content reuses it).
 *
 * A DICOM Segmentation is not an image: it is set aside while reading and, once every batch
 * is stored, attached as masks to its source images (seg-import*.ts), so a SEG and its series
 * can arrive in one import in any order.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { ImportFailure, ImportReport } from '../../contract/api.js';
import { orderSlices } from '../../contract/geometry.js';
import { FileProblem } from '../imaging/file-problem.js';
import type { AuditRepository } from '../store/audit.repository.js';
import type { ImagesRepository, NewImage } from '../store/images.repository.js';
import type { Db } from '../store/project-database.js';
import { insideProject } from '../project-folder.node.js';
import { type ProbedImage, probeFile } from './file-probe.js';
import type { ImportSource, UnreadableSource } from './import-sources.js';
import { decodeSegMasks, isSegmentation, readSeg, type SegFrameMask, type SegRead } from './seg-import.js';
import { attachSegmentation, checkSegSources } from './seg-import-attach.js';

export interface ImportDeps {
  db: Db;
  images: ImagesRepository;
  audit: AuditRepository;
  projectDir: string;
  user: string;
  now: () => string;
}

interface Ready {
  source: ImportSource;
  bytes: Uint8Array;
  image: NewImage;
  /** Other files in this batch with the same content: reported as duplicates of this one. */
  twins: string[];
  warnings: string[];
}

type WriteResult = { id: number; duplicate: boolean } | { failed: string };

/** `segmentations`: while the SEGs met are attached (after every file was read and stored), how many are done. */
export type ImportProgress = (p: { done: number; total: number; stage: 'reading' | 'storing'; report: ImportReport; segmentations?: { done: number; total: number } }) => void;

/** What one import's progress state carries between batches. */
interface ImportRun {
  done: number;
  total: number;
  report: ImportReport;
  signal?: AbortSignal | undefined;
  on?: ImportProgress | undefined;
  /**
   * The DICOM Segmentations met, as their sources: read again when attached rather than held,
   * so an import of many SEGs does not keep every one's bytes until it ends (a source the
   * renderer sent holds its bytes anyway).
   */
  segs: ImportSource[];
}

export const DEFAULT_BATCH_SIZE = 200;
const CLOSED = 'The project was closed before this file could be stored; nothing of it was kept. Import it again.';

export class ImportService {
  constructor(private readonly d: ImportDeps) {}

  /**
   * `signal`: stop reading further files (what was read is still stored, the rest counted as
   * `cancelled`; so are the DICOM Segmentations not yet attached when it comes). `onProgress`:
   * after each file read, each batch stored, and before each SEG is attached.
   */
  async importSources(
    sources: readonly ImportSource[],
    opts: {
      batchSize?: number;
      unreadable?: readonly UnreadableSource[];
      signal?: AbortSignal;
      onProgress?: ImportProgress;
    } = {},
  ): Promise<ImportReport> {
    const started = performance.now();
    const report: ImportReport = {
      imported: [],
      duplicates: [],
      failed: (opts.unreadable ?? []).map((u) => ({ file: u.file, code: 'unreadable', reason: u.reason })),
      warnings: [],
      cancelled: 0,
      elapsedMs: 0,
    };
    const batchSize = opts.batchSize ?? DEFAULT_BATCH_SIZE;
    mkdirSync(path.join(this.d.projectDir, 'media'), { recursive: true });
    const progress: ImportRun = { done: 0, total: sources.length, report, signal: opts.signal, on: opts.onProgress, segs: [] };
    for (let i = 0; i < sources.length; i += batchSize) {
      const batch = sources.slice(i, i + batchSize);
      if (!this.d.db.open) {
        // Closed (or switched) while we were reading files: stop, store nothing more, say so.
        for (const s of sources.slice(i)) report.failed.push({ file: s.file, code: 'write_failed', reason: CLOSED });
        break;
      }
      if (opts.signal?.aborted) {
        report.cancelled += sources.length - i;
        break;
      }
      await this.importBatch(batch, report, progress);
    }
    // DICOM Segmentations last: their source images may be anywhere in this import.
    await this.attachSegmentations(progress);
    report.elapsedMs = performance.now() - started;
    return report;
  }

  private async importBatch(
    batch: readonly ImportSource[],
    report: ImportReport,
    progress: ImportRun,
  ): Promise<void> {
    const ready: Ready[] = [];
    const pendingBySha = new Map<string, Ready>();
    const tick = (stage: 'reading' | 'storing') => progress.on?.({ done: progress.done, total: progress.total, stage, report });
    let slice = performance.now();
    for (const [k, source] of batch.entries()) {
      // Reading a cached small file resolves without a macrotask turn: without this, an
      // import of thousands of files would hold every other request (and its own progress
      // polls) until it ended.
      if (performance.now() - slice > 15) {
        await new Promise((r) => setImmediate(r));
        slice = performance.now();
      }
      if (progress.signal?.aborted) {
        // Cancelled: what was read so far is stored below; the rest is not looked at.
        report.cancelled += batch.length - k;
        break;
      }
      progress.done++;
      tick('reading');
      let bytes: Uint8Array;
      try {
        bytes = await source.read();
      } catch (e) {
        report.failed.push(e instanceof FileProblem ? toFailure(source.file, e) : { file: source.file, code: 'unreadable', reason: 'The file could not be read from disk.', detail: (e as NodeJS.ErrnoException).code ?? (e as Error).message });
        continue;
      }
      if (!this.d.db.open) {
        // The project was closed or switched during the read: nothing of this batch is stored.
        for (const f of [...ready.flatMap((r) => [r.source.file, ...r.twins]), ...batch.slice(k).map((b) => b.file)]) {
          report.failed.push({ file: f, code: 'write_failed', reason: CLOSED });
        }
        return;
      }
      if (isSegmentation(bytes)) {
        // Not an image: its masks go onto their source images once this import has stored them.
        progress.segs.push(source);
        continue;
      }
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      const existing = this.d.images.idBySha(sha256);
      if (existing !== undefined) {
        this.repairMedia(existing, bytes);
        report.duplicates.push({ file: source.file, imageId: existing });
        continue;
      }
      const twin = pendingBySha.get(sha256);
      if (twin) {
        // Same content twice in one batch: resolved to the first one's id after the commit.
        twin.twins.push(source.file);
        continue;
      }
      let probed: ProbedImage;
      try {
        probed = await probeFile(source.fileName, bytes);
      } catch (e) {
        report.failed.push(toFailure(source.file, e));
        continue;
      }
      const { extension, warnings, ...rest } = probed;
      const entry: Ready = {
        source,
        bytes,
        image: { ...rest, sha256, fileName: source.fileName, folder: source.folder, mediaPath: `media/${sha256}.${extension}`, byteSize: bytes.length },
        twins: [],
        warnings,
      };
      ready.push(entry);
      pendingBySha.set(sha256, entry);
    }
    if (ready.length === 0) return;
    tick('storing');
    if (!this.d.db.open) {
      for (const r of ready) for (const f of [r.source.file, ...r.twins]) report.failed.push({ file: f, code: 'write_failed', reason: CLOSED });
      return;
    }

    const created: string[] = [];
    try {
      // IMMEDIATE: take the write lock up front, so a second app on the project waits (busy
      // timeout) instead of failing at its first write, and sees what the first committed.
      const results = this.d.db.transaction(() => this.writeBatch(ready, created)).immediate();
      ready.forEach((r, k) => {
        const result = results[k]!;
        if ('failed' in result) {
          const failure = { code: 'write_failed' as const, reason: 'The file was read but could not be stored in the project; nothing of it was kept.', detail: result.failed };
          report.failed.push({ file: r.source.file, ...failure });
          for (const t of r.twins) report.failed.push({ file: t, ...failure });
          return;
        }
        const { id, duplicate } = result;
        (duplicate ? report.duplicates : report.imported).push({ file: r.source.file, imageId: id });
        for (const t of r.twins) report.duplicates.push({ file: t, imageId: id });
        if (!duplicate) for (const message of r.warnings) report.warnings.push({ file: r.source.file, imageId: id, message });
      });
    } catch (e) {
      for (const f of created) {
        try {
          unlinkSync(f);
        } catch {
          /* already gone: nothing to clean */
        }
      }
      const reason = `The project could not save this group of ${ready.length} file(s) (is the disk full?); nothing of it was kept.`;
      const detail = (e as Error).message;
      for (const r of ready) {
        report.failed.push({ file: r.source.file, code: 'write_failed', reason, detail });
        for (const t of r.twins) report.failed.push({ file: t, code: 'write_failed', reason, detail });
      }
    }
  }

  /**
   * Attach each DICOM Segmentation's segments as masks to its source images (seg-import*.ts):
   * each file on its own, a bad one listed in `failed` with nothing of it kept. Its header is
   * checked against the project's images (sources here, of its size) before a frame is
   * decoded. A cancel stops before the next SEG (those left are counted `cancelled`).
   */
  private async attachSegmentations(run: ImportRun): Promise<void> {
    const { segs, report } = run;
    for (const [k, source] of segs.entries()) {
      const file = source.file;
      if (run.signal?.aborted) {
        report.cancelled += segs.length - k;
        break;
      }
      run.on?.({ done: run.done, total: run.total, stage: 'storing', report, segmentations: { done: k, total: segs.length } });
      if (!this.d.db.open) {
        report.failed.push({ file, code: 'write_failed', reason: CLOSED });
        continue;
      }
      let seg: SegRead;
      try {
        seg = readSeg(await source.read());
      } catch (e) {
        report.failed.push(segUnreadable(file, e));
        continue;
      }
      const checked = checkSegSources(this.d, file, seg);
      if ('failed' in checked) {
        report.failed.push(checked.failed);
        continue;
      }
      let masks: SegFrameMask[];
      try {
        masks = await decodeSegMasks(seg);
      } catch (e) {
        report.failed.push(segUnreadable(file, e));
        continue;
      }
      if (!this.d.db.open) {
        report.failed.push({ file, code: 'write_failed', reason: CLOSED });
        continue;
      }
      try {
        const { parsed: _, threshold: __, ...info } = seg;
        const r = attachSegmentation(this.d, file, { ...info, masks }, checked.finder);
        if ('failed' in r) report.failed.push(r.failed);
        else (report.segmentations ??= []).push(r.ok);
      } catch (e) {
        report.failed.push({ file, code: 'write_failed', reason: 'The segmentation was read but its masks could not be stored in the project; nothing of it was kept.', detail: (e as Error).message });
      }
    }
  }

  /**
   * A duplicate's media file is trusted only when its size matches: one lost or emptied
   * outside our control (a power cut, a user's cleanup) is rewritten from the same content,
   * so re-importing a file repairs its image.
   */
  private repairMedia(id: number, bytes: Uint8Array): void {
    const rel = this.d.images.media(id)?.mediaPath;
    if (!rel) return;
    // The stored path is data: never write where a crafted database points outside the project.
    const target = insideProject(this.d.projectDir, rel);
    if (target && !mediaIntact(target, bytes)) writeMediaDurably(target, bytes);
  }

  /**
   * Runs inside the batch's transaction, each file under its own savepoint (a nested
   * better-sqlite3 transaction). Records every media file it creates in `created`.
   */
  private writeBatch(ready: readonly Ready[], created: string[]): WriteResult[] {
    const at = this.d.now();
    const results: WriteResult[] = [];
    const series = new Set<string>();
    const folders = new Set<string>();
    for (const r of ready) {
      let mine: string | null = null;
      try {
        const result = this.d.db.transaction((): WriteResult => {
          // Another import running at the same time may have stored this content since we probed it.
          const already = this.d.images.idBySha(r.image.sha256);
          if (already !== undefined) {
            this.repairMedia(already, r.bytes);
            return { id: already, duplicate: true };
          }
          const target = path.join(this.d.projectDir, r.image.mediaPath);
          if (!mediaIntact(target, r.bytes)) {
            writeMediaDurably(target, r.bytes);
            mine = target;
          }
          const id = this.d.images.insert(r.image, at, this.d.user);
          this.d.audit.record({
            at, author: this.d.user, action: 'create', entity: 'image', entityId: id, imageId: id,
            detail: { file: r.source.file, sha256: r.image.sha256, kind: r.image.kind },
          });
          return { id, duplicate: false };
        })();
        if (mine) created.push(mine);
        results.push(result);
        if (!('id' in result) || result.duplicate) continue;
        if (r.image.kind === 'dicom' && r.image.seriesUid) series.add(r.image.seriesUid);
        if (r.image.kind === 'raster') folders.add(r.image.folder);
      } catch (e) {
        if (mine) rmSync(mine, { force: true });
        results.push({ failed: (e as Error).message });
      }
    }
    for (const uid of series) this.d.images.setSeriesIndex(orderSlices(this.d.images.seriesMembers(uid)));
    for (const f of folders) this.d.images.setSeriesIndex(orderSlices(this.d.images.folderMembers(f)));
    return results;
  }
}

/** A SEG that cannot be read (or read again from disk), as the report says it. */
function segUnreadable(file: string, e: unknown): ImportFailure {
  if (!(e instanceof FileProblem)) return { file, code: 'unreadable', reason: 'The file could not be read from disk.', detail: (e as NodeJS.ErrnoException).code ?? (e as Error).message };
  const f = toFailure(file, e);
  return { ...f, reason: `This DICOM Segmentation cannot be read: ${f.reason}` };
}

function toFailure(file: string, e: unknown): ImportFailure {
  if (e instanceof FileProblem) return { file, code: e.code, reason: e.message, ...(e.detail ? { detail: e.detail } : {}) };
  return { file, code: 'unreadable', reason: 'The file could not be read as an image.', detail: e instanceof Error ? e.message : String(e) };
}

function mediaIntact(target: string, bytes: Uint8Array): boolean {
  return existsSync(target) && statSync(target).size === bytes.length;
}

/**
 * Write then rename, with the bytes on disk before the rename: a crash mid-write leaves a
 * .tmp (removed here when the write itself fails), never a half file under the hash name,
 * and the row committed after this call never points at data still only in the page cache.
 */
function writeMediaDurably(target: string, bytes: Uint8Array): void {
  const tmp = `${target}.${process.pid}.tmp`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
