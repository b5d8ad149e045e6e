/**
 * The headless DICOM node: a verified model package, a storage SCP, a persistent queue of
 * series, a pool of workers that segment complete series prompt-free and send a DICOM SEG to
 * the destination, and health/metrics on loopback. No Electron, no display. Runtime: node.
 *
 * Start order: package (refused by name if tampered or unknown) -> queue (series a crash left
 * running are queued again; instances the SCP wrote but nobody recorded are found in the
 * spool; a series during which the node stopped --attempts times is left failed; retention)
 * -> model sessions -> DICOM environment -> SCP -> HTTP. Series still receiving when the node
 * stopped get one more idle time from the start (their senders resume). stop(): the SCP first
 * (no new instances), then running series finish (up to --drain-s; one that does not is
 * aborted and queued again for the next start, the attempt not counted), then the queue closes.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_MANIFEST, PACKAGE_MODEL_DIR, PROMPT_FREE_MODE } from '../contract/model-package.js';
import { dicomLock } from '../services/dicom-export/export.service.js';
import { parseDicomFile } from '../services/imaging/dicom-file.js';
import { SamEngine, type ModelFiles } from '../services/inference/sam-engine.node.js';
import { MANIFEST_NAME, modelFiles, parseManifest, variantToRun } from '../services/models/bundle-manifest.js';
import { openPackage, PackageError, sha256File } from '../services/models/model-package.node.js';
import { findPython } from '../services/runtime/python-path.node.js';
import type { NodeLog } from './node-log.js';
import type { NodeOptions } from './node-options.js';
import { pruneExpired, pruneUnpackedPackages } from './retention.node.js';
import { startScp, type RunningScp } from './storage-scp.node.js';
import type { ScpEvent } from './scp-events.js';
import { runSeriesJob, type Acceptance, type PackageIdentity } from './series-job.node.js';
import { type RunErrorOutcome, SeriesQueue, settleRunError, type SeriesRow } from './series-queue.node.js';
import { startStatusServer, type StatusServer } from './status-server.node.js';

export interface DicomNodeDeps {
  options: NodeOptions;
  log: NodeLog;
  appVersion: string;
  /** How long stop() waits for running series (default: --drain-s). */
  drainMs?: number;
  /** Called when the node cannot go on (the SCP died): the CLI exits non-zero so the service manager restarts it. */
  onFatal?: (why: string) => void;
}

export interface NodeMetrics {
  uptime_s: number;
  package: { name: string; version: string; sha256: string };
  workers: number;
  instances_received: number;
  queue_length: number;
  series: { receiving: number; queued: number; running: number; processed: number; skipped: number; failed: number };
  failures: number;
  latency_s: { count: number; mean: number | null; p50: number | null; p95: number | null; max: number | null };
  processed_series: { series_uid: string; instances: number; latency_s: number | null; seg_sop_instance_uid: string | null }[];
}

/** Runs in a row whose series grew meanwhile before the next result is sent regardless (process()). */
export const MAX_SUPERSEDED = 3;

