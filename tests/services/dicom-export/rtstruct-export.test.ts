/**
 * RTSTRUCT export (issue 11) through createServices, as the app calls it: a CT series, an
 * oblique and flipped MONOCHROME1 CT series, and an enhanced multi-frame CT. Each structure
 * set must pass dciodvfy (dicom3tools) with no error and read back, through an even-odd filler
 * written apart from the app's (rtstruct_readback.py), to exactly the project's masks on the
 * right image (and frame); holes and islands included. Its ROIs are the SEG's segments; the
 * geometry of one contour is checked against coordinates worked out by hand; a source without
 * patient geometry is refused with a sentence naming it.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encodeRle } from '../../../electron/contract/rle.js';
import type { JobInfo } from '../../../electron/contract/training.js';
import { dicomLock } from '../../../electron/services/dicom-export/export.service.js';
import { interpretedTypeForLabel } from '../../../electron/services/dicom-export/rtstruct-request.js';
import { createServices, type Services } from '../../../electron/services/index.js';
import { findPython, runtimeEnv } from '../../../electron/services/runtime/python-path.node.js';
import { CT_IMAGE_STORAGE, TS, le, writeDicom } from '../../fixtures/dicom-writer.js';
import { jobEnded } from '../helpers.js';
import { ctSlice, ellipse, enhancedCt, H, ROOT, saveMask, secondaryCapture, W } from './sources.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const OBLIQUE = '1.2.826.0.1.3680043.10.1234.78';
let s: Services;
let dir: string;
let python: string;
let ids: Record<string, number>;
let labelIds: Record<'lesion' | 'liver' | 'marker', number>;

/**
 * An oblique, flipped MONOCHROME1 CT slice: rows run along (0.6, 0.8, 0), columns down the
 * patient (0, 0, -1); Pixel Spacing 2 mm between rows, 0.5 mm between columns; slice i at
 * (10, 20, 30) + 3 i (-0.8, 0.6, 0), the slice normal.
 */
function obliqueMono1(i: number): Buffer {
  const px = new Uint16Array(W * H).map((_, k) => (k * 11 + i * 7) % 4096);
  return writeDicom(
    {
      SOPClassUID: CT_IMAGE_STORAGE,
      SOPInstanceUID: `${OBLIQUE}.1.${i + 1}`,
      StudyInstanceUID: `${OBLIQUE}.1`,
      SeriesInstanceUID: `${OBLIQUE}.1.1`,
      FrameOfReferenceUID: `${OBLIQUE}.1.9`,
      PatientName: 'Oblique^Test',
      PatientID: 'EXP-002',
      StudyDate: '20260101',
      StudyTime: '120000',
      Modality: 'CT',
      SeriesNumber: 3,
      InstanceNumber: i + 1,
      ImagePositionPatient: [10 - 2.4 * i, 20 + 1.8 * i, 30],
      ImageOrientationPatient: [0.6, 0.8, 0, 0, 0, -1],
      PixelSpacing: [2, 0.5],
      SliceThickness: 3,
      Rows: H,
      Columns: W,
      SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME1',
      BitsAllocated: 16,
      BitsStored: 12,
      HighBit: 11,
      PixelRepresentation: 0,
      RescaleIntercept: 0,
      RescaleSlope: 1,
    },
    { transferSyntax: TS.explicitLE, pixelFrames: [le(px)] },
  );
}

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'rtstruct-export-'));
  python = await findPython({ lock: dicomLock() });
  s = createServices({ user: 'Jane Doe', transport: 'browser', version: 'test' });
  await s['project.create']({ path: path.join(dir, 'proj'), name: 'RTSTRUCT' });
  const files = [
    ...[0, 1, 2, 3].map((i) => ({ name: `ct${i}.dcm`, bytes: new Uint8Array(ctSlice(i)) })),
    ...[0, 1].map((i) => ({ name: `obl${i}.dcm`, bytes: new Uint8Array(obliqueMono1(i)) })),
    { name: 'enhanced.dcm', bytes: new Uint8Array(enhancedCt()) },
    { name: 'mono1.dcm', bytes: new Uint8Array(secondaryCapture('mono1', 1)) },
  ];
  const report = await s['images.importFiles']({ files });
  assert.equal(report.imported.length, files.length, JSON.stringify(report.failed));
  ids = Object.fromEntries(report.imported.map((r) => [r.file.replace(/\.dcm$/, ''), r.imageId]));
  const lesion = (await s['labels.list']({})).find((l) => l.name === 'lesion')!;
  const liver = await s['labels.upsert']({ name: 'liver', color: '#aa8800' });
  const marker = await s['labels.upsert']({ name: 'marker', color: '#00ff00' });
  labelIds = { lesion: lesion.id, liver: liver.id, marker: marker.id };
});

