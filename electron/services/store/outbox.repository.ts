/**
 * The project's PACS outbox: one row per object and destination (see migration 4). Every
 * change of a row is mirrored, in the same transaction, to its job of kind "send".
 */
import type { OutboxItem, OutboxState } from '../../contract/pacs.js';
import { sendJobId, sendJobView } from '../dicom-export/send-job.js';
import { JobsRepository } from '../jobs/jobs.repository.js';
import type { Db } from './project-database.js';

const columns = `id, destination_id AS destinationId, destination_name AS destinationName, file, sop_instance_uid AS sopInstanceUid, description,
  state, attempts, last_error AS lastError, next_attempt_at AS nextAttemptAt, created_at AS createdAt, sent_at AS sentAt`;

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
  enqueue(i: { destinationId: string; destinationName: string; exportId: number | null; file: string; sopInstanceUid: string; description: string; now: string; author: string }): OutboxItem {
    const { author, ...row } = i;
    return this.db.transaction(() => {
      this.db
        .prepare(
        `INSERT INTO outbox (destination_id, destination_name, export_id, file, sop_instance_uid, description, state, created_at)
         VALUES (@destinationId, @destinationName, @exportId, @file, @sopInstanceUid, @description, 'queued', @now)
         ON CONFLICT (destination_id, sop_instance_uid) DO UPDATE SET
           state = CASE WHEN state = 'sending' THEN state ELSE 'queued' END,
           destination_name = excluded.destination_name, last_error = NULL, next_attempt_at = NULL`,
        )
        .run(row);
      const it = this.db.prepare(`SELECT ${columns} FROM outbox WHERE destination_id = ? AND sop_instance_uid = ?`).get(i.destinationId, i.sopInstanceUid) as OutboxItem;
      this.mirror(it.id, author);
      return it;
    })();
  }

  /** Items to send now: queued ones, and failed ones whose retry time has come. */
  due(now: string): OutboxItem[] {
    return this.db
      .prepare(`SELECT ${columns} FROM outbox WHERE state = 'queued' OR (state = 'failed' AND next_attempt_at IS NOT NULL AND next_attempt_at <= ?) ORDER BY id`)
      .all(now) as OutboxItem[];
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
      this.db.prepare('DELETE FROM outbox WHERE id = ?').run(id);
      const jobId = sendJobId(id);
      if (this.jobs.get(jobId)) this.jobs.update(jobId, { state: 'cancelled', stage: 'done', detail: `Not sent: ${it.description} was taken out of the outbox for ${it.destinationName}`, error: null });
      return { cancelled: true };
    })();
  }
}
