/**
 * The header backfill (migration 7's fields read again from the files of rows imported
 * before it): on a real project whose rows were set back to header_fields 6 with the fields
 * emptied, opening the project restores every value the import had stored, without the open
 * waiting for it; a file that cannot be read (damaged, missing) is marked read with the fields
 * empty and logged once, never tried again.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { backfillHeaders } from '../../electron/services/importer/header-backfill.node.js';
import type { Db } from '../../electron/services/store/project-database.js';
import { newProject, removeDir, sharedCorpus } from '../services/helpers.js';

const cleanup: string[] = [];
after(() => cleanup.forEach(removeDir));

const FIELDS = ['imagePosition', 'imageOrientation', 'sliceThickness', 'accessionNumber', 'studyDate'] as const;

/** Every image's migration 7 fields as image.get reports them, by id. */
function fieldsOf(p: ReturnType<typeof newProject>): Map<number, Record<string, unknown>> {
  const out = new Map<number, Record<string, unknown>>();
  for (const img of p.s['images.list']({})) {
    const d = p.s['image.get']({ imageId: img.id });
    out.set(img.id, Object.fromEntries(FIELDS.map((f) => [f, d[f]])));
  }
  return out;
}

/** Back to how a project written before migration 7 looks: fields empty, header_fields 6. */
function setBack(db: Db): void {
  db.prepare('UPDATE images SET header_fields = 6, image_position = NULL, image_orientation = NULL, slice_thickness = NULL, accession_number = NULL, study_date = NULL').run();
}

const stale = (db: Db) => db.prepare('SELECT count(*) FROM images WHERE header_fields < 7').pluck().get() as number;

/** A project with the corpus' DICOM files and a raster image, its fields as imported, one damaged and one missing media file. */
async function projectWithOldRows() {
  const p = newProject();
  cleanup.push(path.dirname(p.dir));
  const { dir } = await sharedCorpus();
  const r = await p.s['images.importPaths']({ paths: [path.join(dir, 'ct'), path.join(dir, 'dicom'), path.join(dir, 'raster', 'grey8.png')] });
  assert.ok(r.imported.length >= 5, `imported ${r.imported.length}`);
  const original = fieldsOf(p);
  const ct = p.s['images.list']({}).filter((i) => i.modality === 'CT');
  assert.ok(ct.length >= 3, 'the corpus has a CT series');
  assert.ok(original.get(ct[0]!.id)!.accessionNumber === 'ACC001' && original.get(ct[0]!.id)!.studyDate === '20260101', 'the import stored the fields');
  const { db } = p.s.openProject()!;
  const media = (id: number) => path.join(p.dir, db.prepare('SELECT media_path FROM images WHERE id = ?').pluck().get(id) as string);
  const damaged = ct[0]!;
  const missing = ct[1]!;
  writeFileSync(media(damaged.id), Buffer.alloc(300, 7)); // no DICM marker: not readable as DICOM
  rmSync(media(missing.id));
  setBack(db);
  return { p, original, damaged, missing };
}

test('opening the project reads the fields back from the files, in the background; unreadable files are marked and logged', async () => {
  const { p, original, damaged, missing } = await projectWithOldRows();
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...a: unknown[]) => void warnings.push(a.join(' '));
  try {
    p.s['project.close']({});
    const total = original.size;
    p.s['project.open']({ path: p.dir });
    const { db } = p.s.openProject()!;
    // The open returned before a single file was read again.
    assert.equal(stale(db), total, 'nothing was read while the project opened');
    const t0 = Date.now();
    while (stale(db) > 0) {
      assert.ok(Date.now() - t0 < 30_000, `backfill not done within 30 s (${stale(db)} rows left)`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const now = fieldsOf(p);
    for (const [id, want] of original) {
      if (id === damaged.id || id === missing.id) {
        assert.deepEqual(now.get(id), Object.fromEntries(FIELDS.map((f) => [f, null])), `image ${id}: unreadable, fields empty`);
      } else {
        assert.deepEqual(now.get(id), want, `image ${id}: restored from its file`);
      }
    }
    const restoredCt = [...now.values()].filter((f) => f.accessionNumber === 'ACC001');
    assert.ok(restoredCt.length >= 3, 'the readable CT slices have their accession number back');
    assert.ok(warnings.some((w) => w.includes(damaged.fileName)) && warnings.some((w) => w.includes(missing.fileName) && /ENOENT/.test(w)), `both logged: ${warnings.join(' | ')}`);
    // The listing (what the browser filters on) carries them too.
    const listed = p.s['images.list']({}).find((i) => i.modality === 'CT' && i.id !== damaged.id && i.id !== missing.id)!;
    assert.equal(listed.accessionNumber, 'ACC001');
    assert.equal(listed.studyDate, '20260101');
    assert.equal(listed.sliceThickness, 2.5);

    // Opened again: nothing left to read, nothing logged again.
    warnings.length = 0;
    p.s['project.close']({});
    p.s['project.open']({ path: p.dir });
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(warnings, [], 'an unreadable file is not tried again');
  } finally {
    console.warn = warn;
    p.s['project.close']({});
  }
});

test('backfillHeaders: counts, one log line per unreadable file, batches, stops when asked', async () => {
  const { p, original, damaged, missing } = await projectWithOldRows();
  const { dir, db } = p.s.openProject()!;
  // The project was open when its rows were set back, so no backfill runs on them but these.
  const dicomRows = db.prepare("SELECT count(*) FROM images WHERE kind = 'dicom'").pluck().get() as number;

  // Stopped before it starts: nothing is read or marked.
  const stop = new AbortController();
  stop.abort();
  assert.deepEqual(await backfillHeaders(dir, db, { signal: stop.signal }), { read: 0, failed: 0, stopped: true });
  assert.equal(stale(db), original.size);

  const log: string[] = [];
  const r = await backfillHeaders(dir, db, { batchSize: 2, log: (m) => log.push(m) });
  assert.deepEqual(r, { read: dicomRows - 2, failed: 2, stopped: false });
  assert.equal(stale(db), 0, 'every row marked read, the raster one included');
  assert.equal(log.length, 2);
  assert.ok(log.some((l) => l.includes(`image ${damaged.id} (${damaged.fileName})`) && /DICM/.test(l)), log.join(' | '));
  assert.ok(log.some((l) => l.includes(`image ${missing.id} (${missing.fileName})`)), log.join(' | '));
  assert.deepEqual(await backfillHeaders(dir, db, { log: (m) => log.push(m) }), { read: 0, failed: 0, stopped: false }, 'a second run finds nothing to do');
  assert.equal(log.length, 2);
  p.s['project.close']({});
});
