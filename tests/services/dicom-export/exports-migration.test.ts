/**
 * Migration 5 rebuilds the exports table so it also records RTSTRUCT and COCO exports: a
 * version-4 project with a SEG export and an outbox row that refers to it upgrades with both
 * rows and their ids kept, the foreign key still enforced, the index back, and 'rtstruct' /
 * 'coco' accepted while an unknown kind is still refused.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { migrations } from '../../../electron/services/store/migrations.js';
import { migrate } from '../../../electron/services/store/project-database.js';

const row = (kind: string, sop: string) =>
  `INSERT INTO exports (kind, source_series_uid, file, sop_instance_uid, series_instance_uid, version, masks_hash, masks, models, frames, segments, author, created_at)
   VALUES ('${kind}', 's', 'f', '${sop}', '1.3', 1, 'h', '[]', '[]', 1, 1, 'u', 't')`;

test('a version-4 project keeps its exports and outbox through the exports rebuild', () => {
  const db = new Database(':memory:');
  db.pragma('foreign_keys = ON');
  for (const m of migrations.filter((m) => m.version <= 4)) db.exec(m.sql);
  db.pragma('user_version = 4');
  db.prepare(row('seg', '1.2.7')).run();
  db.prepare(row('seg', '1.2.8')).run();
  db.prepare('DELETE FROM exports WHERE id = 1').run(); // ids are kept, gaps included
  db.prepare(`INSERT INTO outbox (destination_id, destination_name, export_id, file, sop_instance_uid, description, state, created_at)
    VALUES ('d', 'D', 2, 'f', '1.2.8', 'SEG v1', 'queued', 't')`).run();

  assert.ok(migrate(db) >= 5);
  assert.equal(db.pragma('foreign_keys', { simple: true }), 1, 'foreign keys are on again');
  assert.deepEqual(db.prepare('SELECT id, kind, sop_instance_uid AS sop FROM exports').all(), [{ id: 2, kind: 'seg', sop: '1.2.8' }]);
  assert.equal(db.prepare('SELECT export_id FROM outbox').pluck().get(), 2);
  assert.match(String(db.prepare("SELECT sql FROM sqlite_master WHERE name = 'outbox'").pluck().get()), /REFERENCES exports \(id\)/);
  assert.deepEqual(db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'exports' AND sql IS NOT NULL").pluck().all(), ['exports_series']);
  db.prepare(row('rtstruct', '1.2.9')).run();
  db.prepare(row('coco', '2.25.1')).run();
  assert.throws(() => db.prepare(row('nifti', '1.2.10')).run(), /CHECK constraint failed/);
  assert.throws(() => db.prepare('DELETE FROM exports WHERE id = 2').run(), /FOREIGN KEY constraint failed/, 'the outbox still refers to exports');
  assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
  db.close();
});
