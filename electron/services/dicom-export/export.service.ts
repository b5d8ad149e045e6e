/**
 * The DICOM output half of the API (export.*): SEG export of a series as a job (progress,
 * cancel through jobs.cancel, the written object's UIDs at the end), and PACS sends through
 * the outbox (pacs.*). Runtime: node.
 *
 * The writer runs in the light DICOM environment (highdicom, pydicom; no PyTorch), built on
 * first use from python-runtime/dicom-requirements.lock, so annotation-only users never
 * install the training stack.
 */
import path from 'node:path';
import { ApiError, type ExportHandlers } from '../../contract/api.js';
import type { SegmentMeasurement } from '../../contract/measurements.js';
import type { OutboxItem } from '../../contract/pacs.js';
import type { ProjectService } from '../project.service.js';
import { findPython, runtimeRoot, type PythonEnvProgress } from '../runtime/python-path.node.js';
import { DestinationsStore, defaultConfigDir } from '../settings/destinations-store.node.js';
import { ExportsRepository } from '../store/exports.repository.js';
import { ImagesRepository } from '../store/images.repository.js';
import { OutboxRepository } from '../store/outbox.repository.js';
import type { Db } from '../store/project-database.js';
import { OutboxSender } from './outbox-sender.node.js';
import { itemOfSendJob } from './send-job.js';
import { testConnection } from './pacs.node.js';
import { exportSeg, type SegExportDeps } from './seg-export.node.js';
import { exportSegWithSr } from './sr-export.node.js';
import { cocoDetail, exportCoco } from './coco-export.node.js';
import { dicomExportDetail, startExportJob } from './export-job.node.js';
import { exportDepsFor } from './export-writer.node.js';
import { exportRtstruct } from './rtstruct-export.node.js';
import { deidentifiedDetail, exportDeidentified } from './deidentified-export.node.js';

/** The light DICOM environment's lock file. */
export const dicomLock = (): string => path.join(runtimeRoot(), 'dicom-requirements.lock');

export interface ExportServiceOptions {
  user: string;
  appVersion: string;
  modelNames: () => Record<string, { name: string }>;
  /** The app's config folder (PACS destinations); defaultConfigDir() unless given (tests). */
  configDir?: string;
  /** First retry delay of a failed send (tests shorten it). */
  outboxRetryBaseMs?: number;
  /** Every measured segment of a series (the measurements service's): the report sent with its SEG. */
  seriesMeasurements: (imageId: number) => Promise<SegmentMeasurement[]>;
}

export class ExportService implements ExportHandlers {
  private readonly destinations: DestinationsStore;
  /** The open project's outbox sender: started when a project opens, stopped when it closes. */
  private sender: OutboxSender | null = null;

  constructor(
    private readonly project: ProjectService,
    private readonly opts: ExportServiceOptions,
  ) {
    this.destinations = new DestinationsStore(opts.configDir ?? defaultConfigDir());
    // A send's job is cancelled by taking its item out of the outbox (refused while sending or once sent).
    project.onCancel('send', (jobId) => {
      const itemId = itemOfSendJob(jobId);
      const r = itemId === null ? { cancelled: false, why: `${jobId} is not a send` } : new OutboxRepository(this.open().db).cancel(itemId);
      if (!r.cancelled) throw new ApiError('conflict', r.why ?? 'This send cannot be cancelled');
    });
    project.onSwitch((p) => {
      void this.sender?.stop();
      this.sender = null;
      if (!p) return;
      this.sender = new OutboxSender({
        projectDir: p.dir,
        db: p.db,
        python: (signal) => this.python(signal),
        destination: (id) => this.destinations.connection(id),
        ...(opts.outboxRetryBaseMs !== undefined ? { retryBaseMs: opts.outboxRetryBaseMs } : {}),
        log: (m) => console.warn(`[delineate] ${m}`),
      });
      this.sender.start();
    });
  }

  private python(signal?: AbortSignal, onProgress?: (p: PythonEnvProgress) => void): Promise<string> {
    return findPython({ lock: dicomLock(), ...(signal ? { signal } : {}), ...(onProgress ? { onProgress } : {}) });
  }

  private open(): { dir: string; db: Db } {
    const p = this.project.openProject();
    if (!p) throw new ApiError('no_project', 'Open or create a project first');
    return p;
  }

