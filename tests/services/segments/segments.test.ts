/**
 * The segments service on a real project (SQLite, imported DICOM series and a PNG), through
 * the composition root's routing: list, update, the lock refused by masks.save/masks.delete,
 * delete with audit rows, restore byte for byte, and the refusals with their sentences.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { ApiError, methods, type MaskRecord } from '../../../electron/contract/api.js';
import { encodeRle } from '../../../electron/contract/rle.js';
import { createServices, type Services } from '../../../electron/services/index.js';
import { defaultInstanceColor } from '../../../electron/services/segments/segment-summary.js';
import { MasksRepository } from '../../../electron/services/store/masks.repository.js';
import type { Db } from '../../../electron/services/store/project-database.js';
import { phantomSeries, PHANTOM } from '../../fixtures/lesion-phantom.js';
import { discMask, removeDir, tempDir } from '../helpers.js';

const N = PHANTOM.size;
let s: Services;
let root: string;
let db: Db;
/** The series' image ids in slice order, and the PNG's id. */
let series: number[] = [];
let png = 0;
let seriesUid = '';
let lesion = 0;

const disc = (cx: number, cy: number, r: number) => encodeRle(discMask(N, N, cx, cy, r), N, N);
const area = (cx: number, cy: number, r: number) => discMask(N, N, cx, cy, r).reduce((a, v) => a + v, 0);

