/**
 * DICOM SEG export (issue 11) through createServices, as the app calls it, on sources written
 * here: a CT series (geometry, frame of reference), a multi-frame image, a MONOCHROME1 image
 * and an RGB image. Each export must pass dciodvfy (dicom3tools) with no error and read back
 * with highdicom to exactly the project's masks, frame by frame, referencing the right source
 * instance and frame; segments carry their codes and provenance (MANUAL, or SEMIAUTOMATIC
 * with the SAM model named); the same masks give the same object, changed masks a new version.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encodeRle } from '../../../electron/contract/rle.js';
import type { JobInfo } from '../../../electron/contract/training.js';
import { jobEnded } from '../helpers.js';
import { dicomLock } from '../../../electron/services/dicom-export/export.service.js';
import { createServices, type Services } from '../../../electron/services/index.js';
import { findPython, runtimeEnv } from '../../../electron/services/runtime/python-path.node.js';
import { ctSlice, ellipse, enhancedCt, H, ROOT, saveMask, secondaryCapture, W } from './sources.js';


const here = path.dirname(fileURLToPath(import.meta.url));
let s: Services;
let dir: string;
let python: string;

let ids: Record<string, number>;
let labelIds: { lesion: number; defect: number; liver: number };

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'seg-export-'));
  python = await findPython({ lock: dicomLock() });
  s = createServices({ user: 'Jane Doe', transport: 'browser', version: 'test' });
  await s['project.create']({ path: path.join(dir, 'proj'), name: 'Export' });
  const files = [
    ...[0, 1, 2, 3].map((i) => ({ name: `ct${i}.dcm`, bytes: new Uint8Array(ctSlice(i)) })),
    { name: 'mono1.dcm', bytes: new Uint8Array(secondaryCapture('mono1', 1)) },
    { name: 'rgb.dcm', bytes: new Uint8Array(secondaryCapture('rgb', 2)) },
    { name: 'multi.dcm', bytes: new Uint8Array(secondaryCapture('multi', 3)) },
    { name: 'enhanced.dcm', bytes: new Uint8Array(enhancedCt()) },
  ];
  const report = await s['images.importFiles']({ files });
  assert.equal(report.imported.length, files.length, JSON.stringify(report.failed));
  ids = Object.fromEntries(report.imported.map((r) => [r.file.replace(/\.dcm$/, ''), r.imageId]));
  const labels = await s['labels.list']({});
  const liver = await s['labels.upsert']({ name: 'liver', color: '#aa8800' });
  labelIds = { lesion: labels.find((l) => l.name === 'lesion')!.id, defect: labels.find((l) => l.name === 'defect')!.id, liver: liver.id };
});

after(async () => {
  await s?.close();
  rmSync(dir, { recursive: true, force: true });
});

const save = (imageId: number, frame: number, labelId: number, mask: Uint8Array, sam = false) => saveMask(s, imageId, frame, labelId, mask, sam);

async function exportSeg(imageId: number): Promise<NonNullable<JobInfo['exported']>> {
  const j = await jobEnded(s, (await s['export.segStart']({ imageId })).jobId);
  assert.equal(j.state, 'succeeded', j.error?.message ?? j.detail);
  assert.equal(j.kind, 'export');
  return j.exported!;
}

interface Readback {
  sop_instance_uid: string;
  series_instance_uid: string;
  series_description: string;
  series_number: number;
  patient_id: string;
  study_uid: string;
  content_creator: string;
  referenced_series: string[];
  segments: { number: number; label: string; algorithm_type: string; algorithm_name: string | null; algorithm_version: string | null; category: string; type: [string, string] }[];
  frames: { sop: string; frame: number; segment: number; counts: number[] }[];
}

function readBack(file: string): Readback {
  const out = execFileSync(python, [path.join(here, 'seg_readback.py'), file], { env: { ...process.env, ...runtimeEnv() }, encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1)!) as Readback;
}

/** dciodvfy's verdict: its error lines (its warnings are not part of the verdict). */
function dciodvfyErrors(file: string): string[] {
  const r = spawnSync('dciodvfy', ['-new', file], { encoding: 'utf8' });
  const lines = `${r.stdout}\n${r.stderr}`.split('\n');
  return lines.filter((l) => /^Error/i.test(l.trim()));
}

