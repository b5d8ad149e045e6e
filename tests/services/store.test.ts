/**
 * The project store through the service API: create/open, migrations and the newer-schema
 * refusal, masks and their audit trail, labels, status, and batch atomicity of imports.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { ApiError } from '../../electron/contract/api.js';
import { decodeRle, encodeRle } from '../../electron/contract/rle.js';
import { PROJECT_DB } from '../../electron/services/index.js';
import { latestSchemaVersion, migrations } from '../../electron/services/store/migrations.js';
import { migrate } from '../../electron/services/store/project-database.js';
import { discMask, newProject, newServices, removeDir, sharedCorpus } from './helpers.js';

const cleanup: string[] = [];
after(() => cleanup.forEach(removeDir));

function project() {
  const p = newProject();
  cleanup.push(path.dirname(p.dir));
  return p;
}

async function withImage() {
  const p = project();
  const { dir } = await sharedCorpus();
  const r = await p.s['images.importPaths']({ paths: [path.join(dir, 'dicom', 'mono1.dcm')] });
  return { ...p, imageId: r.imported[0]!.imageId, h: 48, w: 64 };
}

function rejectsWith(fn: () => unknown, code: string, re?: RegExp) {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ApiError, `ApiError, got ${String(e)}`);
    assert.equal(e.code, code);
    if (re) assert.match(e.message, re);
    return;
  }
  assert.fail(`expected ApiError ${code}`);
}

test('create makes the folder layout, WAL, foreign keys, default labels; open and close round trip', () => {
  const { s, dir } = project();
  assert.ok(existsSync(path.join(dir, PROJECT_DB)));
  assert.ok(existsSync(path.join(dir, 'media')));
  assert.ok(existsSync(path.join(dir, 'models')));
  assert.deepEqual(s['labels.list']({}).map((l) => [l.name, l.color]), [['lesion', '#e6194b'], ['defect', '#3cb44b']]);
  const info = s['project.current']({})!;
  assert.equal(info.name, 'Test project');
  assert.equal(info.schemaVersion, latestSchemaVersion);
  s['project.close']({});
  assert.equal(s['project.current']({}), null);
  rejectsWith(() => s['images.list']({}), 'no_project');
  const db = new Database(path.join(dir, PROJECT_DB), { readonly: true });
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  db.close();
  const reopened = s['project.open']({ path: dir });
  assert.equal(reopened.name, 'Test project');
  rejectsWith(() => s['project.create']({ path: dir }), 'conflict', /already exists/);
  rejectsWith(() => s['project.open']({ path: path.join(dir, 'nope') }), 'not_found');
  s.close();
});

test('migrations run in order to the latest version and are idempotent', () => {
  const db = new Database(':memory:');
  assert.equal(migrate(db), latestSchemaVersion);
  assert.equal(migrate(db), latestSchemaVersion);
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
  assert.deepEqual(tables, ['audit', 'exports', 'images', 'jobs', 'labels', 'masks', 'meta', 'outbox', 'segments']);
  assert.deepEqual(migrations.map((m) => m.version), migrations.map((_, i) => i + 1)); // numbered without gaps
  db.close();
});

test('a version-1 project upgrades in place: its masks keep their data and gain the retrain columns', () => {
  const db = new Database(':memory:');
  db.exec(migrations[0]!.sql);
  db.pragma('user_version = 1');
  db.prepare(`INSERT INTO images (sha256, kind, format, file_name, folder, media_path, byte_size, width, height, samples_per_pixel,
    bits_allocated, bits_stored, signed, photometric, imported_at, imported_by) VALUES ('a', 'raster', 'png', 'a.png', '', 'media/a', 1, 2, 2, 1, 8, 8, 0, 'MONOCHROME2', 't', 'u')`).run();
  db.prepare(`INSERT INTO masks (image_id, frame, label_id, instance, height, width, counts, area, source, author, created_at, updated_at)
    VALUES (1, 0, 1, 1, 2, 2, x'0004', 4, 'brush', 'u', 't', 't')`).run();
  assert.equal(migrate(db), latestSchemaVersion);
  const row = db.prepare('SELECT area, view_window, model_id FROM masks').get() as { area: number; view_window: unknown; model_id: unknown };
  assert.deepEqual(row, { area: 4, view_window: null, model_id: null });
  assert.equal(db.prepare('SELECT pinned_val FROM images').pluck().get(), 0);
  db.close();
});

test("migration 9: the node's automatic masks stored before it become drafts to review; every other mask is left as it was", () => {
  const db = new Database(':memory:');
  for (const m of migrations.filter((m) => m.version <= 8)) db.exec(m.sql);
  db.pragma('user_version = 8');
  db.prepare(`INSERT INTO images (sha256, kind, format, file_name, folder, media_path, byte_size, width, height, samples_per_pixel,
    bits_allocated, bits_stored, signed, photometric, imported_at, imported_by) VALUES ('a', 'raster', 'png', 'a.png', '', 'media/a', 1, 2, 2, 1, 8, 8, 0, 'MONOCHROME2', 't', 'u')`).run();
  const insert = db.prepare(`INSERT INTO masks (image_id, frame, label_id, instance, height, width, counts, area, source, author, draft, created_at, updated_at)
    VALUES (1, 0, 1, ?, 2, 2, x'0004', 4, ?, 'u', ?, 't', 't')`);
  insert.run(1, 'automatic', 0);
  insert.run(2, 'brush', 0);
  insert.run(3, 'propagate', 1);
  insert.run(4, 'import', 0);
  assert.equal(migrate(db), latestSchemaVersion);
  const rows = db.prepare('SELECT instance, source, draft FROM masks ORDER BY instance').all();
  assert.deepEqual(rows, [
    { instance: 1, source: 'automatic', draft: 1 },
    { instance: 2, source: 'brush', draft: 0 },
    { instance: 3, source: 'propagate', draft: 1 },
    { instance: 4, source: 'import', draft: 0 },
  ]);
  db.close();
});

test('a project written by a newer schema is refused with a clear message and left untouched', () => {
  const { s, dir } = project();
  s.close();
  const file = path.join(dir, PROJECT_DB);
  const db = new Database(file);
  db.pragma(`user_version = ${latestSchemaVersion + 1}`);
  db.close();
  const s2 = newServices();
  rejectsWith(() => s2['project.open']({ path: dir }), 'schema_too_new', new RegExp(`newer version of Delineate.*schema ${latestSchemaVersion + 1}`));
  const check = new Database(file, { readonly: true });
  assert.equal(check.pragma('user_version', { simple: true }), latestSchemaVersion + 1);
  check.close();
  assert.equal(s2['project.current']({}), null);
});

test('masks: create, update, list, all-zero deletes; audit records each; first mask marks the image in progress', async () => {
  const { s, imageId, h, w } = await withImage();
  const lesion = s['labels.list']({})[0]!;
  const key = { imageId, frame: 0, labelId: lesion.id, instance: 1 };
  const m1 = discMask(h, w, 20, 20, 6);
  const r1 = s['masks.save']({ ...key, rle: encodeRle(m1, h, w), source: 'sam', prompts: { points: [{ x: 3, y: 4, label: 1 }], box: null } });
  assert.ok(r1.id);
  assert.equal(s['images.list']({})[0]!.status, 'in_progress');
  assert.equal(s['images.list']({})[0]!.maskCount, 1);
  const m2 = discMask(h, w, 30, 25, 10);
  const r2 = s['masks.save']({ ...key, rle: encodeRle(m2, h, w), source: 'brush' });
  assert.equal(r2.id, r1.id); // same key: replaced, not added
  s['masks.save']({ ...key, instance: 2, rle: encodeRle(m1, h, w), source: 'polygon' });
  const list = s['masks.list']({ imageId });
  assert.equal(list.length, 2);
  assert.deepEqual(decodeRle(list[0]!.rle), m2);
  assert.equal(list[0]!.area, m2.reduce((a, b) => a + b, 0));
  assert.equal(list[0]!.author, 'tester');
  // all-zero mask deletes
  const r3 = s['masks.save']({ ...key, rle: encodeRle(new Uint8Array(h * w), h, w), source: 'eraser' });
  assert.equal(r3.id, null);
  assert.equal(s['masks.list']({ imageId }).length, 1);
  s['masks.delete']({ ...key, instance: 2 });
  s['masks.delete']({ ...key, instance: 2 }); // idempotent
  assert.equal(s['masks.list']({ imageId }).length, 0);
  const audit = s['audit.list']({ imageId, limit: 100 }).reverse();
  assert.deepEqual(
    audit.map((a) => `${a.action}:${a.entity}`),
    ['create:image', 'create:mask', 'update:image', 'update:mask', 'create:mask', 'delete:mask', 'delete:mask'],
  );
  assert.ok(audit.every((a) => a.author === 'tester' && !Number.isNaN(Date.parse(a.at))));
  assert.match(audit[3]!.detail, /"source":"brush"/);
  s.close();
});

test('masks: wrong size, bad runs, unknown image/label or frame are rejected', async () => {
  const { s, imageId, h, w } = await withImage();
  const base = { imageId, frame: 0, labelId: 1, instance: 1, source: 'brush' as const };
  rejectsWith(() => s['masks.save']({ ...base, rle: encodeRle(new Uint8Array(4), 2, 2) }), 'bad_request', /Mask is 2x2 but image .* is 64x48/);
  rejectsWith(() => s['masks.save']({ ...base, rle: { size: [h, w], counts: [5, 5] } }), 'bad_request', /sum to 10/);
  rejectsWith(() => s['masks.save']({ ...base, imageId: 999, rle: encodeRle(new Uint8Array(h * w), h, w) }), 'not_found');
  rejectsWith(() => s['masks.save']({ ...base, labelId: 99, rle: encodeRle(discMask(h, w, 5, 5, 2), h, w) }), 'not_found', /label/);
  rejectsWith(() => s['masks.save']({ ...base, frame: 1, rle: encodeRle(discMask(h, w, 5, 5, 2), h, w) }), 'bad_request', /frame 1/);
  assert.equal(s['masks.list']({ imageId }).length, 0);
  s.close();
});

test('labels: add, rename, refuse duplicates and deleting a label in use', async () => {
  const { s, imageId, h, w } = await withImage();
  const crack = s['labels.upsert']({ name: 'crack', color: '#ffe119' });
  rejectsWith(() => s['labels.upsert']({ name: 'crack', color: '#000000' }), 'conflict');
  s['labels.upsert']({ id: crack.id, name: 'hairline crack', color: '#ffe119' });
  s['masks.save']({ imageId, frame: 0, labelId: crack.id, instance: 1, rle: encodeRle(discMask(h, w, 5, 5, 3), h, w), source: 'brush' });
  rejectsWith(() => s['labels.delete']({ id: crack.id }), 'conflict', /used by 1 mask/);
  s['masks.delete']({ imageId, frame: 0, labelId: crack.id, instance: 1 });
  s['labels.delete']({ id: crack.id });
  assert.deepEqual(s['labels.list']({}).map((l) => l.name), ['lesion', 'defect']);
  const entries = s['audit.list']({ limit: 100 }).filter((a) => a.entity === 'label').map((a) => a.action);
  assert.deepEqual(entries.reverse(), ['create', 'update', 'delete']);
  s['images.setStatus']({ imageId, status: 'done' });
  assert.equal(s['images.list']({})[0]!.status, 'done');
  s.close();
});

test('a file the database refuses fails alone: the rest of its batch is kept, its media file is removed', async () => {
  const { s, dir } = project();
  const { dir: corpus } = await sharedCorpus();
  // A real SQLite failure inside the batch transaction: a trigger that aborts on one file.
  const db = new Database(path.join(dir, PROJECT_DB));
  db.exec("CREATE TRIGGER boom BEFORE INSERT ON images WHEN NEW.file_name = 'ct_05.dcm' BEGIN SELECT RAISE(ABORT, 'disk on fire'); END");
  db.close();
  const first = await s['images.importPaths']({ paths: [path.join(corpus, 'dicom')] }); // 5 files, no trigger hit
  assert.equal(first.imported.length, 5);
  const r = await s['images.importPaths']({ paths: [path.join(corpus, 'ct')] }); // 20 files in one batch
  assert.equal(r.imported.length, 19);
  assert.equal(r.failed.length, 1);
  const [failed] = r.failed;
  assert.equal(path.basename(failed!.file), 'ct_05.dcm');
  assert.equal(failed!.code, 'write_failed');
  assert.match(failed!.reason, /could not be stored/);
  assert.match(failed!.detail ?? '', /disk on fire/);
  const images = s['images.list']({});
  assert.equal(images.length, 24);
  assert.ok(!images.some((i) => i.fileName === 'ct_05.dcm'));
  // exactly one media file per stored image: the refused file's copy was removed
  assert.equal(readdirSync(path.join(dir, 'media')).length, 24);
  assert.equal(s['audit.list']({ limit: 1000 }).filter((a) => a.entity === 'image').length, 24);
  // the series order is rebuilt over the 19 slices that were stored
  const ct = images.filter((i) => i.fileName.startsWith('ct_')).map((i) => i.seriesIndex).sort((a, b) => a - b);
  assert.deepEqual(ct, Array.from({ length: 19 }, (_, k) => k));
  s.close();
});

test('two imports of the same content at the same time: one import, the other a duplicate, nothing fails', async () => {
  const { s } = project();
  const { dir: corpus } = await sharedCorpus();
  const ctDir = path.join(corpus, 'ct');
  const [a, b] = await Promise.all([s['images.importPaths']({ paths: [ctDir] }), s['images.importPaths']({ paths: [ctDir] })]);
  assert.equal(a.failed.length + b.failed.length, 0);
  assert.equal(a.imported.length + b.imported.length, 20);
  assert.equal(a.duplicates.length + b.duplicates.length, 20);
  assert.equal(s['images.list']({}).length, 20);
  s.close();
});

test('malformed service input is refused by the contract before it reaches the store', async () => {
  const { parseRequest } = await import('../../electron/contract/api.js');
  assert.throws(() => parseRequest('masks.save', { imageId: 1, frame: 0, labelId: 1, instance: 0, rle: { size: [1, 1], counts: [1] }, source: 'brush' }), /instance/);
  assert.throws(() => parseRequest('images.importPaths', { paths: [] }), /paths/);
  assert.throws(() => parseRequest('project.open', { path: '/x', extra: 1 }), /Unrecognized key/);
});

test('images.list rows (read as columns) equal the summary fields of image.get, field by field, for DICOM and raster images', async () => {
  const p = project();
  const { dir } = await sharedCorpus();
  await p.s['images.importPaths']({ paths: [dir] });
  const list = p.s['images.list']({});
  assert.ok(list.some((r) => r.kind === 'dicom') && list.some((r) => r.kind === 'raster'), 'the corpus holds both kinds');
  const lesion = p.s['labels.list']({})[0]!;
  const marked = list.find((r) => r.kind === 'dicom')!;
  p.s['masks.save']({ imageId: marked.id, frame: 0, labelId: lesion.id, instance: 1, rle: encodeRle(discMask(marked.height, marked.width, 10, 10, 4), marked.height, marked.width), source: 'brush' });
  p.s['images.setStatus']({ imageId: marked.id, status: 'done' });
  for (const row of p.s['images.list']({})) {
    const d = p.s['image.get']({ imageId: row.id });
    const summary = Object.fromEntries(Object.keys(row).map((k) => [k, d[k as keyof typeof d]]));
    assert.deepEqual(row, summary, `image ${row.id} (${row.fileName})`);
  }
  const again = p.s['images.list']({}).find((r) => r.id === marked.id)!;
  assert.equal(again.maskCount, 1);
  assert.equal(again.status, 'done');
});
