/**
 * Measurements per segment through createServices, as the app calls them, on synthetic CT
 * series written here (tests/fixtures/dicom-writer.ts) with ellipsoid lesions of known size,
 * their masks saved as the exact ellipsoid cross-sections (pixel centres inside):
 *
 * - volume within 5 % of 4/3·π·a·b·c, the long axis within one pixel spacing of the lesion's
 *   diameter on the largest slice, HU mean/SD/min/max equal to those of the voxels;
 * - a series with a missing slice and one with uneven spacing measured over the actual
 *   positions (and said), where counting slices times the spacing would be off by more;
 * - an image without Pixel Spacing measured in pixels; draft masks left out;
 * - the series CSV parses back to the same figures, and its second table to each slice's area;
 * - the DICOM SR passes dciodvfy with no error and reads back (plain pydicom) with the same
 *   volumes and diameters, referencing the series' SEG (SOP instance and segment number) and
 *   the source images; unchanged masks reuse it; a series without spacing is refused.
 * - migration 8 keeps the exports and the outbox and accepts kind 'sr'.
 * - the SR's figures are those of the SEG it refers to, even when a mask is edited between them.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { ApiError } from '../../../electron/contract/api.js';
import { CSV_COLUMNS, SLICE_CSV_COLUMNS } from '../../../electron/contract/measurement-text.js';
import type { SegmentMeasurement } from '../../../electron/contract/measurements.js';
import { encodeRle } from '../../../electron/contract/rle.js';
import { exportDepsFor } from '../../../electron/services/dicom-export/export-writer.node.js';
import { dicomLock } from '../../../electron/services/dicom-export/export.service.js';
import { exportSr } from '../../../electron/services/dicom-export/sr-export.node.js';
import { createServices, type Services } from '../../../electron/services/index.js';
import { findPython, runtimeEnv } from '../../../electron/services/runtime/python-path.node.js';
import { migrations } from '../../../electron/services/store/migrations.js';
import { migrate } from '../../../electron/services/store/project-database.js';
import { ctSeries, INTERCEPT, LESION_A, LESION_B, N, PS, range, ROOT, trueVolumeMl, type Ellipsoid, type Series } from '../../fixtures/ellipsoid-series.js';
import { jobEnded } from '../helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
let s: Services;
let dir: string;
let python: string;
let lesionLabel: number;
const ids: Record<string, number[]> = {};
const data: Record<string, Series> = {};

/** Save each lesion's truth masks as instance 1, 2, ... of the lesion label; returns nothing. */
async function saveTruth(key: string): Promise<void> {
  const d = data[key]!;
  for (let k = 0; k < d.z.length; k++) {
    for (let n = 0; n < d.truth[k]!.length; n++) {
      const m = d.truth[k]![n]!;
      if (!m.some((v) => v)) continue;
      await s['masks.save']({ imageId: ids[key]![k]!, frame: 0, labelId: lesionLabel, instance: n + 1, rle: encodeRle(m, N, N), source: 'brush' });
    }
  }
}

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'measurements-'));
  python = await findPython({ lock: dicomLock() });
  s = createServices({ user: 'Jane Doe', transport: 'browser', version: 'test' });
  await s['project.create']({ path: path.join(dir, 'proj'), name: 'Measurements' });
  lesionLabel = (await s['labels.list']({})).find((l) => l.name === 'lesion')!.id;
  const series: Record<string, Series> = {
    // 2 mm apart, 0 to 40 mm; lesion A spans 10-30, B 11-21.
    regular: ctSeries(2, range(0, 40, 2), [LESION_A, LESION_B]),
    // The same, without the slice at 18 mm (inside lesion A, not its centre).
    gap: ctSeries(3, range(0, 40, 2).filter((z) => z !== 18), [LESION_A]),
    // 2 mm up to 16, then 3 mm.
    uneven: ctSeries(4, [...range(0, 16, 2), ...range(19, 40, 3)], [LESION_A]),
    // No Pixel Spacing at all.
    nospacing: ctSeries(5, [0, 2, 4], [{ centre: [0, 0, 2], axes: [10, 6, 3], hu: 60 }], false),
  };
  for (const [key, d] of Object.entries(series)) {
    data[key] = d;
    const report = await s['images.importFiles']({ files: d.files });
    assert.equal(report.imported.length, d.files.length, JSON.stringify(report.failed));
    const byName = new Map(report.imported.map((r) => [r.file, r.imageId]));
    ids[key] = d.files.map((f) => byName.get(f.name)!);
    await saveTruth(key);
  }
});

