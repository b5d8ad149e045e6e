/**
 * The node's persistent queue (SQLite, WAL, synchronous=FULL): every received instance, and
 * every series with its state. Runtime: node.
 *
 *   receiving -> (idle for --idle seconds) -> running -> done | skipped | failed
 *                                               \-> queued (failed, tried again later)
 *
 * Nothing is lost across a crash: an instance is recorded once the SCP has written it (and a
 * file the SCP wrote just before a crash is found again by the spool scan at start); a series
 * left running by a crash is queued again at start, unless the node already stopped
 * `maxAttempts` times while processing it (an OOM kill, a native crash): then it is left
 * failed, so one poisonous series cannot crash-loop the node. A series is processed once: its
 * SEG's UIDs come from its content, so even a series processed again after a crash sends the
 * same SOP Instance, which the PACS keeps once.
 *
 * Instances are keyed by (series, SOP Instance UID), with the SHA-256 of the file as received:
 *  - a new key is a new instance: it reopens a finished series (its SEG would be different);
 *  - the same key with the same hash is a repeat (a PACS re-sending): nothing changes;
 *  - the same key with another hash is a corrected re-send: the SCP has already replaced the
 *    file, so the series is reopened exactly as for a new instance;
 *  - a SOP Instance UID already known in ANOTHER series is a UID clash at the sender: both are
 *    kept (the spool's path holds the series, so neither file overwrites the other) and the
 *    caller is told, to log it as a conflict.
 *
 * "Did an instance arrive while the series ran?" is decided by a per-series counter bumped
 * with every new or changed instance and captured at claim, never by comparing clock times
 * (an instance in the same millisecond as the claim, or after the clock stepped back, would
 * be lost with them).
 */
import Database from 'better-sqlite3';
import { DEFAULT_MAX_ATTEMPTS } from './node-options.js';

export type SeriesState = 'receiving' | 'queued' | 'running' | 'done' | 'skipped' | 'failed';

export interface SeriesRow {
  seriesUid: string;
  studyUid: string;
  modality: string;
  callingAe: string | null;
  state: SeriesState;
  instances: number;
  firstReceivedAt: number;
  lastReceivedAt: number;
  attempts: number;
  nextAttemptAt: number | null;
  startedAt: number | null;
  finishedAt: number | null;
  latencyMs: number | null;
  segSopUid: string | null;
  error: string | null;
}

export interface InstanceRow {
  sopUid: string;
  seriesUid: string;
  file: string;
  receivedAt: number;
}

/** What recordInstance made of an instance; `otherSeries`: series that already hold its SOP Instance UID. */
export interface Recorded {
  kind: 'new' | 'changed' | 'repeated';
  otherSeries: string[];
}