function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export class DicomNode {
  private scp: RunningScp | null = null;
  private http: StatusServer | null = null;
  private readonly idle: SamEngine[] = [];
  private readonly running = new Set<Promise<void>>();
  /** Series uid -> runs in a row that ended superseded (in memory: a restart starts counting again). */
  private readonly superseded = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private retentionTimer: NodeJS.Timeout | null = null;
  private stopping = false;
  private failures = 0;
  private readonly controller = new AbortController();
  private readonly started = Date.now();

  private constructor(
    private readonly deps: DicomNodeDeps,
    private readonly queue: SeriesQueue,
    private readonly files: ModelFiles,
    private readonly pkg: PackageIdentity,
    private readonly accept: Acceptance,
    private readonly python: string,
    engines: SamEngine[],
  ) {
    this.idle.push(...engines);
  }

  get dicomPort(): number {
    return this.scp?.port ?? 0;
  }

  get httpPort(): number | null {
    return this.http?.port ?? null;
  }

  static async start(deps: DicomNodeDeps): Promise<DicomNode> {
    const { options: o, log } = deps;
    const state = path.resolve(o.stateDir);
    mkdirSync(state, { recursive: true });
    // 1. The package: every file against its hash, its version known to us.
    const unpacked = path.join(state, 'package');
    const { dir, manifest } = await openPackage(path.resolve(o.packagePath), unpacked);
    // Copies an earlier start unpacked from other archives (older versions) are not kept.
    for (const old of pruneUnpackedPackages(unpacked, dir)) log('package_copy_removed', { dir: old });
    // A prompt-free model outputs one mask per image: the package's (first) label class names it.
    const label = manifest.labels[0];
    if (!label) throw new PackageError(`${o.packagePath}: the package names no label class, so its masks could not be described in a SEG`, o.packagePath);
    const pkg: PackageIdentity = { name: manifest.name, version: manifest.version, sha256: await sha256File(path.join(dir, PACKAGE_MANIFEST)), label, window: manifest.model.fixed_window ?? null };
    const modelDir = path.join(dir, PACKAGE_MODEL_DIR);
    const bundle = parseManifest(readFileSync(path.join(modelDir, MANIFEST_NAME), 'utf8'), path.join(modelDir, MANIFEST_NAME));
    const variant = variantToRun(bundle, o.variant);
    const files = modelFiles(modelDir, bundle, variant, `package:${pkg.sha256}`, path.join);
    const accept: Acceptance = {
      modalities: o.modalities.length ? o.modalities : (manifest.card.training?.modalities ?? []).map((m) => m.toUpperCase()),
      minSize: o.minSize,
      maxSize: o.maxSize,
      maxInstances: o.maxInstances,
      maxBytes: o.maxSeriesBytes,
    };
    log('package_opened', { name: pkg.name, version: pkg.version, sha256: pkg.sha256, variant, label: pkg.label.name, modalities: accept.modalities.length ? accept.modalities : ['any'], window: pkg.window ? `${pkg.window.modality} ${pkg.window.center}/${pkg.window.width}` : 'stored' });
    if (!manifest.model.prompt_modes.includes(PROMPT_FREE_MODE)) {
      // The node runs the model without prompts: say so when nobody measured how it does that.
      log('package_warning', { message: `${o.packagePath}: the package was never evaluated without prompts (its modes: ${manifest.model.prompt_modes.join(', ') || 'none'}); the node's masks come from that mode` });
    }
    // 2. The queue, and what a crash left behind.
    const queue = new SeriesQueue(path.join(state, 'queue.sqlite'));
    try {
      const left = queue.requeueRunning(o.maxAttempts, Date.now());
      for (const uid of left.requeued) log('series_requeued', { series: uid, why: 'it was being processed when the node stopped' });
      for (const f of left.failed) {
        log('series_failed', { series: f.seriesUid, attempt: f.attempts, message: `the node stopped ${f.attempts} times while processing it (out of memory, or a crash?): left failed, not tried again`, state: 'failed' });
      }
      const spool = path.join(state, 'incoming');
      mkdirSync(spool, { recursive: true });
      recoverSpool(queue, spool, log);
      pruneExpired(queue, { keepDays: o.keepDays, segDir: path.join(state, 'seg'), now: Date.now() }, log);
      // 3. One engine per worker, each with its share of the cores; the first loads now so a
      // model that does not run is said at start, not at the first series.
      const engines = Array.from({ length: o.workers }, () => new SamEngine(o.threadsPerWorker, (m) => log('inference_note', { message: m })));
      await engines[0]!.load(files, true);
      const python = await findPython({ lock: dicomLock() });
      const node = new DicomNode(deps, queue, files, pkg, accept, python, engines);
      await node.listen(spool);
      return node;
    } catch (e) {
      queue.close();
      throw e;
    }
  }

  private async listen(spool: string): Promise<void> {
    const { options: o, log } = this.deps;
    const state = path.resolve(o.stateDir);
    this.scp = await startScp(this.python, { aeTitle: o.listen.aeTitle, host: o.listen.host, port: o.listen.port, spool, minFreeBytes: o.minFreeBytes, allowCallingAes: o.allowAes }, state, {
      event: (e) => this.onScpEvent(e),
      problem: (m) => log('scp_problem', { message: m }),
    });
    void this.scp.exited.then((why) => {
      if (this.stopping) return;
      log('scp_exited', { message: why });
      this.deps.onFatal?.(why);
    });
    log('listening', { ae_title: o.listen.aeTitle, host: o.listen.host, port: this.scp.port, workers: o.workers, threads_per_worker: o.threadsPerWorker, idle_s: o.idleSeconds });
    if (o.httpPort !== null && o.token) {
      this.http = await startStatusServer(o.httpPort, o.token, { '/health': () => this.health(), '/metrics': () => this.metrics() });
      log('http_listening', { host: '127.0.0.1', port: this.http.port });
    }
    // Series the node stopped in the middle of receiving: their senders resume once the node
    // listens again, so none is claimed before one more idle time from now (else: two SEGs).
    // Counted from here, not from the start: loading the model and the DICOM environment can
    // take longer than --idle.
    const graced = this.queue.graceReceiving(Date.now());
    if (graced.length) log('series_grace', { series: graced, idle_s: o.idleSeconds, why: 'still receiving when the node stopped: complete only after one more idle time' });
    const tick = Math.min(1000, Math.max(100, (o.idleSeconds * 1000) / 4));
    this.timer = setInterval(() => this.pump(), tick);
    if (o.keepDays > 0) {
      const segDir = path.join(state, 'seg');
      this.retentionTimer = setInterval(() => pruneExpired(this.queue, { keepDays: o.keepDays, segDir, now: Date.now() }, log), 3_600_000);
      this.retentionTimer.unref();
    }
    this.pump();
  }

  private onScpEvent(e: ScpEvent): void {
    const { log } = this.deps;
    if (e.event === 'listening') return;
    if (e.event === 'association_refused') {
      log('association_refused', { from: e.calling_ae, reason: e.reason });
      return;
    }
    if (e.event === 'refused') {
      log('instance_refused', { sop: e.sop_instance_uid, from: e.calling_ae, reason: e.reason });
      return;
    }
    const r = this.queue.recordInstance(
      { sopUid: e.sop_instance_uid, seriesUid: e.series_instance_uid, studyUid: e.study_instance_uid, modality: e.modality, callingAe: e.calling_ae, file: e.file, sha256: e.sha256 },
      Date.now(),
    );
    const event = { new: 'instance_received', changed: 'instance_replaced', repeated: 'instance_repeated' }[r.kind];
    log(event, { series: e.series_instance_uid, sop: e.sop_instance_uid, modality: e.modality, from: e.calling_ae });
    if (r.otherSeries.length) {
      log('instance_uid_conflict', {
        series: e.series_instance_uid,
        sop: e.sop_instance_uid,
        other_series: r.otherSeries,
        from: e.calling_ae,
        message: 'this SOP Instance UID is already used in another series: both are kept and segmented, but the sender reuses UIDs',
      });
    }
  }

  /** Give every idle worker a due series. */
  private pump(): void {
    if (this.stopping) return;
    const idleMs = this.deps.options.idleSeconds * 1000;
    while (this.idle.length > 0) {
      const now = Date.now();
      const row = this.queue.claim(now - idleMs, now);
      if (!row) return;
      const engine = this.idle.pop()!;
      const job = this.process(row, engine).finally(() => {
        this.running.delete(job);
        this.idle.push(engine);
        this.pump();
      });
      this.running.add(job);
    }
  }

  private async process(row: SeriesRow, engine: SamEngine): Promise<void> {
    const { options: o, log } = this.deps;
    const t0 = performance.now();
    log('series_started', { series: row.seriesUid, instances: row.instances, attempt: row.attempts, modality: row.modality });
    const supersededBefore = this.superseded.get(row.seriesUid) ?? 0;
    // Forgotten unless this run is superseded too (set again below): "in a row".
    this.superseded.delete(row.seriesUid);
    try {
      const files = this.queue.instances(row.seriesUid).map((i) => i.file);
      const r = await runSeriesJob(row.seriesUid, files, {
        engine,
        files: this.files,
        pkg: this.pkg,
        accept: this.accept,
        python: this.python,
        destination: o.sendTo,
        segDir: path.join(path.resolve(o.stateDir), 'seg'),
        appVersion: this.deps.appVersion,
        signal: this.controller.signal,
        // A series that kept growing while it was processed MAX_SUPERSEDED times in a row (a
        // sender pausing longer than --idle between instances) is sent as it is this time; if
        // more arrives, the next run sends a new SEG. Otherwise it would never get a result.
        ...(supersededBefore < MAX_SUPERSEDED ? { changed: () => this.queue.changedSinceClaim(row.seriesUid) } : {}),
      });
      if (r.state === 'superseded') {
        // Instances arrived while it ran: no SEG of half a series goes out; finish() puts it
        // back to receiving, and the whole series is processed after the next idle time.
        const times = supersededBefore + 1;
        this.superseded.set(row.seriesUid, times);
        const left = this.queue.finish(row.seriesUid, { state: 'done' }, Date.now());
        log('series_superseded', {
          series: row.seriesUid,
          message: `instances arrived while it was processed: its SEG is not sent, the series is processed again once complete${times >= MAX_SUPERSEDED ? `; after ${times} times in a row, the next result is sent whatever arrives meanwhile (raise --idle for this sender)` : ''}`,
          state: left,
          times,
        });
        return;
      }
      if (r.state === 'skipped') {
        const left = this.queue.finish(row.seriesUid, { state: 'skipped', error: r.reason }, Date.now());
        log('series_skipped', { series: row.seriesUid, reason: r.reason, state: left });
        return;
      }
      const left = this.queue.finish(row.seriesUid, { state: 'done', ...(r.segSopUid ? { segSopUid: r.segSopUid } : {}) }, Date.now());
      const after = this.queue.series(row.seriesUid);
      log(r.sent ? 'series_done' : 'series_done_no_finding', {
        series: row.seriesUid,
        slices: r.slices,
        slices_with_finding: r.slicesWithFinding,
        seg_sop: r.segSopUid,
        sent_to: r.sent ? destinationName(o.sendTo) : null,
        processing_s: Number(((performance.now() - t0) / 1000).toFixed(3)),
        latency_s: after?.latencyMs != null ? after.latencyMs / 1000 : null,
        state: left,
      });
    } catch (e) {
      const message = (e as Error).message;
      // Only a run cut off by the shutdown's abort (--drain-s ran out) is an interruption:
      // queued again, this attempt not counted (only a crash counts, see requeueRunning). A
      // genuine failure while the node drains is a failure like any other.
      const aborted = this.controller.signal.aborted;
      let r: RunErrorOutcome;
      try {
        r = settleRunError(this.queue, row, message, { aborted, maxAttempts: o.maxAttempts, now: Date.now() });
      } catch {
        // The queue closed already (the drain timed out and the wait after the abort too): the
        // series is left running, and requeueRunning counts it at the next start.
        log(aborted ? 'series_interrupted' : 'series_failed', { series: row.seriesUid, attempt: row.attempts, message, state: 'running' });
        if (!aborted) this.failures++;
        return;
      }
      if (r.kind === 'interrupted') {
        log('series_interrupted', { series: row.seriesUid, message, state: 'queued' });
        return;
      }
      this.failures++;
      log('series_failed', { series: row.seriesUid, attempt: row.attempts, message, state: r.state, retry_at: r.retryAt ? new Date(r.retryAt).toISOString() : null });
    }
  }

  health(): { ok: boolean; scp: boolean; workers_busy: number; queue_length: number } {
    const s = this.queue.stats();
    return { ok: !!this.scp && !this.stopping, scp: !!this.scp, workers_busy: this.running.size, queue_length: s.byState.receiving + s.byState.queued };
  }

  metrics(): NodeMetrics {
    const s = this.queue.stats();
    const lat = [...s.latenciesMs].sort((a, b) => a - b).map((ms) => ms / 1000);
    const done = this.queue.allSeries().filter((r) => r.state === 'done');
    return {
      uptime_s: Math.round((Date.now() - this.started) / 1000),
      package: { name: this.pkg.name, version: this.pkg.version, sha256: this.pkg.sha256 },
      workers: this.deps.options.workers,
      instances_received: s.instances,
      queue_length: s.byState.receiving + s.byState.queued,
      series: { receiving: s.byState.receiving, queued: s.byState.queued, running: s.byState.running, processed: s.byState.done, skipped: s.byState.skipped, failed: s.byState.failed },
      failures: this.failures,
      latency_s: {
        count: lat.length,
        mean: lat.length ? lat.reduce((a, b) => a + b, 0) / lat.length : null,
        p50: quantile(lat, 0.5),
        p95: quantile(lat, 0.95),
        max: lat.length ? lat[lat.length - 1]! : null,
      },
      processed_series: done.slice(-1000).map((r) => ({ series_uid: r.seriesUid, instances: r.instances, latency_s: r.latencyMs != null ? r.latencyMs / 1000 : null, seg_sop_instance_uid: r.segSopUid })),
    };
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const { log } = this.deps;
    if (this.timer) clearInterval(this.timer);
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    await this.scp?.stop();
    const drain = Promise.all([...this.running]);
    const waited = await Promise.race([drain.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), this.deps.drainMs ?? this.deps.options.drainSeconds * 1000).unref())]);
    if (!waited) {
      log('stopping_interrupts', { running: this.running.size });
      this.controller.abort();
      await Promise.race([drain, new Promise((r) => setTimeout(r, 5000).unref())]);
    }
    await this.http?.close();
    for (const e of this.idle) await e.release(this.files.key).catch(() => undefined);
    this.queue.close();
    log('stopped', { drained: waited });
  }
}