  private exportDeps(open: { dir: string; db: Db }, signal?: AbortSignal): SegExportDeps {
    return exportDepsFor(open, this.opts, () => this.python(signal), signal);
  }

  // ------------------------------------------------------------------ PACS

  'pacs.destinations': ExportHandlers['pacs.destinations'] = () => this.destinations.list();

  'pacs.saveDestination': ExportHandlers['pacs.saveDestination'] = (p) => this.destinations.save(p);

  'pacs.deleteDestination': ExportHandlers['pacs.deleteDestination'] = ({ id }) => {
    this.destinations.delete(id);
    return null;
  };

  'pacs.test': ExportHandlers['pacs.test'] = async ({ id }) => {
    const c = this.destinations.connection(id);
    if (!c) throw new ApiError('not_found', `No PACS destination ${id}`);
    try {
      return { ok: true, detail: await testConnection(await this.python(), c.destination) };
    } catch (e) {
      return { ok: false, detail: (e as Error).message.replace(/^Connection test failed: /, '') };
    }
  };

  'pacs.sendSeries': ExportHandlers['pacs.sendSeries'] = ({ imageId, destinationId }) => this.queueSeries([imageId], destinationId);

  'pacs.sendStudy': ExportHandlers['pacs.sendStudy'] = async ({ imageId, destinationId }) => {
    const open = this.open();
    const d = new ImagesRepository(open.db).detail(imageId);
    if (!d) throw new ApiError('not_found', `No image with id ${imageId}`);
    if (d.kind !== 'dicom' || !d.studyUid) return this.queueSeries([imageId], destinationId);
    // One image per series (or per multi-frame instance) of the study that has a mask.
    const rows = open.db
      .prepare(
        `SELECT MIN(i.id) AS id FROM images i WHERE i.study_uid = ? AND i.kind = 'dicom'
           AND EXISTS (SELECT 1 FROM masks m WHERE m.image_id = i.id AND m.area > 0 AND m.draft = 0)
         GROUP BY CASE WHEN i.frames > 1 THEN 'f' || i.id ELSE COALESCE(i.series_uid, 'i' || i.id) END ORDER BY MIN(i.id)`,
      )
      .all(d.studyUid) as { id: number }[];
    if (rows.length === 0) throw new ApiError('bad_request', 'No series of this study has masks to send');
    return this.queueSeries(rows.map((r) => r.id), destinationId);
  };

  /**
   * Export (or reuse) the SEG of each image's series and, when the series has measured
   * segments in mm, the measurement report (SR, TID 1500) that refers to that very SEG; queue
   * them for the destination (the SEG first, then its report: two outbox items, one object
   * each, sent together), then send.
   */
  private async queueSeries(imageIds: readonly number[], destinationId: string): Promise<OutboxItem[]> {
    const c = this.destinations.connection(destinationId);
    if (!c) throw new ApiError('not_found', `No PACS destination ${destinationId}`);
    const open = this.open();
    const exports = new ExportsRepository(open.db);
    const outbox = new OutboxRepository(open.db);
    const items: OutboxItem[] = [];
    try {
      for (const imageId of imageIds) {
        const { seg, sr, why, srFailed } = await exportSegWithSr(imageId, { ...this.exportDeps(open), measure: () => this.opts.seriesMeasurements(imageId) });
        const series = new ImagesRepository(open.db).detail(imageId)?.seriesDescription;
        const of = series ? ` of ${series}` : '';
        const queue = (o: { kind: 'seg' | 'sr'; file: string; sopInstanceUid: string; sourceSeriesUid: string; masksHash: string }, description: string, afterId: number | null) =>
          outbox.enqueue({
            destinationId,
            destinationName: c.name,
            exportId: exports.byHash(o.kind, o.sourceSeriesUid, o.masksHash)?.id ?? null,
            file: o.file,
            sopInstanceUid: o.sopInstanceUid,
            description,
            now: new Date().toISOString(),
            author: this.opts.user,
            afterId,
          });
        const segItem = queue({ kind: 'seg', ...seg }, `SEG v${seg.version}${of}${srFailed ? ` (alone: ${why})` : ''}`, null);
        items.push(segItem);
        // The report goes only once its SEG is stored there, so a PACS never holds a report of a SEG it refused.
        if (sr) items.push(queue({ kind: 'sr', ...sr }, `Measurement report (SR v${sr.version})${of}: ${sr.segments} segment${sr.segments === 1 ? '' : 's'}, refers to SEG v${seg.version}`, segItem.id));
      }
    } finally {
      // Also when a later series of a study fails: what was queued before it is sent.
      this.sender?.kick();
    }
    return items;
  }

