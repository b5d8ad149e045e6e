/** The project's PACS outbox: one row per object and destination (see migration 4). */
import type { OutboxItem, OutboxState } from '../../contract/pacs.js';
import type { Db } from './project-database.js';

const columns = `id, destination_id AS destinationId, destination_name AS destinationName, file, sop_instance_uid AS sopInstanceUid, description,
  state, attempts, last_error AS lastError, next_attempt_at AS nextAttemptAt, created_at AS createdAt, sent_at AS sentAt`;

export class OutboxRepository {
  constructor(private readonly db: Db) {}

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
  enqueue(i: { destinationId: string; destinationName: string; exportId: number | null; file: string; sopInstanceUid: string; description: string; now: string }): OutboxItem {
    this.db
      .prepare(
        `INSERT INTO outbox (destination_id, destination_name, export_id, file, sop_instance_uid, description, state, created_at)
         VALUES (@destinationId, @destinationName, @exportId, @file, @sopInstanceUid, @description, 'queued', @now)
         ON CONFLICT (destination_id, sop_instance_uid) DO UPDATE SET
           state = CASE WHEN state = 'sending' THEN state ELSE 'queued' END,
           destination_name = excluded.destination_name, last_error = NULL, next_attempt_at = NULL`,
      )
      .run(i);
    return this.db.prepare(`SELECT ${columns} FROM outbox WHERE destination_id = ? AND sop_instance_uid = ?`).get(i.destinationId, i.sopInstanceUid) as OutboxItem;
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
    this.db
      .prepare(
        `UPDATE outbox SET state = ?, last_error = ?, next_attempt_at = ?, sent_at = COALESCE(?, sent_at), attempts = attempts + ? WHERE id = ?`,
      )
      .run(state, f.error ?? null, f.nextAttemptAt ?? null, f.sentAt ?? null, f.attempt ? 1 : 0, id);
  }

  /** After a crash or restart: what was being sent goes back to the queue (a resend is harmless: same UID). */
  requeueSending(): number {
    return this.db.prepare(`UPDATE outbox SET state = 'queued' WHERE state = 'sending'`).run().changes;
  }
}
