/** Append-only audit trail: who changed what, when. */
import type { AuditEntry } from '../../contract/api.js';
import type { Db } from './project-database.js';

export type AuditAction = AuditEntry['action'];

export class AuditRepository {
  private readonly insertStmt;
  private readonly listAll;
  private readonly listByImage;

  constructor(private readonly db: Db) {
    this.insertStmt = db.prepare(
      'INSERT INTO audit (at, author, action, entity, entity_id, image_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.listAll = db.prepare('SELECT id, at, author, action, entity, entity_id AS entityId, detail FROM audit ORDER BY id DESC LIMIT ?');
    this.listByImage = db.prepare(
      'SELECT id, at, author, action, entity, entity_id AS entityId, detail FROM audit WHERE image_id = ? ORDER BY id DESC LIMIT ?',
    );
  }

  record(e: { at: string; author: string; action: AuditAction; entity: string; entityId: number; imageId: number | null; detail: unknown }): void {
    this.insertStmt.run(e.at, e.author, e.action, e.entity, e.entityId, e.imageId, JSON.stringify(e.detail));
  }

  list(imageId: number | undefined, limit: number): AuditEntry[] {
    return (imageId === undefined ? this.listAll.all(limit) : this.listByImage.all(imageId, limit)) as AuditEntry[];
  }
}