after(async () => {
  await s?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Mean, population SD, min, max of the modality values under the truth masks of lesion `n`. */
function voxelStats(d: Series, n: number, skip: (k: number) => boolean = () => false) {
  const v: number[] = [];
  d.truth.forEach((t, k) => {
    if (skip(k)) return;
    t[n]!.forEach((inMask, i) => inMask && v.push(d.stored[k]![i]! + INTERCEPT));
  });
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
  return { mean, sd, min: Math.min(...v), max: Math.max(...v), count: v.length };
}

/** The lesion's diameter along x on the slice at z (the ellipse's long axis there), mm. */
const diameterAt = (e: Ellipsoid, z: number) => 2 * e.axes[0] * Math.sqrt(1 - ((z - e.centre[2]) / e.axes[2]) ** 2);
const shortAt = (e: Ellipsoid, z: number) => 2 * e.axes[1] * Math.sqrt(1 - ((z - e.centre[2]) / e.axes[2]) ** 2);

function checkLesion(t: { diagnostic(m: string): void }, m: SegmentMeasurement, d: Series, e: Ellipsoid, n: number) {
  const truth = trueVolumeMl(e);
  assert.equal(m.unit, 'mm');
  assert.equal(m.volume?.unit, 'mL');
  const err = (m.volume!.value - truth) / truth;
  t.diagnostic(`${m.name}: volume ${m.volume!.value.toFixed(4)} mL vs 4/3·π·a·b·c ${truth.toFixed(4)} mL (${(err * 100).toFixed(2)} %); long ${m.longAxis.value.toFixed(2)} mm, short ${m.shortAxis.value.toFixed(2)} mm`);
  assert.ok(Math.abs(err) < 0.05, `volume off by ${(err * 100).toFixed(2)} %`);
  const zLargest = d.z[d.files.findIndex((_, k) => ids[Object.keys(data).find((key) => data[key] === d)!]![k] === m.largest.imageId)]!;
  assert.ok(Math.abs(m.longAxis.value - diameterAt(e, zLargest)) <= PS, `long axis ${m.longAxis.value} vs ${diameterAt(e, zLargest)} at z ${zLargest}`);
  // The short axis is the extent across the long one, which a pixelated outline tilts by a few
  // degrees (the longest chord runs corner to corner): within 1.5 pixel spacings.
  assert.ok(Math.abs(m.shortAxis.value - shortAt(e, zLargest)) <= 1.5 * PS, `short axis ${m.shortAxis.value} vs ${shortAt(e, zLargest)}`);
  // The caliper's ends (pixels) are as long as the figure (mm).
  const len = Math.hypot(m.longAxis.to[0] - m.longAxis.from[0], m.longAxis.to[1] - m.longAxis.from[1]) * PS;
  assert.ok(Math.abs(len - m.longAxis.value) < 1e-6);
  const stats = voxelStats(d, n);
  assert.equal(m.values!.unit, 'HU');
  assert.equal(m.values!.count, stats.count);
  assert.ok(Math.abs(m.values!.mean - stats.mean) < 1e-9 && Math.abs(m.values!.sd - stats.sd) < 1e-9, `${JSON.stringify(m.values)} vs ${JSON.stringify(stats)}`);
  assert.equal(m.values!.min, stats.min);
  assert.equal(m.values!.max, stats.max);
}

test('ellipsoids of known size: volume, RECIST axes and HU statistics', async (t) => {
  const d = data.regular!;
  const a = await s['segments.measure']({ imageId: ids.regular![5]!, labelId: lesionLabel, instance: 1 });
  checkLesion(t, a, d, LESION_A, 0);
  assert.equal(a.name, 'lesion 1');
  assert.equal(a.largest.positionMm, 20, 'the centre slice is the largest');
  assert.deepEqual(a.geometry, { pixelSpacing: [PS, PS], sliceSpacing: 2, uneven: false, gaps: [] });
  assert.deepEqual(a.notes, []);
  assert.equal(a.stackSlices, 21);
  assert.deepEqual(a.slices.map((x) => x.positionMm), range(10, 30, 2), 'the slices lesion A covers (its poles a pixel each), in position order');
  const b = await s['segments.measure']({ imageId: ids.regular![0]!, labelId: lesionLabel, instance: 2 });
  checkLesion(t, b, d, LESION_B, 1);
  await assert.rejects(async () => s['segments.measure']({ imageId: ids.regular![0]!, labelId: lesionLabel, instance: 3 }), /lesion 3 has no accepted pixels/);
});

test('a missing slice and uneven spacing: measured over the actual positions', async (t) => {
  const gap = await s['segments.measure']({ imageId: ids.gap![0]!, labelId: lesionLabel, instance: 1 });
  checkLesion(t, gap, data.gap!, LESION_A, 0);
  assert.deepEqual(gap.geometry.gaps, [{ fromMm: 16, toMm: 20 }]);
  assert.match(gap.notes.join(' '), /missing between 16 mm and 20 mm/);
  // Slices times the spacing (what Slice Thickness or a count would give) misses by more than 5 %.
  const naive = gap.slices.reduce((a, x) => a + x.area, 0) * 2 / 1000;
  assert.ok(Math.abs(naive - trueVolumeMl(LESION_A)) / trueVolumeMl(LESION_A) > 0.05, `naive ${naive}`);

  const uneven = await s['segments.measure']({ imageId: ids.uneven![0]!, labelId: lesionLabel, instance: 1 });
  checkLesion(t, uneven, data.uneven!, LESION_A, 0);
  assert.equal(uneven.geometry.uneven, true);
  assert.equal(uneven.geometry.gaps.length, 0);
  assert.match(uneven.notes.join(' '), /spacing varies \(2 mm to 3 mm\)/);
  const naiveUneven = uneven.slices.reduce((a, x) => a + x.area, 0) * uneven.geometry.sliceSpacing! / 1000;
  assert.ok(Math.abs(naiveUneven - trueVolumeMl(LESION_A)) / trueVolumeMl(LESION_A) > 0.05, `naive ${naiveUneven}`);
});

test('an image without pixel spacing is measured in pixels, and says so', async () => {
  const m = await s['segments.measure']({ imageId: ids.nospacing![0]!, labelId: lesionLabel, instance: 1 });
  assert.equal(m.unit, 'px');
  assert.equal(m.longAxis.unit, 'px');
  assert.equal(m.volume?.unit, 'voxels');
  assert.equal(m.volume!.value, data.nospacing!.truth.reduce((a, t) => a + t[0]!.reduce((x, v) => x + v, 0), 0));
  // 10 mm semi-axis at 0.8 mm pixels is 25 px across each way: about 25 pixels (no mm anywhere).
  assert.ok(Math.abs(m.longAxis.value - 25) <= 1, `${m.longAxis.value}`);
  assert.equal(m.geometry.pixelSpacing, null);
  assert.match(m.notes.join(' '), /No Pixel Spacing: lengths are in pixels/);
  await assert.rejects(
    (async () => {
      const j = await jobEnded(s, (await s['export.srStart']({ imageId: ids.nospacing![0]! })).jobId);
      if (j.state !== 'succeeded') throw new Error(j.error?.message ?? j.detail);
    })(),
    /has no Pixel Spacing, so its measurements are in pixels; a DICOM SR records mm/,
  );
});

test('draft masks are not measured', async () => {
  const before = await s['segments.measure']({ imageId: ids.regular![0]!, labelId: lesionLabel, instance: 2 });
  const db = new Database(path.join(dir, 'proj', 'project.sqlite'));
  const draftSlice = before.slices[1]!;
  db.prepare('UPDATE masks SET draft = 1 WHERE image_id = ? AND label_id = ? AND instance = 2').run(draftSlice.imageId, lesionLabel);
  try {
    const after = await s['segments.measure']({ imageId: ids.regular![0]!, labelId: lesionLabel, instance: 2 });
    assert.equal(after.slices.length, before.slices.length - 1);
    assert.ok(!after.slices.some((x) => x.imageId === draftSlice.imageId));
    const k = ids.regular!.indexOf(draftSlice.imageId);
    assert.equal(after.values!.count, voxelStats(data.regular!, 1, (i) => i === k).count);
  } finally {
    db.prepare('UPDATE masks SET draft = 0 WHERE image_id = ? AND label_id = ? AND instance = 2').run(draftSlice.imageId, lesionLabel);
    db.close();
  }
});

/** RFC 4180 records (quoted fields, doubled quotes, CRLF). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(field), (field = '');
    else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      (row = []), (field = ''), i++;
    } else field += c;
  }
  assert.equal(field + row.join(''), '', 'the text ends with a line break');
  return rows;
}

test('the series CSVs parse back to the same figures: one row per segment; in the other file, one per segment and slice', async () => {
  const r = await s['segments.measurementsCsv']({ imageId: ids.regular![3]! });
  assert.equal(r.rows, 2);
  assert.equal(r.fileName, 'Series_2-measurements.csv');
  assert.equal(r.slicesFileName, 'Series_2-slice-areas.csv');
  const [header, ...rows] = parseCsv(r.csv);
  const [sliceHeader, ...sliceRows] = parseCsv(r.slicesCsv);
  assert.deepEqual(header, [...CSV_COLUMNS]);
  assert.equal(rows.length, 2);
  assert.ok(rows.every((x) => x.length === CSV_COLUMNS.length), 'one table: every row whole, no second header');
  assert.deepEqual(sliceHeader, [...SLICE_CSV_COLUMNS]);
  const sc = (row: string[], c: (typeof SLICE_CSV_COLUMNS)[number]) => row[SLICE_CSV_COLUMNS.indexOf(c)]!;
  let slicesSeen = 0;
  const col = (row: string[], c: (typeof CSV_COLUMNS)[number]) => row[CSV_COLUMNS.indexOf(c)]!;
  for (const [n, row] of rows.entries()) {
    const m = await s['segments.measure']({ imageId: ids.regular![0]!, labelId: lesionLabel, instance: n + 1 });
    assert.equal(col(row, 'segment'), m.name);
    assert.equal(col(row, 'length_unit'), 'mm');
    assert.ok(Math.abs(Number(col(row, 'volume')) - m.volume!.value) < 1e-4);
    assert.equal(col(row, 'volume_unit'), 'mL');
    assert.ok(Math.abs(Number(col(row, 'long_axis')) - m.longAxis.value) < 1e-3);
    assert.ok(Math.abs(Number(col(row, 'short_axis')) - m.shortAxis.value) < 1e-3);
    assert.ok(Math.abs(Number(col(row, 'mean')) - m.values!.mean) < 1e-3);
    assert.equal(Number(col(row, 'voxels')), m.values!.count);
    assert.equal(col(row, 'value_unit'), 'HU');
    assert.equal(Number(col(row, 'axes_slice')), m.largest.index + 1);
    // The slices' file: this segment's area on each of its slices, the axes' slice marked.
    const mine = sliceRows.filter((x) => sc(x, 'segment') === m.name);
    slicesSeen += mine.length;
    assert.deepEqual(mine.map((x) => Number(sc(x, 'slice'))), m.slices.map((x) => x.index + 1));
    for (const [k, x] of mine.entries()) {
      assert.ok(Math.abs(Number(sc(x, 'area')) - m.slices[k]!.area) < 1e-3);
      assert.equal(Number(sc(x, 'position_mm')), m.slices[k]!.positionMm);
      assert.equal(sc(x, 'area_unit'), 'mm2');
      assert.equal(sc(x, 'recist_axes'), m.slices[k]!.index === m.largest.index ? 'yes' : '');
    }
  }
  assert.ok(sliceRows.every((x) => x.length === SLICE_CSV_COLUMNS.length), 'every row of the slices\' file is whole');
  assert.equal(sliceRows.length, slicesSeen, 'no row of the slices\' file is of another segment');
  const px = parseCsv((await s['segments.measurementsCsv']({ imageId: ids.nospacing![0]! })).csv);
  assert.equal(px[1]![CSV_COLUMNS.indexOf('length_unit')], 'px');
  assert.equal(px[1]![CSV_COLUMNS.indexOf('volume_unit')], 'voxels');
  const gap = parseCsv((await s['segments.measurementsCsv']({ imageId: ids.gap![0]! })).csv);
  assert.equal(gap[1]![CSV_COLUMNS.indexOf('gaps')], '16 to 20');
});

interface SrBack {
  sop_class: string;
  sop_instance_uid: string;
  modality: string;
  title: string;
  patient_id: string;
  study_uid: string;
  series_description: string;
  evidence: string[];
  groups: {
    tracking_id: string;
    tracking_uid: string;
    seg_sop: string | null;
    segment_number: number | null;
    finding: string | null;
    measurements: { name: string; value: number; unit: string; derivation: string | null; method: string | null; points: number[] | null; image: string | null }[];
  }[];
}

function dciodvfyErrors(file: string, warnings: string[]): string[] {
  const r = spawnSync('dciodvfy', ['-new', file], { encoding: 'utf8' });
  const lines = `${r.stdout}\n${r.stderr}`.split('\n').map((l) => l.trim());
  warnings.push(...lines.filter((l) => /^Warning/i.test(l)));
  return lines.filter((l) => /^Error/i.test(l));
}

test('the DICOM SR passes dciodvfy, reads back with the same figures, and references the SEG and the images', { timeout: 300_000 }, async (t) => {
  const job = await jobEnded(s, (await s['export.srStart']({ imageId: ids.regular![4]! })).jobId);
  assert.equal(job.state, 'succeeded', job.error?.message ?? job.detail);
  const sr = job.exported!;
  assert.equal(sr.kind, 'sr');
  assert.equal(sr.version, 1);
  assert.equal(sr.segments, 2);
  assert.match(sr.file, /^exports\/sr\//);
  assert.match(job.detail, /^Wrote exports\/sr\/.*\(SR version 1, 2 frames, 2 segments measured\); it refers to SEG version 1/);
  const file = path.join(dir, 'proj', sr.file);
  const warnings: string[] = [];
  assert.deepEqual(dciodvfyErrors(file, warnings), []);
  t.diagnostic(`dciodvfy: 0 errors, ${warnings.length} warnings${warnings.length ? `: ${warnings.join(' | ')}` : ''}`);

  const db = new Database(path.join(dir, 'proj', 'project.sqlite'), { readonly: true });
  const seg = db.prepare("SELECT sop_instance_uid AS sop, version FROM exports WHERE kind = 'seg' AND source_series_uid = ?").get(`${ROOT}.2`) as { sop: string; version: number };
  const recorded = db.prepare("SELECT kind, sop_instance_uid AS sop, segments FROM exports WHERE kind = 'sr'").all();
  db.close();
  assert.deepEqual(recorded, [{ kind: 'sr', sop: sr.sopInstanceUid, segments: 2 }]);

  const back = JSON.parse(execFileSync(python, [path.join(here, 'sr_readback.py'), file], { env: { ...process.env, ...runtimeEnv() }, encoding: 'utf8' }).trim().split('\n').at(-1)!) as SrBack;
  assert.equal(back.sop_class, '1.2.840.10008.5.1.4.1.1.88.34');
  assert.equal(back.modality, 'SR');
  assert.equal(back.title, 'Imaging Measurement Report');
  assert.equal(back.sop_instance_uid, sr.sopInstanceUid);
  assert.equal(back.patient_id, 'MEAS-001');
  assert.equal(back.study_uid, `${ROOT}.1`);
  assert.equal(back.series_description, 'Delineate SR v1');
  const sources = data.regular!.files.map((_, k) => `${ROOT}.2.${k + 1}`);
  assert.deepEqual(back.evidence, [...sources, seg.sop].sort(), 'evidence: the source images and the SEG');

  for (const [n, e] of [LESION_A, LESION_B].entries()) {
    const m = await s['segments.measure']({ imageId: ids.regular![0]!, labelId: lesionLabel, instance: n + 1 });
    const groups = back.groups.filter((g) => g.tracking_id === m.name);
    assert.equal(groups.length, 2, `${m.name}: a volumetric group and a caliper group`);
    assert.equal(groups[0]!.tracking_uid, groups[1]!.tracking_uid);
    const vol = groups.find((g) => g.seg_sop)!;
    assert.equal(vol.seg_sop, seg.sop, 'it references the SEG');
    assert.equal(vol.segment_number, 1, "the lesion label's SEG segment");
    assert.equal(vol.finding, 'Lesion');
    const volume = vol.measurements.find((x) => x.name === 'Volume')!;
    assert.equal(volume.unit, 'ml');
    assert.ok(Math.abs(volume.value - m.volume!.value) < 1e-5, `${volume.value} vs ${m.volume!.value}`);
    assert.ok(Math.abs(volume.value - trueVolumeMl(e)) / trueVolumeMl(e) < 0.05);
    const hu = Object.fromEntries(vol.measurements.filter((x) => x.name === 'Attenuation Coefficient').map((x) => [x.derivation, x.value]));
    assert.ok(Math.abs(hu.Mean! - m.values!.mean) < 1e-3 && Math.abs(hu['Standard Deviation']! - m.values!.sd) < 1e-3);
    assert.deepEqual([hu.Minimum, hu.Maximum], [m.values!.min, m.values!.max]);
    const axes = groups.find((g) => !g.seg_sop)!;
    const long = axes.measurements.find((x) => x.name === 'Long axis')!;
    const short = axes.measurements.find((x) => x.name === 'Short axis')!;
    assert.equal(long.unit, 'mm');
    assert.equal(long.method, 'RECIST 1.1');
    assert.ok(Math.abs(long.value - m.longAxis.value) < 1e-3 && Math.abs(short.value - m.shortAxis.value) < 1e-3);
    assert.ok(Math.abs(long.value - 2 * e.axes[0]) <= PS, 'both lesions are largest on their centre slice');
    assert.deepEqual(long.points, [...m.longAxis.from, ...m.longAxis.to].map((v) => Number(v.toFixed(3))));
    assert.equal(long.image, `${ROOT}.2.${m.largest.index + 1}`, 'on the source image where the segment is largest');
  }

  // The same masks again: the recorded report, nothing new written.
  const again = await jobEnded(s, (await s['export.srStart']({ imageId: ids.regular![0]! })).jobId);
  assert.equal(again.state, 'succeeded', again.error?.message);
  assert.equal(again.exported!.reused, true);
  assert.equal(again.exported!.sopInstanceUid, sr.sopInstanceUid);
});

test('migration 8: exports and the outbox kept, kind sr accepted', () => {
  const db = new Database(':memory:');
  db.pragma('foreign_keys = ON');
  for (const m of migrations.filter((m) => m.version <= 7)) db.exec(m.sql);
  db.pragma('user_version = 7');
  const row = (kind: string, sop: string) =>
    `INSERT INTO exports (kind, source_series_uid, file, sop_instance_uid, series_instance_uid, version, masks_hash, masks, models, frames, segments, author, created_at)
     VALUES ('${kind}', 's', 'f', '${sop}', '1.3', 1, 'h', '[]', '[]', 1, 1, 'u', 't')`;
  db.prepare(row('rtstruct', '1.2.7')).run();
  db.prepare(`INSERT INTO outbox (destination_id, destination_name, export_id, file, sop_instance_uid, description, state, created_at)
    VALUES ('d', 'D', 1, 'f', '1.2.7', 'RTSTRUCT v1', 'queued', 't')`).run();
  assert.throws(() => db.prepare(row('sr', '1.2.8')).run(), /CHECK constraint failed/, 'version 7 refuses sr');
  assert.ok(migrate(db) >= 8);
  assert.deepEqual(db.prepare('SELECT id, kind FROM exports').all(), [{ id: 1, kind: 'rtstruct' }]);
  db.prepare(row('sr', '1.2.8')).run();
  assert.throws(() => db.prepare(row('nifti', '1.2.9')).run(), /CHECK constraint failed/);
  assert.throws(() => db.prepare('DELETE FROM exports WHERE id = 1').run(), /FOREIGN KEY constraint failed/, 'the outbox still refers to exports');
  assert.deepEqual(db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'exports' AND sql IS NOT NULL").pluck().all(), ['exports_series']);
  assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
  db.close();
});

test('the SR measures the masks of the SEG it refers to: an edit between the SEG and the figures makes both again; edits that never stop write nothing', { timeout: 300_000 }, async () => {
  const proj = path.join(dir, 'proj');
  const db = new Database(path.join(proj, 'project.sqlite'));
  try {
    const deps = exportDepsFor({ dir: proj, db }, { user: 'Jane Doe', appVersion: 'test' }, () => Promise.resolve(python));
    const gap = data.gap!;
    const imageId = ids.gap![0]!;
    const area = (k: number) => gap.truth[k]![0]!.reduce((a, v) => a + v, 0);
    const k = gap.truth.reduce((best, _, i) => (area(i) > area(best) ? i : best), 0); // the largest cross-section
    let removed = 0;
    // One pixel less of the lesion on slice k each time: a new mask, as a brush stroke would make.
    const edit = async () => {
      const m = gap.truth[k]![0]!.slice();
      for (let i = 0, n = 0; i < m.length && n <= removed; i++) if (m[i]) (m[i] = 0), n++;
      removed++;
      await s['masks.save']({ imageId: ids.gap![k]!, frame: 0, labelId: lesionLabel, instance: 1, rle: encodeRle(m, N, N), source: 'brush' });
    };
    const figures = async () => [await s['segments.measure']({ imageId, labelId: lesionLabel, instance: 1 })];
    const segs = () => db.prepare("SELECT version FROM exports WHERE kind = 'seg' AND source_series_uid = ? ORDER BY version").pluck().all(`${ROOT}.3`);
    const srs = () => db.prepare("SELECT version FROM exports WHERE kind = 'sr' AND source_series_uid = ?").pluck().all(`${ROOT}.3`);

    let calls = 0;
    const r = await exportSr(imageId, {
      ...deps,
      measure: async () => {
        if (calls++ === 0) await edit(); // lands after the SEG was written, before the figures
        return figures();
      },
    });
    assert.equal(calls, 2, 'measured again after the edit');
    assert.deepEqual(segs(), [1, 2], 'a SEG of the masks before the edit, then one of the edited masks');
    assert.equal(r.seg.version, 2, 'the report refers to the SEG of the masks it measured');
    assert.deepEqual(srs(), [1]);

    await assert.rejects(
      exportSr(imageId, {
        ...deps,
        measure: async () => {
          await edit();
          return figures();
        },
      }),
      (e: unknown) => e instanceof ApiError && e.code === 'conflict' && /masks of this series changed while they were being measured/.test(e.message),
    );
    assert.deepEqual(srs(), [1], 'no report written');
  } finally {
    db.close();
  }
});