test('a CT series: SEG passes dciodvfy, reads back to the masks frame by frame, with codes and provenance', { timeout: 300_000 }, async (t) => {
  const lesion1 = ellipse(20, 20, 8, 6);
  const lesion2 = ellipse(40, 25, 10, 5);
  const liver2 = ellipse(30, 30, 20, 12);
  await save(ids.ct1!, 0, labelIds.lesion, lesion1, true);
  await save(ids.ct2!, 0, labelIds.lesion, lesion2);
  await save(ids.ct2!, 0, labelIds.liver, liver2);
  const first = await exportSeg(ids.ct0!);
  assert.equal(first.reused, false);
  assert.equal(first.version, 1);
  const file = path.join(dir, 'proj', first.file);
  assert.ok(statSync(file).size > 0);
  const errors = dciodvfyErrors(file);
  assert.deepEqual(errors, [], `dciodvfy errors:\n${errors.join('\n')}`);

  const r = readBack(file);
  t.diagnostic(`SEG ${first.file}: ${first.frames} frames, ${first.segments} segments; read back ${r.frames.length} frames`);
  assert.equal(r.sop_instance_uid, first.sopInstanceUid);
  assert.equal(r.patient_id, 'EXP-001');
  assert.equal(r.study_uid, `${ROOT}.1`);
  assert.deepEqual(r.referenced_series, [`${ROOT}.1.1`]);
  assert.equal(r.content_creator, 'Doe^Jane');
  assert.equal(r.series_description, 'Delineate SEG v1');
  const lesionSeg = r.segments.find((x) => x.label === 'lesion')!;
  const liverSeg = r.segments.find((x) => x.label === 'liver')!;
  assert.deepEqual(lesionSeg.type, ['SCT', '52988006'], 'lesion coded as SNOMED CT Lesion');
  assert.equal(lesionSeg.algorithm_type, 'SEMIAUTOMATIC', 'one of its masks came from SAM');
  assert.equal(lesionSeg.algorithm_version, 'tiny-model-abc123');
  assert.deepEqual(liverSeg.type, ['SCT', '10200004'], 'left on auto, "liver" is coded as the organ');
  assert.equal(liverSeg.category, '123037004', 'in the Anatomical Structure category');
  assert.equal(lesionSeg.category, '49755003', 'a finding is a Morphologically abnormal structure');
  assert.equal(liverSeg.algorithm_type, 'MANUAL');
  assert.equal(liverSeg.algorithm_name, null);
  // Pixel for pixel, frame for frame, referencing the right slice.
  const expected = [
    { sop: `${ROOT}.1.2`, segment: lesionSeg.number, mask: lesion1 },
    { sop: `${ROOT}.1.3`, segment: lesionSeg.number, mask: lesion2 },
    { sop: `${ROOT}.1.3`, segment: liverSeg.number, mask: liver2 },
  ];
  assert.equal(r.frames.length, expected.length, 'empty frames are left out');
  for (const e of expected) {
    const f = r.frames.find((x) => x.sop === e.sop && x.segment === e.segment);
    assert.ok(f, `a frame for ${e.sop} segment ${e.segment}`);
    assert.deepEqual(f.counts, encodeRle(e.mask, H, W).counts);
  }

  // The same masks again: the same object, nothing new written or recorded.
  const again = await exportSeg(ids.ct3!);
  assert.deepEqual({ ...again, reused: false }, first);
  assert.equal(again.reused, true);
  // A changed mask: version 2, new UIDs, naming the version it replaces.
  await save(ids.ct2!, 0, labelIds.lesion, ellipse(41, 25, 10, 5));
  const v2 = await exportSeg(ids.ct0!);
  assert.equal(v2.version, 2);
  assert.notEqual(v2.sopInstanceUid, first.sopInstanceUid);
  assert.notEqual(v2.seriesInstanceUid, first.seriesInstanceUid);
  const r2 = readBack(path.join(dir, 'proj', v2.file));
  assert.equal(r2.series_description, 'Delineate SEG v2 (replaces v1)');
  assert.equal(r2.series_number, 9902);
  // A missing file of a recorded export is written again with the same UIDs.
  rmSync(file);
  const rewritten = await exportSeg(ids.ct0!);
  assert.equal(rewritten.version, 2, 'the newest masks are version 2');
  // The user picks the liver's code: free text, then a code from the list. Each is new content.
  await s['labels.upsert']({ id: labelIds.liver, name: 'liver', color: '#aa8800', code: 'local' });
  const v3 = await exportSeg(ids.ct0!);
  assert.equal(v3.version, 3, 'a changed code is a new version');
  assert.deepEqual(readBack(path.join(dir, 'proj', v3.file)).segments.find((x) => x.label === 'liver')!.type, ['99DLN', 'liver'], 'free text keeps its name in a local code');
  await s['labels.upsert']({ id: labelIds.liver, name: 'liver', color: '#aa8800', code: 'neoplasm' });
  const v4 = readBack(path.join(dir, 'proj', (await exportSeg(ids.ct0!)).file)).segments.find((x) => x.label === 'liver')!;
  assert.deepEqual([v4.category, ...v4.type], ['49755003', 'SCT', '108369006'], 'the chosen code wins over the name');
  // A rename or recolour that leaves out the code keeps it.
  await s['labels.upsert']({ id: labelIds.liver, name: 'liver', color: '#bb9900' });
  assert.equal((await s['labels.list']({})).find((l) => l.id === labelIds.liver)!.code, 'neoplasm');
  const audit = await s['audit.list']({ limit: 50 });
  assert.equal(audit.filter((a) => a.entity === 'export').length, 4, 'four exports recorded');
});