  'pacs.outbox': ExportHandlers['pacs.outbox'] = () => new OutboxRepository(this.open().db).list();

  'pacs.retry': ExportHandlers['pacs.retry'] = ({ itemId }) => {
    const repo = new OutboxRepository(this.open().db);
    const it = repo.get(itemId);
    if (!it) throw new ApiError('not_found', `No outbox item ${itemId}`);
    if (it.state === 'failed') repo.setState(itemId, 'queued');
    this.sender?.kick();
    return repo.get(itemId)!;
  };

  /** Stop the outbox sender (app closing); what was being sent is queued again on the next start. */
  async close(): Promise<void> {
    await this.sender?.stop();
    this.sender = null;
  }

  /** Wait for the outbox pass under way (tests). */
  async outboxIdle(): Promise<void> {
    await this.sender?.idle();
  }

  // ------------------------------------------------------------------ export

  'export.segStart': ExportHandlers['export.segStart'] = ({ imageId }) => this.seriesExportJob('seg', imageId);

  'export.rtstructStart': ExportHandlers['export.rtstructStart'] = ({ imageId }) => this.seriesExportJob('rtstruct', imageId);

  /** A SEG or RTSTRUCT of `imageId`'s series, as a job. */
  private seriesExportJob(kind: 'seg' | 'rtstruct', imageId: number): { jobId: string } {
    const open = this.open();
    const write = kind === 'seg' ? exportSeg : exportRtstruct;
    return startExportJob({
      project: this.project,
      db: open.db,
      user: this.opts.user,
      imageId,
      kind,
      what: 'the export',
      run: async ({ signal, stage }) => {
        const r = await write(imageId, {
          ...this.exportDeps(open, signal),
          python: () => this.python(signal, (g) => stage('environment', `Preparing the DICOM environment: ${g.message}`, g)),
          onStage: (s, detail) => stage(s === 'environment' ? 'environment' : 'exporting', detail),
        });
        const exported = { kind, file: r.file, sopInstanceUid: r.sopInstanceUid, seriesInstanceUid: r.seriesInstanceUid, version: r.version, frames: r.frames, segments: r.segments, reused: r.reused };
        return { detail: dicomExportDetail(kind === 'seg' ? 'SEG' : 'RTSTRUCT', exported), exported };
      },
    });
  }

  'export.deidentifiedStart': ExportHandlers['export.deidentifiedStart'] = (params) => {
    const open = this.open();
    return startExportJob({
      project: this.project,
      db: open.db,
      user: this.opts.user,
      imageId: params.imageId,
      kind: 'deidentified',
      what: 'the de-identified copy',
      run: async ({ signal, stage }) => {
        const r = await exportDeidentified(params, {
          projectDir: open.dir,
          db: open.db,
          user: this.opts.user,
          now: () => new Date().toISOString(),
          signal,
          onStage: stage,
          python: () => this.python(signal, (g) => stage('environment', `Preparing the DICOM environment: ${g.message}`)),
          segOf: (imageId) => exportSeg(imageId, { ...this.exportDeps(open, signal), python: () => this.python(signal) }),
        });
        return { detail: deidentifiedDetail(r), exported: null };
      },
    });
  };

  'export.cocoStart': ExportHandlers['export.cocoStart'] = ({ imageId }) => {
    const open = this.open();
    return startExportJob({
      project: this.project,
      db: open.db,
      user: this.opts.user,
      imageId: imageId ?? null,
      kind: 'coco',
      what: 'the COCO export',
      run: async ({ signal, stage }) => {
        const r = await exportCoco(imageId, {
          projectDir: open.dir,
          db: open.db,
          user: this.opts.user,
          appVersion: this.opts.appVersion,
          now: () => new Date().toISOString(),
          signal,
          onProgress: (done, total) => stage('exporting', `Writing image ${done} of ${total}`, { step: done, steps: total }),
        });
        return { detail: cocoDetail(r), exported: { kind: 'coco', file: r.folder, sopInstanceUid: r.uid, seriesInstanceUid: r.uid, version: r.version, frames: r.images, segments: r.annotations, reused: r.reused } };
      },
    });
  };
}