/** `f` fails (synchronously or not) with an ApiError of `code` whose sentence matches. */
async function rejects(f: () => unknown, code: string, sentence: RegExp): Promise<void> {
  await assert.rejects(async () => f(), (e: unknown) => {
    assert.ok(e instanceof ApiError, `an ApiError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.match(e.message, sentence);
    return true;
  });
}

/** Every mask row of (label, instance) in full, as stored. */
function rawMasks(labelId: number, instance: number): unknown[] {
  return db.prepare('SELECT * FROM masks WHERE label_id = ? AND instance = ? ORDER BY id').all(labelId, instance);
}

before(async () => {
  root = tempDir('segments');
  const inDir = path.join(root, 'in');
  mkdirSync(inDir);
  for (const sl of phantomSeries(1, 4, 5)) writeFileSync(path.join(inDir, sl.fileName), sl.dicom);
  await sharp(Buffer.alloc(N * N, 90), { raw: { width: N, height: N, channels: 1 } }).png().toFile(path.join(inDir, 'photo.png'));
  s = createServices({ user: 'tester', transport: 'browser', version: 'test', configDir: path.join(root, 'config') });
  await s['project.create']({ path: path.join(root, 'project') });
  const report = await s['images.importPaths']({ paths: [inDir] });
  assert.equal(report.failed.length, 0);
  const images = await s['images.list']({});
  const dicom = images.filter((i) => i.kind === 'dicom').sort((a, b) => a.seriesIndex - b.seriesIndex);
  series = dicom.map((i) => i.id);
  seriesUid = dicom[0]!.seriesUid!;
  png = images.find((i) => i.kind === 'raster')!.id;
  lesion = (await s['labels.list']({})).find((l) => l.name === 'lesion')!.id;
  // The services' own connection is not exposed through Handlers: a second connection (WAL) sees the same rows.
  db = new Database(path.join(root, 'project', 'project.sqlite'));
});

after(async () => {
  db?.close();
  await s?.close();
  removeDir(root);
});

test('an empty series lists no segments; the series key is its UID, a PNG is its own stack', async () => {
  const l = await s['segments.list']({ imageId: series[2]! });
  methods['segments.list'].result.parse(l);
  assert.deepEqual(l, { seriesKey: seriesUid, sliceCount: 4, segments: [] });
  const p = await s['segments.list']({ imageId: png });
  assert.equal(p.seriesKey, `image:${png}`);
  assert.equal(p.sliceCount, 1);
  await rejects(() => s['segments.list']({ imageId: 9999 }), 'not_found', /No image with id 9999/);
});

test('segments of a series: one per (label, instance) with colour, origin, slices, largest slice and drafts', async () => {
  const save = (imageId: number, instance: number, rle = disc(40, 40, 8), source: 'brush' | 'sam' = 'brush') =>
    s['masks.save']({ imageId, frame: 0, labelId: lesion, instance, rle, source });
  await save(series[0]!, 1, disc(40, 40, 6));
  await save(series[1]!, 1, disc(40, 40, 10));
  await save(series[2]!, 1, disc(40, 40, 8), 'sam');
  await save(series[1]!, 2, disc(90, 80, 12), 'sam');
  await save(png, 1, disc(60, 60, 5));
  // A propagation proposal (written as the propagation service does, through the repository).
  new MasksRepository(db).insert(
    { imageId: series[3]!, frame: 0, labelId: lesion, instance: 2 },
    { height: N, width: N, counts: disc(90, 80, 20).counts, area: area(90, 80, 20), prompts: null, source: 'propagate', window: null, modelId: null, author: 'tester', at: new Date().toISOString(), draft: true },
  );

  const l = await s['segments.list']({ imageId: series[3]! });
  methods['segments.list'].result.parse(l);
  assert.equal(l.segments.length, 2, 'the PNG\'s mask is not in the series');
  const [one, two] = l.segments;
  assert.equal(one!.name, 'lesion 1');
  assert.equal(one!.color, '#e6194b');
  assert.equal(one!.origin, 'mixed', 'brush and SAM slices');
  assert.deepEqual(one!.slices.map((x) => x.imageId), [series[0], series[1], series[2]]);
  assert.deepEqual(one!.largest, { imageId: series[1], frame: 0, area: area(40, 40, 10) });
  assert.equal(one!.draftCount, 0);
  assert.equal(two!.name, 'lesion 2');
  assert.equal(two!.color, defaultInstanceColor('#e6194b', 2));
  assert.notEqual(two!.color, one!.color);
  assert.equal(two!.origin, 'sam', 'the draft does not make it mixed');
  assert.equal(two!.draftCount, 1);
  assert.deepEqual(two!.slices.map((x) => [x.imageId, x.draft]), [[series[1], false], [series[3], true]]);
  assert.deepEqual(two!.largest, { imageId: series[1], frame: 0, area: area(90, 80, 12) }, 'the larger draft is not the largest slice');
  // Any slice of the series names the same list.
  assert.deepEqual(await s['segments.list']({ imageId: series[0]! }), l);
});

test('update: rename, recolour, hide; null goes back to the default; audited', async () => {
  const key = { imageId: series[0]!, labelId: lesion, instance: 2 };
  let seg = await s['segments.update']({ ...key, name: 'Liver met segment VII', color: '#00AA55', hidden: true });
  methods['segments.update'].result.parse(seg);
  assert.deepEqual([seg.name, seg.named, seg.color, seg.colored, seg.hidden, seg.locked], ['Liver met segment VII', true, '#00aa55', true, true, false]);
  seg = await s['segments.update']({ ...key, hidden: false });
  assert.deepEqual([seg.name, seg.color, seg.hidden], ['Liver met segment VII', '#00aa55', false], 'fields left out stay');
  seg = await s['segments.update']({ ...key, color: null });
  assert.equal(seg.color, defaultInstanceColor('#e6194b', 2));
  const audit = await s['audit.list']({ imageId: series[0]!, limit: 10 });
  const rows = audit.filter((a) => a.entity === 'segment');
  assert.equal(rows.length, 3);
  assert.deepEqual(rows.map((r) => r.action), ['update', 'update', 'create']);
  assert.match(rows[0]!.detail, /"color":null/);
  await rejects(() => s['segments.update']({ ...key, labelId: 999 }), 'not_found', /No label with id 999/);
  // The contract refuses a bad colour or an empty name at the receiver.
  assert.equal(methods['segments.update'].params.safeParse({ ...key, color: 'red' }).success, false);
  assert.equal(methods['segments.update'].params.safeParse({ ...key, name: '  ' }).success, false);
});

test('a locked segment refuses paint, erase, mask delete and segment delete; others are untouched; unlock lets it change', async () => {
  const key = { imageId: series[1]!, labelId: lesion, instance: 2 };
  const seg = await s['segments.update']({ ...key, locked: true });
  assert.equal(seg.locked, true);
  const before = rawMasks(lesion, 2);
  const paint = () => s['masks.save']({ ...key, frame: 0, rle: disc(90, 80, 30), source: 'brush' });
  await rejects(paint, 'conflict', /"Liver met segment VII" is locked: unlock it in the segment list/);
  await rejects(() => s['masks.save']({ ...key, frame: 0, rle: encodeRle(new Uint8Array(N * N), N, N), source: 'eraser' }), 'conflict', /is locked/);
  await rejects(() => s['masks.save']({ ...key, frame: 0, rle: disc(10, 10, 3), source: 'sam' }), 'conflict', /is locked/);
  // On another slice of the series as well: the lock is the segment's, not one mask's.
  await rejects(() => s['masks.save']({ ...key, imageId: series[0]!, frame: 0, rle: disc(10, 10, 3), source: 'brush' }), 'conflict', /is locked/);
  await rejects(() => s['masks.delete']({ ...key, frame: 0 }), 'conflict', /is locked/);
  await rejects(() => s['segments.delete'](key), 'conflict', /"Liver met segment VII" is locked: unlock it in the segment list before deleting it/);
  assert.deepEqual(rawMasks(lesion, 2), before, 'nothing changed');
  // Instance 1 of the same label, on the same slice, is not locked.
  await s['masks.save']({ ...key, instance: 1, frame: 0, rle: disc(40, 40, 11), source: 'brush' });
  // The same label and instance in another stack (the PNG) is another segment.
  await s['masks.save']({ imageId: png, frame: 0, labelId: lesion, instance: 2, rle: disc(20, 20, 4), source: 'brush' });
  await s['segments.update']({ ...key, locked: false });
  await s['masks.save']({ ...key, frame: 0, rle: disc(90, 80, 13), source: 'sam' });
  assert.equal((await s['masks.list']({ imageId: series[1]! })).find((m) => m.instance === 2)!.area, area(90, 80, 13));
});

test('delete takes every mask of the segment (drafts too) with audit rows; restore puts back the same rows and settings, once', async () => {
  const key = { imageId: series[2]!, labelId: lesion, instance: 2 };
  await s['segments.update']({ ...key, name: 'To delete', color: '#123456', hidden: true });
  const before = rawMasks(lesion, 2).filter((r) => (r as MaskRecord & { image_id: number }).image_id !== png);
  const settingsBefore = db.prepare('SELECT * FROM segments WHERE series_key = ? AND instance = 2').get(seriesUid);
  assert.equal(before.length, 2, 'one accepted, one draft');
  const auditBefore = (await s['audit.list']({ limit: 10_000 })).length;

  const del = await s['segments.delete'](key);
  methods['segments.delete'].result.parse(del);
  assert.equal(del.masks, 2);
  const list = await s['segments.list']({ imageId: series[0]! });
  assert.deepEqual(list.segments.map((x) => x.instance), [1], 'segment 2 is gone from the list');
  assert.equal(rawMasks(lesion, 2).length, 1, 'only the PNG\'s instance 2 is left');
  assert.equal(db.prepare('SELECT count(*) FROM segments WHERE series_key = ? AND instance = 2').pluck().get(seriesUid), 0);
  const audit = await s['audit.list']({ limit: 10_000 });
  assert.equal(audit.length, auditBefore + 3, 'two mask rows and one segment row');
  assert.equal(audit[0]!.id, del.token);
  assert.equal(audit[0]!.entity, 'segment');
  assert.equal(audit[0]!.action, 'delete');
  assert.deepEqual(audit.slice(1, 3).map((a) => [a.entity, a.action]), [['mask', 'delete'], ['mask', 'delete']]);

  const restored = await s['segments.restore']({ token: del.token });
  methods['segments.restore'].result.parse(restored);
  assert.deepEqual([restored.name, restored.color, restored.hidden, restored.draftCount], ['To delete', '#123456', true, 1]);
  assert.deepEqual(rawMasks(lesion, 2).filter((r) => (r as { image_id: number }).image_id !== png), before, 'same ids, RLE bytes, sources, drafts, authors and times');
  const settingsAfter = db.prepare('SELECT * FROM segments WHERE series_key = ? AND instance = 2').get(seriesUid) as Record<string, unknown>;
  assert.deepEqual({ ...settingsAfter, updated_at: null }, { ...(settingsBefore as Record<string, unknown>), updated_at: null });
  await rejects(() => s['segments.restore']({ token: del.token }), 'conflict', /"To delete" was restored already/);
});

test('restore refuses when the number was used again, an unknown token, or a token that is not a deletion; nothing to delete is not_found', async () => {
  const key = { imageId: series[0]!, labelId: lesion, instance: 1 };
  const del = await s['segments.delete'](key);
  assert.equal(del.masks, 3);
  await s['masks.save']({ ...key, frame: 0, rle: disc(30, 30, 5), source: 'sam' });
  const now = rawMasks(lesion, 1);
  await rejects(() => s['segments.restore']({ token: del.token }), 'conflict', /"lesion 1" cannot be restored: its label and number were used again/);
  assert.deepEqual(rawMasks(lesion, 1), now, 'the refused restore changed nothing');
  await rejects(() => s['segments.restore']({ token: 987654 }), 'not_found', /No deleted segment to restore under token 987654/);
  const maskAudit = (await s['audit.list']({ limit: 50 })).find((a) => a.entity === 'mask')!;
  await rejects(() => s['segments.restore']({ token: maskAudit.id }), 'not_found', /No deleted segment/);
  await rejects(() => s['segments.delete']({ ...key, instance: 42 }), 'not_found', /There is no "lesion 42" in this series to delete/);
});