test('multi-frame (enhanced CT), MONOCHROME1 and RGB sources: each SEG passes dciodvfy and reads back exactly', { timeout: 300_000 }, async () => {
  const cases: { name: string; sop: string; frames: { frame: number; mask: Uint8Array }[] }[] = [
    { name: 'enhanced', sop: `${ROOT}.3.1`, frames: [{ frame: 0, mask: ellipse(15, 15, 6, 6) }, { frame: 2, mask: ellipse(45, 30, 9, 7) }] },
    { name: 'mono1', sop: `${ROOT}.2.1`, frames: [{ frame: 0, mask: ellipse(30, 20, 12, 8) }] },
    { name: 'rgb', sop: `${ROOT}.2.2`, frames: [{ frame: 0, mask: ellipse(22, 28, 7, 11) }] },
  ];
  for (const c of cases) {
    for (const f of c.frames) await save(ids[c.name]!, f.frame, labelIds.defect, f.mask);
    const out = await exportSeg(ids[c.name]!);
    const file = path.join(dir, 'proj', out.file);
    assert.deepEqual(dciodvfyErrors(file), [], `${c.name}: dciodvfy errors`);
    const r = readBack(file);
    assert.equal(r.frames.length, c.frames.length, c.name);
    for (const f of c.frames) {
      const got = r.frames.find((x) => x.sop === c.sop && x.frame === f.frame + 1);
      assert.ok(got, `${c.name}: frame ${f.frame + 1} of ${c.sop}`);
      assert.deepEqual(got.counts, encodeRle(f.mask, H, W).counts, `${c.name} frame ${f.frame}`);
    }
  }
});

test('a multi-frame image without a frame of reference (a secondary capture cine): one SEG frame per source frame, read back exactly', { timeout: 120_000 }, async () => {
  const f1 = ellipse(20, 20, 5, 5);
  const f3 = ellipse(40, 30, 8, 6);
  await save(ids.multi!, 0, labelIds.defect, f1);
  await save(ids.multi!, 2, labelIds.defect, f3);
  await save(ids.multi!, 2, labelIds.lesion, ellipse(12, 35, 4, 7));
  const j = await jobEnded(s, (await s['export.segStart']({ imageId: ids.multi! })).jobId);
  assert.equal(j.state, 'succeeded', j.error?.message);
  const file = path.join(dir, 'proj', j.exported!.file);
  assert.deepEqual(dciodvfyErrors(file), [], 'dciodvfy errors');
  const r = readBack(file);
  assert.equal(r.frames.length, 3, 'one frame per (source frame, segment) with pixels');
  const defect = r.segments.find((x) => x.label === 'defect')!.number;
  const lesion = r.segments.find((x) => x.label === 'lesion')!.number;
  const expect = [
    { frame: 1, segment: defect, mask: f1 },
    { frame: 3, segment: defect, mask: f3 },
    { frame: 3, segment: lesion, mask: ellipse(12, 35, 4, 7) },
  ];
  for (const e of expect) {
    const got = r.frames.find((x) => x.frame === e.frame && x.segment === e.segment);
    assert.ok(got, `source frame ${e.frame}, segment ${e.segment}`);
    assert.deepEqual(got.counts, encodeRle(e.mask, H, W).counts);
  }
});

test('bad requests are refused with a sentence: an unknown image, a series without masks', { timeout: 120_000 }, async () => {
  const ended = (jobId: string) => jobEnded(s, jobId);
  const unknown = await ended((await s['export.segStart']({ imageId: 999_999 })).jobId);
  assert.equal(unknown.state, 'failed');
  assert.match(unknown.error!.message, /No image with id 999999/);
  const r = await s['images.importFiles']({ files: [{ name: 'lone.dcm', bytes: new Uint8Array(ctSlice(0, 5)) }] });
  const lone = r.imported[0]?.imageId ?? r.duplicates[0]?.imageId;
  assert.ok(lone);
  const none = await ended((await s['export.segStart']({ imageId: lone })).jobId);
  assert.equal(none.state, 'failed');
  assert.match(none.error!.message, /no masks to export/);
});