after(async () => {
  await s?.close();
  rmSync(dir, { recursive: true, force: true });
});

const save = (imageId: number, frame: number, labelId: number, mask: Uint8Array, sam = false) => saveMask(s, imageId, frame, labelId, mask, sam);

async function exportRt(imageId: number): Promise<NonNullable<JobInfo['exported']>> {
  const j = await jobEnded(s, (await s['export.rtstructStart']({ imageId })).jobId);
  assert.equal(j.state, 'succeeded', j.error?.message ?? j.detail);
  assert.equal(j.exported?.kind, 'rtstruct');
  return j.exported!;
}

interface Readback {
  sop_instance_uid: string;
  series_description: string;
  series_number: number;
  modality: string;
  patient_id: string;
  study_uid: string;
  operator: string;
  structure_set_label: string;
  predecessor: string | null;
  frame_of_reference: string;
  referenced_series: string;
  referenced_images: [string, number[]][];
  max_off_plane_mm: number;
  rois: { number: number; name: string; color: number[]; frame_of_reference: string; generation_algorithm: string; algorithm_name: string | null; algorithm_version: string | null; interpreted_type: string; interpreter: string }[];
  masks: { roi: number; sop: string; frame: number; counts: number[] }[];
  contours: { roi: number; sop: string; frame: number; points: number[][] }[];
}

function readBack(file: string): Readback {
  const out = execFileSync(python, [path.join(here, 'rtstruct_readback.py'), file, path.join(dir, 'proj', 'media')], { env: { ...process.env, ...runtimeEnv() }, encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1)!) as Readback;
}

/** dciodvfy's error lines (its verdict); its warnings go to `warnings` when given. */
function dciodvfyErrors(file: string, warnings?: string[]): string[] {
  const r = spawnSync('dciodvfy', ['-new', file], { encoding: 'utf8' });
  const lines = `${r.stdout}\n${r.stderr}`.split('\n').map((l) => l.trim());
  warnings?.push(...lines.filter((l) => /^Warning/i.test(l)));
  return lines.filter((l) => /^Error/i.test(l));
}

/** A ring (an ellipse with a hole) with an island in its hole, plus a separate blob: two islands, one hole, nested. */
function ringWithIslands(): Uint8Array {
  const m = ellipse(24, 24, 14, 12);
  const hole = ellipse(24, 24, 7, 6);
  const inner = ellipse(24, 24, 2, 2);
  const blob = ellipse(52, 10, 5, 4);
  return m.map((v, i) => ((v && !hole[i]) || inner[i] || blob[i] ? 1 : 0));
}