function destinationName(d: NodeOptions['sendTo']): string {
  return d.kind === 'dimse' ? `${d.aeTitle}@${d.host}:${d.port}` : d.baseUrl;
}

/**
 * Files in the spool that the queue does not know: the SCP wrote (and acknowledged) them but
 * the node stopped before recording them. Recorded now, from their headers.
 */
function recoverSpool(queue: SeriesQueue, spool: string, log: NodeLog): void {
  for (const series of readdirSync(spool, { withFileTypes: true })) {
    if (!series.isDirectory()) continue;
    const dir = path.join(spool, series.name);
    for (const f of readdirSync(dir)) {
      if (!f.endsWith('.dcm') || f.startsWith('.')) continue;
      const sop = f.slice(0, -4);
      if (queue.knows(series.name, sop)) continue;
      const file = path.join(dir, f);
      try {
        const bytes = readFileSync(file);
        const h = parseDicomFile(new Uint8Array(bytes)).header;
        if (!h.seriesUid || !h.studyUid || h.sopInstanceUid !== sop || h.seriesUid !== series.name) throw new Error('its UIDs do not match its place in the spool');
        const sha256 = createHash('sha256').update(bytes).digest('hex');
        queue.recordInstance({ sopUid: sop, seriesUid: h.seriesUid, studyUid: h.studyUid, modality: h.modality ?? '', callingAe: null, file, sha256 }, Date.now());
        log('instance_recovered', { series: h.seriesUid, sop, file });
      } catch (e) {
        log('instance_unreadable', { file, message: (e as Error).message });
      }
    }
  }
}