/** A processed series old enough to be forgotten: its files to delete. */
export interface Expired {
  seriesUid: string;
  files: string[];
  segSopUid: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS instances (
  series_uid TEXT NOT NULL,
  sop_uid TEXT NOT NULL,
  file TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (series_uid, sop_uid)
);
CREATE INDEX IF NOT EXISTS instances_sop ON instances(sop_uid);
CREATE TABLE IF NOT EXISTS series (
  series_uid TEXT PRIMARY KEY,
  study_uid TEXT NOT NULL,
  modality TEXT NOT NULL,
  calling_ae TEXT,
  state TEXT NOT NULL CHECK (state IN ('receiving', 'queued', 'running', 'done', 'skipped', 'failed')),
  first_received_at INTEGER NOT NULL,
  last_received_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER,
  started_at INTEGER,
  finished_at INTEGER,
  latency_ms INTEGER,
  seg_sop_uid TEXT,
  error TEXT,
  -- Bumped by every new or changed instance; claimed_seq is its value when the run began.
  received_seq INTEGER NOT NULL DEFAULT 0,
  claimed_seq INTEGER
);
CREATE INDEX IF NOT EXISTS series_state ON series(state);
`;

const SERIES_COLUMNS = `series_uid AS seriesUid, study_uid AS studyUid, modality, calling_ae AS callingAe, state,
  (SELECT COUNT(*) FROM instances i WHERE i.series_uid = series.series_uid) AS instances,
  first_received_at AS firstReceivedAt, last_received_at AS lastReceivedAt, attempts, next_attempt_at AS nextAttemptAt,
  started_at AS startedAt, finished_at AS finishedAt, latency_ms AS latencyMs, seg_sop_uid AS segSopUid, error`;

/** SQL: a new or changed instance arrived since the series was claimed (its run covers less than the series). */
const CHANGED_SINCE_CLAIM = 'received_seq IS NOT claimed_seq';

export class SeriesQueue {
  private readonly db: Database.Database;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // FULL: a committed row survives a power cut too, not only a crash of this process.
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    // A queue written by an earlier build (instances keyed by SOP UID alone, no hash) is not
    // converted: the node was never released with it; say so rather than fail on a column.
    const columns = (this.db.pragma('table_info(instances)') as { name: string }[]).map((c) => c.name);
    if (!columns.includes('sha256')) {
      this.db.close();
      throw new Error(`${file}: a queue from an earlier build of the node; move it away (the spool is recovered from incoming/ at the next start)`);
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /**
   * Record a received instance (see the header for new / changed / repeated). A new or changed
   * instance reopens a finished or queued series; one of a running series is noticed when that
   * run finishes (see finish()).
   */
  recordInstance(i: { sopUid: string; seriesUid: string; studyUid: string; modality: string; callingAe: string | null; file: string; sha256: string }, now: number): Recorded {
    return this.db
      .transaction((): Recorded => {
        const otherSeries = (this.db.prepare('SELECT series_uid AS s FROM instances WHERE sop_uid = ? AND series_uid <> ?').all(i.sopUid, i.seriesUid) as { s: string }[]).map((r) => r.s);
        const known = this.db.prepare('SELECT sha256 FROM instances WHERE series_uid = ? AND sop_uid = ?').get(i.seriesUid, i.sopUid) as { sha256: string } | undefined;
        if (known && known.sha256 === i.sha256) return { kind: 'repeated', otherSeries };
        this.db
          .prepare(
            `INSERT INTO instances (series_uid, sop_uid, file, sha256, received_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT(series_uid, sop_uid) DO UPDATE SET file = excluded.file, sha256 = excluded.sha256, received_at = excluded.received_at`,
          )
          .run(i.seriesUid, i.sopUid, i.file, i.sha256, now);
        this.db
          .prepare(
            `INSERT INTO series (series_uid, study_uid, modality, calling_ae, state, first_received_at, last_received_at, received_seq)
             VALUES (@seriesUid, @studyUid, @modality, @callingAe, 'receiving', @now, @now, 1)
             ON CONFLICT(series_uid) DO UPDATE SET last_received_at = MAX(last_received_at, @now), received_seq = received_seq + 1,
               state = CASE WHEN state IN ('done', 'skipped', 'failed', 'queued') THEN 'receiving' ELSE state END,
               attempts = CASE WHEN state IN ('done', 'skipped', 'failed') THEN 0 ELSE attempts END,
               error = CASE WHEN state = 'running' THEN error ELSE NULL END`,
          )
          .run({ ...i, now });
        return { kind: known ? 'changed' : 'new', otherSeries };
      })
      .immediate();
  }

  knows(seriesUid: string, sopUid: string): boolean {
    return this.db.prepare('SELECT 1 FROM instances WHERE series_uid = ? AND sop_uid = ?').get(seriesUid, sopUid) !== undefined;
  }

  /**
   * At start: series left running by a crash or a kill. Each such run counted as an attempt
   * (at claim), so a series during which the node stopped `maxAttempts` times is left failed
   * (the reason in its row) instead of crashing the node once more; the others are queued
   * again, now.
   */
  requeueRunning(maxAttempts: number = DEFAULT_MAX_ATTEMPTS, now: number = Date.now()): { requeued: string[]; failed: { seriesUid: string; attempts: number }[] } {
    return this.db
      .transaction(() => {
        const rows = this.db.prepare("SELECT series_uid AS uid, attempts FROM series WHERE state = 'running' ORDER BY series_uid").all() as { uid: string; attempts: number }[];
        const requeued: string[] = [];
        const failed: { seriesUid: string; attempts: number }[] = [];
        for (const r of rows) {
          if (r.attempts >= maxAttempts) {
            this.db
              .prepare("UPDATE series SET state = 'failed', next_attempt_at = NULL, finished_at = ?, error = ? WHERE series_uid = ?")
              .run(now, `the node stopped ${r.attempts} times while processing it`, r.uid);
            failed.push({ seriesUid: r.uid, attempts: r.attempts });
          } else {
            this.requeue(r.uid, false);
            requeued.push(r.uid);
          }
        }
        return { requeued, failed };
      })
      .immediate();
  }

  /**
   * At start, after requeueRunning and the spool scan: every series still receiving gets a
   * grace period of one idle time from `now` (its last-received time is moved up to `now`).
   * Its sender lost the association when the node stopped and resumes once the node is back;
   * claimed at once (its last instance being older than --idle), the series would be
   * segmented half-received and the rest would follow after its SEG went out: two SEGs. The
   * latency of such a series is then measured from the start, not from its last instance.
   * Returns the series given the grace.
   */
  graceReceiving(now: number): string[] {
    return this.db
      .transaction(() => {
        const rows = this.db.prepare("SELECT series_uid AS uid FROM series WHERE state = 'receiving' AND last_received_at < ? ORDER BY series_uid").all(now) as { uid: string }[];
        this.db.prepare("UPDATE series SET last_received_at = ? WHERE state = 'receiving' AND last_received_at < ?").run(now, now);
        return rows.map((r) => r.uid);
      })
      .immediate();
  }

  /**
   * Whether a new or changed instance arrived for a running series since it was claimed: its
   * result would cover an incomplete series, so the job does not send it (finish() then puts
   * the series back to receiving).
   */
  changedSinceClaim(uid: string): boolean {
    return this.db.prepare(`SELECT 1 FROM series WHERE series_uid = ? AND state = 'running' AND ${CHANGED_SINCE_CLAIM}`).get(uid) !== undefined;
  }

  /** A run the node itself interrupted (shutdown): queued again, and the attempt not counted. */
  interrupted(uid: string): void {
    this.requeue(uid, true);
  }

  /**
   * A running series back in the queue (the node stopped it or crashed during it), its attempt
   * refunded or not. One that received instances since its claim waits as receiving instead:
   * its sender may not be done (graceReceiving gives it one more idle time at the next start).
   */
  private requeue(uid: string, refund: boolean): void {
    this.db
      .prepare(
        `UPDATE series SET state = CASE WHEN ${CHANGED_SINCE_CLAIM} THEN 'receiving' ELSE 'queued' END, next_attempt_at = NULL${refund ? ', attempts = MAX(0, attempts - 1)' : ''} WHERE series_uid = ? AND state = 'running'`,
      )
      .run(uid);
  }

  /**
   * Take the next series that is due (complete: idle since `idleBefore`; or queued again and
   * its retry time has come), oldest first, and mark it running. Null when none is due.
   */
  claim(idleBefore: number, now: number): SeriesRow | null {
    return this.db
      .transaction(() => {
        const row = this.db
          .prepare(
            `SELECT series_uid AS uid FROM series
             WHERE (state = 'receiving' AND last_received_at <= ?) OR (state = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= ?))
             ORDER BY last_received_at, series_uid LIMIT 1`,
          )
          .get(idleBefore, now) as { uid: string } | undefined;
        if (!row) return null;
        this.db.prepare("UPDATE series SET state = 'running', attempts = attempts + 1, started_at = ?, next_attempt_at = NULL, claimed_seq = received_seq WHERE series_uid = ?").run(now, row.uid);
        return this.series(row.uid);
      })
      .immediate();
  }

  /** When the next series becomes due (ms epoch), or null when none waits. */
  nextDue(idleMs: number): number | null {
    const r = this.db
      .prepare(
        `SELECT MIN(CASE WHEN state = 'receiving' THEN last_received_at + ? ELSE COALESCE(next_attempt_at, 0) END) AS at
         FROM series WHERE state IN ('receiving', 'queued')`,
      )
      .get(idleMs) as { at: number | null };
    return r.at;
  }

  series(uid: string): SeriesRow | null {
    return (this.db.prepare(`SELECT ${SERIES_COLUMNS} FROM series WHERE series_uid = ?`).get(uid) as SeriesRow | undefined) ?? null;
  }

  allSeries(): SeriesRow[] {
    return this.db.prepare(`SELECT ${SERIES_COLUMNS} FROM series ORDER BY first_received_at, series_uid`).all() as SeriesRow[];
  }

  instances(seriesUid: string): InstanceRow[] {
    return this.db.prepare('SELECT sop_uid AS sopUid, series_uid AS seriesUid, file, received_at AS receivedAt FROM instances WHERE series_uid = ? ORDER BY sop_uid').all(seriesUid) as InstanceRow[];
  }

  /**
   * Series processed (done, skipped or failed) before `before` (ms epoch), with their files,
   * for retention to delete; forget() removes their rows once the files are gone.
   */
  expired(before: number): Expired[] {
    const rows = this.db
      .prepare("SELECT series_uid AS uid, seg_sop_uid AS seg FROM series WHERE state IN ('done', 'skipped', 'failed') AND finished_at IS NOT NULL AND finished_at < ? ORDER BY finished_at")
      .all(before) as { uid: string; seg: string | null }[];
    return rows.map((r) => ({ seriesUid: r.uid, files: this.instances(r.uid).map((i) => i.file), segSopUid: r.seg }));
  }

  /** Drop a series and its instances, unless something arrived for it meanwhile (it is no longer finished). */
  forget(uid: string): boolean {
    return this.db
      .transaction(() => {
        const gone = this.db.prepare("DELETE FROM series WHERE series_uid = ? AND state IN ('done', 'skipped', 'failed')").run(uid).changes > 0;
        if (gone) this.db.prepare('DELETE FROM instances WHERE series_uid = ?').run(uid);
        return gone;
      })
      .immediate();
  }

  /**
   * End a run: 'done' (SEG sent), 'skipped' (not for this model: wrong modality or size) or
   * 'failed' (tried again after `retryAt` while attempts last, else left failed). When an
   * instance arrived during the run, the series goes back to receiving instead: the result
   * covered an incomplete series, and the complete one is processed after the next idle time.
   * Returns the state the series is left in.
   */
  finish(uid: string, outcome: { state: 'done' | 'skipped' | 'failed'; segSopUid?: string; error?: string; retryAt?: number | null }, now: number): SeriesState {
    return this.db
      .transaction(() => {
        const s = this.series(uid);
        if (!s || s.state !== 'running') return s?.state ?? 'failed';
        if (this.changedSinceClaim(uid)) {
          this.db.prepare("UPDATE series SET state = 'receiving', attempts = 0, error = NULL WHERE series_uid = ?").run(uid);
          return 'receiving';
        }
        const state: SeriesState = outcome.state === 'failed' && outcome.retryAt != null ? 'queued' : outcome.state;
        this.db
          .prepare('UPDATE series SET state = ?, finished_at = ?, latency_ms = ?, seg_sop_uid = ?, error = ?, next_attempt_at = ? WHERE series_uid = ?')
          .run(state, now, outcome.state === 'done' ? now - s.lastReceivedAt : null, outcome.segSopUid ?? null, outcome.error ?? null, state === 'queued' ? outcome.retryAt : null, uid);
        return state;
      })
      .immediate();
  }

  /** Counts per state and the latencies of processed series (ms, oldest first). */
  stats(): { byState: Record<SeriesState, number>; instances: number; latenciesMs: number[] } {
    const byState: Record<SeriesState, number> = { receiving: 0, queued: 0, running: 0, done: 0, skipped: 0, failed: 0 };
    for (const r of this.db.prepare('SELECT state, COUNT(*) AS n FROM series GROUP BY state').all() as { state: SeriesState; n: number }[]) byState[r.state] = r.n;
    const instances = (this.db.prepare('SELECT COUNT(*) AS n FROM instances').get() as { n: number }).n;
    const latenciesMs = (this.db.prepare("SELECT latency_ms AS l FROM series WHERE state = 'done' AND latency_ms IS NOT NULL ORDER BY finished_at").all() as { l: number }[]).map((r) => r.l);
    return { byState, instances, latenciesMs };
  }
}

/** How a run that threw is settled: interrupted by the node's shutdown, or a failure. */
export type RunErrorOutcome = { kind: 'interrupted' } | { kind: 'failed'; state: SeriesState; retryAt: number | null };

/**
 * Settle a run that threw. Only a run the node itself aborted (`aborted`: the drain time of a
 * shutdown ran out and the job's signal fired, so whatever it threw came from being cut off)
 * is an interruption: queued again for the next start, the attempt not counted. Anything else
 * -- also a genuine failure while the node drains running series at shutdown -- is a failure:
 * tried again after a backoff (1 min, doubling, at most 1 h) while attempts last, else left
 * failed.
 */
export function settleRunError(queue: SeriesQueue, row: Pick<SeriesRow, 'seriesUid' | 'attempts'>, message: string, o: { aborted: boolean; maxAttempts: number; now: number }): RunErrorOutcome {
  if (o.aborted) {
    queue.interrupted(row.seriesUid);
    return { kind: 'interrupted' };
  }
  const retryAt = row.attempts < o.maxAttempts ? o.now + Math.min(60_000 * 2 ** (row.attempts - 1), 3_600_000) : null;
  const state = queue.finish(row.seriesUid, { state: 'failed', error: message, retryAt }, o.now);
  return { kind: 'failed', state, retryAt };
}