test('a CT series: RTSTRUCT passes dciodvfy, reads back to the masks (holes, islands) with the SEG segments as ROIs', { timeout: 120_000 }, async (t) => {
  const ring = ringWithIslands();
  const lesion2 = ellipse(40, 25, 10, 5);
  const liver2 = ellipse(30, 30, 20, 12);
  await save(ids.ct1!, 0, labelIds.lesion, ring, true);
  await save(ids.ct2!, 0, labelIds.lesion, lesion2);
  await save(ids.ct2!, 0, labelIds.liver, liver2);
  const first = await exportRt(ids.ct0!);
  assert.equal(first.version, 1);
  assert.equal(first.reused, false);
  const file = path.join(dir, 'proj', first.file);
  assert.match(first.file, /^exports\/rtstruct\//);
  const warnings: string[] = [];
  assert.deepEqual(dciodvfyErrors(file, warnings), [], 'dciodvfy errors');
  t.diagnostic(`dciodvfy: 0 errors, ${warnings.length} warnings${warnings.length ? `: ${warnings.join(' | ')}` : ''}`);

  const r = readBack(file);
  t.diagnostic(`RTSTRUCT ${first.file}: ${r.contours.length} contours on ${first.frames} images, ${first.segments} ROIs`);
  assert.equal(r.modality, 'RTSTRUCT');
  assert.equal(r.sop_instance_uid, first.sopInstanceUid);
  assert.equal(r.patient_id, 'EXP-001');
  assert.equal(r.study_uid, `${ROOT}.1`);
  assert.equal(r.frame_of_reference, `${ROOT}.1.9`);
  assert.equal(r.referenced_series, `${ROOT}.1.1`);
  assert.deepEqual(r.referenced_images, [1, 2, 3, 4].map((i) => [`${ROOT}.1.${i}`, []]), 'every slice of the series is referenced');
  assert.equal(r.operator, 'Doe^Jane');
  assert.equal(r.series_description, 'Delineate RTSTRUCT v1');
  assert.ok(r.max_off_plane_mm < 1e-5, `contours lie in their slice's plane (off by ${r.max_off_plane_mm} mm)`);
  const lesion = r.rois.find((x) => x.name === 'lesion')!;
  const liver = r.rois.find((x) => x.name === 'liver')!;
  assert.deepEqual(lesion.color, [0xe6, 0x19, 0x4b], "the label's colour");
  assert.equal(lesion.interpreted_type, 'GTV');
  assert.equal(liver.interpreted_type, 'ORGAN');
  assert.equal(lesion.generation_algorithm, 'SEMIAUTOMATIC', 'one of its masks came from SAM');
  assert.equal(lesion.algorithm_version, 'tiny-model-abc123');
  assert.equal(liver.generation_algorithm, 'MANUAL');
  assert.equal(liver.algorithm_name, null);
  assert.equal(lesion.interpreter, 'Doe^Jane');
  assert.equal(lesion.frame_of_reference, `${ROOT}.1.9`);

  // Pixel for pixel, on the right slice; the ring is 4 contours (outer, hole, island in the hole, blob).
  const expected = [
    { sop: `${ROOT}.1.2`, roi: lesion.number, mask: ring },
    { sop: `${ROOT}.1.3`, roi: lesion.number, mask: lesion2 },
    { sop: `${ROOT}.1.3`, roi: liver.number, mask: liver2 },
  ];
  assert.equal(r.masks.length, expected.length);
  for (const e of expected) {
    const got = r.masks.find((m) => m.sop === e.sop && m.roi === e.roi);
    assert.ok(got, `contours of ROI ${e.roi} on ${e.sop}`);
    assert.deepEqual(got.counts, encodeRle(e.mask, H, W).counts, `ROI ${e.roi} on ${e.sop}`);
  }
  assert.equal(r.contours.filter((c) => c.sop === `${ROOT}.1.2`).length, 4, 'outer boundary, hole, island in the hole, separate island');

  // The SEG of the same masks numbers its segments as the RTSTRUCT numbers its ROIs.
  const seg = await jobEnded(s, (await s['export.segStart']({ imageId: ids.ct0! })).jobId);
  assert.equal(seg.state, 'succeeded', seg.error?.message);
  const segBack = JSON.parse(
    execFileSync(python, [path.join(here, 'seg_readback.py'), path.join(dir, 'proj', seg.exported!.file)], { env: { ...process.env, ...runtimeEnv() }, encoding: 'utf8' }).trim().split('\n').at(-1)!,
  ) as { segments: { number: number; label: string }[] };
  assert.deepEqual(
    segBack.segments.map((x) => [x.number, x.label]),
    r.rois.map((x) => [x.number, x.name]),
  );

  // The same masks: the same object. A changed mask: version 2, naming version 1 as its predecessor.
  const again = await exportRt(ids.ct3!);
  assert.deepEqual({ ...again, reused: false }, first);
  assert.equal(again.reused, true);
  await save(ids.ct2!, 0, labelIds.lesion, ellipse(41, 25, 10, 5));
  const v2 = await exportRt(ids.ct0!);
  assert.equal(v2.version, 2);
  assert.notEqual(v2.sopInstanceUid, first.sopInstanceUid);
  const r2 = readBack(path.join(dir, 'proj', v2.file));
  assert.equal(r2.predecessor, first.sopInstanceUid);
  assert.equal(r2.series_number, 9802);
  const audit = await s['audit.list']({ limit: 50 });
  assert.equal(audit.filter((a) => a.entity === 'export' && (JSON.parse(a.detail) as { kind: string }).kind === 'rtstruct').length, 2, 'two RTSTRUCT exports recorded');
});

test('an oblique, flipped MONOCHROME1 series: contours at the patient coordinates worked out by hand, and an exact readback', { timeout: 120_000 }, async () => {
  const dot = new Uint8Array(W * H);
  dot[3 * W + 5] = 1; // row 3, column 5
  const blob = ringWithIslands();
  await save(ids.obl1!, 0, labelIds.marker, dot);
  await save(ids.obl1!, 0, labelIds.lesion, blob);
  const out = await exportRt(ids.obl0!);
  const file = path.join(dir, 'proj', out.file);
  assert.deepEqual(dciodvfyErrors(file), [], 'dciodvfy errors');
  const r = readBack(file);
  const marker = r.rois.find((x) => x.name === 'marker')!;
  assert.equal(marker.interpreted_type, 'MARKER');
  const [contour, ...others] = r.contours.filter((c) => c.roi === marker.number);
  assert.equal(others.length, 0);
  // Pixel (3, 5) spans columns 4.5..5.5 and rows 2.5..3.5; its outline sits 0.01 pixel inside,
  // at columns 4.51 and 5.49, rows 2.51 and 3.49. Slice 1 lies at (7.6, 21.8, 30); a column
  // step is 0.5 mm along (0.6, 0.8, 0), a row step 2 mm along (0, 0, -1):
  //   (4.51, 2.51) -> (7.6 + 2.255*0.6, 21.8 + 2.255*0.8, 30 - 5.02) = (8.953, 23.604, 24.98)
  //   (5.49, 2.51) -> (7.6 + 2.745*0.6, 21.8 + 2.745*0.8, 30 - 5.02) = (9.247, 23.996, 24.98)
  // and the same at row 3.49 (z = 30 - 6.98 = 23.02), clockwise on screen from the top left.
  assert.equal(contour!.sop, `${OBLIQUE}.1.2`);
  const expected = [
    [8.953, 23.604, 24.98],
    [9.247, 23.996, 24.98],
    [9.247, 23.996, 23.02],
    [8.953, 23.604, 23.02],
  ];
  assert.equal(contour!.points.length, 4);
  contour!.points.forEach((p, i) => p.forEach((v, k) => assert.ok(Math.abs(v - expected[i]![k]!) < 1e-6, `point ${i}: ${p} vs ${expected[i]}`)));
  assert.ok(r.max_off_plane_mm < 1e-5);
  for (const [roi, mask] of [[marker.number, dot], [r.rois.find((x) => x.name === 'lesion')!.number, blob]] as const) {
    const got = r.masks.find((m) => m.roi === roi && m.sop === `${OBLIQUE}.1.2`);
    assert.deepEqual(got?.counts, encodeRle(mask, H, W).counts, `ROI ${roi}`);
  }
});

test('an enhanced multi-frame CT: contours reference the image and its frame, and read back exactly', { timeout: 120_000 }, async () => {
  const frames = [{ frame: 0, mask: ellipse(15, 15, 6, 6) }, { frame: 2, mask: ringWithIslands() }];
  for (const f of frames) await save(ids.enhanced!, f.frame, labelIds.liver, f.mask);
  const out = await exportRt(ids.enhanced!);
  const file = path.join(dir, 'proj', out.file);
  assert.deepEqual(dciodvfyErrors(file), [], 'dciodvfy errors');
  const r = readBack(file);
  assert.deepEqual(r.referenced_images, [[`${ROOT}.3.1`, [1, 2, 3]]], 'the image with all its frames');
  assert.equal(r.masks.length, 2);
  for (const f of frames) {
    const got = r.masks.find((m) => m.sop === `${ROOT}.3.1` && m.frame === f.frame + 1);
    assert.deepEqual(got?.counts, encodeRle(f.mask, H, W).counts, `frame ${f.frame + 1}`);
  }
});

test('a source without patient geometry is refused with a sentence naming the file', { timeout: 60_000 }, async (t) => {
  await save(ids.mono1!, 0, labelIds.lesion, ellipse(30, 20, 12, 8));
  const j = await jobEnded(s, (await s['export.rtstructStart']({ imageId: ids.mono1! })).jobId);
  assert.equal(j.state, 'failed');
  t.diagnostic(j.error!.message);
  assert.match(j.error!.message, /^RTSTRUCT not written: mono1\.dcm: has no patient geometry .*export a DICOM SEG instead$/);
  assert.match(j.error!.file ?? '', /media\/.*\.dcm$/, 'the stored copy is named as the file');
  const unknown = await jobEnded(s, (await s['export.rtstructStart']({ imageId: 999_999 })).jobId);
  assert.match(unknown.error!.message, /No image with id 999999/);
});

test('RT ROI Interpreted Type follows the label name', () => {
  assert.deepEqual(
    ['Tumour', 'lesion', 'GTV primary', 'ptv', 'Liver', 'left kidney', 'body', 'fiducial', 'cyst', 'defect'].map(interpretedTypeForLabel),
    ['GTV', 'GTV', 'GTV', 'PTV', 'ORGAN', 'ORGAN', 'EXTERNAL', 'MARKER', '', ''],
  );
});
