/**
 * The project's PACS outbox: one row per object and destination (see migration 4). Every
 * change of a row is mirrored, in the same transaction, to its job of kind "send".
 */
import type { OutboxItem, OutboxState } from '../../contract/pacs.js';
import { sendJobId, sendJobView } from '../dicom-export/send-job.js';
import { JobsRepository } from '../jobs/jobs.repository.js';
import type { Db } from './project-database.js';

const columns = `id, destination_id AS destinationId, destination_name AS destinationName, file, sop_instance_uid AS sopInstanceUid, description,
  state, attempts, last_error AS lastError, next_attempt_at AS nextAttemptAt, created_at AS createdAt, sent_at AS sentAt, after_id AS afterId`;

export class OutboxRepository {
  private readonly jobs: JobsRepository;

  constructor(private readonly db: Db) {
    this.jobs = new JobsRepository(db, () => new Date().toISOString());
  }

  /** Bring item `id`'s send job in line with the row (made on first sight: rows from before jobs). */
  private mirror(id: number, author = 'outbox'): void {
    const it = this.get(id);
    if (!it) return;
    const jobId = sendJobId(id);
    if (!this.jobs.get(jobId)) this.jobs.createSend({ id: jobId, itemId: id, destinationId: it.destinationId, author });
    this.jobs.update(jobId, sendJobView(it));
  }

  get(id: number): OutboxItem | undefined {
    return this.db.prepare(`SELECT ${columns} FROM outbox WHERE id = ?`).get(id) as OutboxItem | undefined;
  }

  list(limit = 200): OutboxItem[] {
    return this.db.prepare(`SELECT ${columns} FROM outbox ORDER BY id DESC LIMIT ?`).all(limit) as OutboxItem[];
  }

  /**
   * Queue `sopInstanceUid` for a destination. The same object for the same destination keeps
   * its row: queued again unless it is being sent; a sent one is sent again (the user asked).
   */
  /** Queue an object (again); `afterId`: an item it must not be sent before (the SEG a report names). */
  enqueue(i: { destinationId: string; destinationName: string; exportId: number | null; file: string; sopInstanceUid: string; description: string; now: string; author: string; afterId?: number | null }): OutboxItem {
    const { author, afterId, ...row } = i;
    return this.db.transaction(() => {
      this.db
        .prepare(
        `INSERT INTO outbox (destination_id, destination_name, export_id, file, sop_instance_uid, description, state, created_at, after_id)
         VALUES (@destinationId, @destinationName, @exportId, @file, @sopInstanceUid, @description, 'queued', @now, @afterId)
         ON CONFLICT (destination_id, sop_instance_uid) DO UPDATE SET
           state = CASE WHEN state = 'sending' THEN state ELSE 'queued' END,
           destination_name = excluded.destination_name, last_error = NULL, next_attempt_at = NULL, after_id = excluded.after_id`,
        )
        .run({ ...row, afterId: afterId ?? null });
      const it = this.db.prepare(`SELECT ${columns} FROM outbox WHERE destination_id = ? AND sop_instance_uid = ?`).get(i.destinationId, i.sopInstanceUid) as OutboxItem;
      this.mirror(it.id, author);
      return it;
    })();
  }

  /**
   * Items to send now: queued ones, and failed ones whose retry time has come; an item that
   * waits for another (a report for its SEG) only once that one is sent.
   */
  due(now: string): OutboxItem[] {
    return this.db
      .prepare(
        `SELECT ${columns} FROM outbox o WHERE (state = 'queued' OR (state = 'failed' AND next_attempt_at IS NOT NULL AND next_attempt_at <= ?))
           AND (after_id IS NULL OR EXISTS (SELECT 1 FROM outbox a WHERE a.id = o.after_id AND a.state = 'sent')) ORDER BY id`,
      )
      .all(now) as OutboxItem[];
  }

  /** Whether an unsent item waits for one of these (after_id). */
  anyWaitingOn(ids: readonly number[]): boolean {
    if (ids.length === 0) return false;
    return this.db.prepare(`SELECT 1 FROM outbox WHERE state <> 'sent' AND after_id IN (${ids.map(() => '?').join(',')}) LIMIT 1`).get(...ids) !== undefined;
  }

  /** The soonest retry time of a failed item, or null. */
  nextRetry(): string | null {
    return (this.db.prepare(`SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'failed' AND next_attempt_at IS NOT NULL`).pluck().get() as string | null) ?? null;
  }

  setState(id: number, state: OutboxState, f: { error?: string | null; nextAttemptAt?: string | null; sentAt?: string | null; attempt?: boolean } = {}): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          `UPDATE outbox SET state = ?, last_error = ?, next_attempt_at = ?, sent_at = COALESCE(?, sent_at), attempts = attempts + ? WHERE id = ?`,
        )
        .run(state, f.error ?? null, f.nextAttemptAt ?? null, f.sentAt ?? null, f.attempt ? 1 : 0, id);
      this.mirror(id);
    })();
  }

  /** After a crash or restart: what was being sent goes back to the queue (a resend is harmless: same UID). */
  requeueSending(): number {
    return this.db.transaction(() => {
      const ids = this.db.prepare(`SELECT id FROM outbox WHERE state = 'sending'`).pluck().all() as number[];
      this.db.prepare(`UPDATE outbox SET state = 'queued' WHERE state = 'sending'`).run();
      for (const id of ids) this.mirror(id);
      return ids.length;
    })();
  }

  /**
   * Take an item out of the outbox (its job's cancel): refused while it is being sent (the
   * PACS may already hold it) and once sent. Its job ends cancelled.
   */
  cancel(id: number): { cancelled: boolean; why?: string } {
    return this.db.transaction(() => {
      const it = this.get(id);
      if (!it) return { cancelled: false, why: `No outbox item ${id}` };
      if (it.state === 'sending') return { cancelled: false, why: `${it.description} is being sent to ${it.destinationName} right now; cancel it again once that attempt has ended` };
      if (it.state === 'sent') return { cancelled: false, why: `${it.description} was already sent to ${it.destinationName}` };
      // What waits for it (a report for its SEG) goes with it, unless it is on its way already.
      const waiting = (this.db.prepare(`SELECT ${columns} FROM outbox WHERE after_id = ? AND state NOT IN ('sending', 'sent')`).all(id) as OutboxItem[]);
      for (const x of [it, ...waiting]) {
        this.db.prepare('DELETE FROM outbox WHERE id = ?').run(x.id);
        const jobId = sendJobId(x.id);
        if (this.jobs.get(jobId)) this.jobs.update(jobId, { state: 'cancelled', stage: 'done', detail: `Not sent: ${x.description} was taken out of the outbox for ${it.destinationName}${x === it ? '' : ` with ${it.description}`}`, error: null });
      }
      return { cancelled: true };
    })();
  }
}
