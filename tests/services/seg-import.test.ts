/**
 * DICOM SEG import (issue 12): a Segmentation met by an import is not an image; its segments
 * become masks on the project's source images. SEG files here are real ones, written by the
 * app's own exporter (export.segStart, and its write-seg tool with an AUTOMATIC request) and
 * by highdicom directly (seg_fixture.py: BINARY on an odd-sized grid so frames are not byte
 * aligned, FRACTIONAL, and one without source references, placed by plane position).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { MaskRecord } from '../../electron/contract/api.js';
import type { ImportReport } from '../../electron/contract/imports.js';
import { decodeRle, encodeRle } from '../../electron/contract/rle.js';
import { runDicomTool } from '../../electron/services/dicom-export/dicom-tool.node.js';
import { dicomLock } from '../../electron/services/dicom-export/export.service.js';
import { dicomLabToHex, parseSeg, segmentInstances, type SegSegment } from '../../electron/services/importer/seg-import.js';
import { createServices, PROJECT_DB, type Services } from '../../electron/services/index.js';
import { findPython, runtimeEnv } from '../../electron/services/runtime/python-path.node.js';
import { MasksRepository } from '../../electron/services/store/masks.repository.js';
import { CT_IMAGE_STORAGE, TS, int16PixelModule, le, writeDicom } from '../fixtures/dicom-writer.js';
import { startOrthanc } from '../fixtures/orthanc.js';
import { sendFiles } from '../../electron/services/dicom-export/pacs.node.js';
import { jobEnded } from './helpers.js';
import { ctSlice, ellipse, enhancedCt, H, ROOT, saveMask, W } from './dicom-export/sources.js';

const here = path.dirname(fileURLToPath(import.meta.url));
let s: Services;
let dir: string;
let python: string;
/** The CT slices and the enhanced CT, as files (imported by path and given to SEG writers as sources). */
let ctFiles: string[];
let enhancedFile: string;
/** The app's own SEG exports of project A: the CT series and the enhanced CT. */
let segCt: string;
let segEnhanced: string;
/** Project A's masks by source file name: what the round trip must give back. */
let masksA: Map<string, MaskRecord[]>;
/** Project A's label names by id. */
let labelNamesA: Map<number, string>;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'seg-import-'));
  python = await findPython({ lock: dicomLock() });
  s = createServices({ user: 'Jane Doe', transport: 'browser', version: 'test', configDir: path.join(dir, 'config') });
  mkdirSync(path.join(dir, 'src'));
  ctFiles = [0, 1, 2, 3].map((i) => {
    const f = path.join(dir, 'src', `ct${i}.dcm`);
    writeFileSync(f, ctSlice(i));
    return f;
  });
  enhancedFile = path.join(dir, 'src', 'enhanced.dcm');
  writeFileSync(enhancedFile, enhancedCt());

  // Project A: masks drawn as the app draws them, exported as the app exports them.
  await s['project.create']({ path: path.join(dir, 'a'), name: 'A' });
  const r = await s['images.importPaths']({ paths: [...ctFiles, enhancedFile] });
  assert.equal(r.imported.length, 5, JSON.stringify(r.failed));
  const id = byFile(r);
  const lesion = (await s['labels.list']({})).find((l) => l.name === 'lesion')!.id;
  const liver = (await s['labels.upsert']({ name: 'liver', color: '#aa8800' })).id;
  await saveMask(s, id('ct1.dcm'), 0, lesion, ellipse(20, 20, 8, 6), true);
  await saveMask(s, id('ct2.dcm'), 0, lesion, ellipse(40, 25, 10, 5));
  await saveMask(s, id('ct2.dcm'), 0, liver, ellipse(30, 30, 20, 12));
  await saveMask(s, id('enhanced.dcm'), 0, lesion, ellipse(15, 15, 6, 9));
  await saveMask(s, id('enhanced.dcm'), 2, lesion, ellipse(45, 30, 12, 7));
  labelNamesA = new Map((await s['labels.list']({})).map((l) => [l.id, l.name]));
  masksA = new Map();
  for (const f of ['ct0.dcm', 'ct1.dcm', 'ct2.dcm', 'ct3.dcm', 'enhanced.dcm']) masksA.set(f, await s['masks.list']({ imageId: id(f) }));
  segCt = await exportSeg(id('ct0.dcm'));
  segEnhanced = await exportSeg(id('enhanced.dcm'));
});

after(async () => {
  await s?.close();
  rmSync(dir, { recursive: true, force: true });
});

function byFile(r: ImportReport): (name: string) => number {
  return (name) => {
    const hit = [...r.imported, ...r.duplicates].find((x) => path.basename(x.file) === name);
    assert.ok(hit, `${name} not in the report: ${JSON.stringify(r)}`);
    return hit.imageId;
  };
}

async function exportSeg(imageId: number): Promise<string> {
  const j = await jobEnded(s, (await s['export.segStart']({ imageId })).jobId);
  assert.equal(j.state, 'succeeded', j.error?.message ?? j.detail);
  // Copied out of project A, as a SEG arrives from elsewhere.
  const out = path.join(dir, `export-${imageId}.dcm`);
  writeFileSync(out, readFileSync(path.join(dir, 'a', j.exported!.file)));
  return out;
}

async function labelIds(): Promise<Map<string, number>> {
  return new Map((await s['labels.list']({})).map((l) => [l.name, l.id]));
}

/** A SEG written by the app's own write-seg tool from a hand-made request (what the headless node sends). */
async function writeSegWithTool(name: string, sources: string[], segments: object[], masks: { source: number; segment: number; mask: Uint8Array }[]): Promise<string> {
  const out = path.join(dir, `${name}.dcm`);
  const reqFile = path.join(dir, `${name}.json`);
  const uid = `${ROOT}.99.${name.length}.${Date.now() % 100000}`;
  writeFileSync(
    reqFile,
    JSON.stringify({
      out,
      sources,
      masks: masks.map((m) => ({ source: m.source, frame: 0, segment: m.segment, rle: encodeRle(m.mask, H, W) })),
      segments,
      series_instance_uid: `${uid}.1`,
      sop_instance_uid: `${uid}.2`,
      series_number: 90,
      series_description: 'node',
      content_label: 'NODE',
      content_description: 'automatic',
      content_creator: 'Node^Headless',
      manufacturer: 'Delineate',
      model_name: 'Delineate node',
      software_version: 'test',
      device_serial: 'node',
    }),
  );
  await runDicomTool(python, 'write-seg', reqFile, 'test SEG not written');
  return out;
}

/** A SEG written by highdicom itself (seg_fixture.py). */
function writeSegWithHighdicom(name: string, req: object): string {
  const out = path.join(dir, `${name}.dcm`);
  const reqFile = path.join(dir, `${name}.json`);
  writeFileSync(reqFile, JSON.stringify({ ...req, out }));
  execFileSync(python, [path.join(here, 'seg_fixture.py'), reqFile], { env: { ...process.env, ...runtimeEnv() }, encoding: 'utf8' });
  return out;
}

const automatic = (label: string, type: { scheme: string; value: string; meaning: string }, color?: number[]) => ({
  label,
  category: { scheme: 'SCT', value: '49755003', meaning: 'Morphologically abnormal structure' },
  type,
  algorithm_type: 'AUTOMATIC',
  algorithm: { name: 'node-model', version: '1' },
  ...(color ? { color } : {}),
});
const LESION = { scheme: 'SCT', value: '52988006', meaning: 'Lesion' };
const KIDNEY = { scheme: 'SCT', value: '64033007', meaning: 'Kidney' };

test('round trip: project -> SEG export -> new project with the same series -> SEG import gives the same masks', { timeout: 300_000 }, async (t) => {
  await s['project.create']({ path: path.join(dir, 'b'), name: 'B' });
  const r = await s['images.importPaths']({ paths: [...ctFiles, enhancedFile] });
  const id = byFile(r);
  const seg = await s['images.importPaths']({ paths: [segCt, segEnhanced] });
  t.diagnostic(JSON.stringify(seg.segmentations));
  assert.deepEqual(seg.failed, []);
  assert.equal(seg.imported.length, 0, 'a SEG is not imported as an image');
  assert.equal(seg.segmentations?.length, 2);
  const [ct, enh] = [segCt, segEnhanced].map((f) => seg.segmentations!.find((x) => x.file === f)!);
  assert.equal(ct!.outcome, 'attached');
  assert.equal(ct!.written, 3, 'lesion on ct1 and ct2, liver on ct2');
  assert.equal(ct!.source, 'import');
  assert.deepEqual(ct!.labels, ['lesion', 'liver']);
  assert.equal(enh!.written, 2, 'frames 1 and 3 of the enhanced CT');
  assert.deepEqual(enh!.imageIds, [id('enhanced.dcm')]);
  assert.match(ct!.message, /3 masks attached to 2 images/);

  const labels = await s['labels.list']({});
  const liver = labels.find((l) => l.name === 'liver')!;
  assert.equal(liver.code, 'liver', 'created with the code its coded concept (SCT 10200004) has in the codes list');
  const nameOf = new Map(labels.map((l) => [l.id, l.name]));
  for (const [file, expected] of masksA) {
    const got = await s['masks.list']({ imageId: id(file) });
    const key = (m: MaskRecord) => `${m.frame}/${m.instance}`;
    assert.deepEqual(
      got.map((m) => [key(m), nameOf.get(m.labelId), m.rle]).sort(),
      expected.map((m) => [key(m), labelNamesA.get(m.labelId), m.rle]).sort(),
      `${file}: masks equal pixel for pixel`,
    );
    for (const m of got) assert.equal(m.source, 'import', 'a MANUAL/SEMIAUTOMATIC SEG gives source "import"');
  }
  assert.equal((await s['images.list']({})).find((i) => i.id === id('ct1.dcm'))?.status, 'in_progress', 'a first mask marks the image in progress');

  // The same SEG again: nothing changes.
  const again = await s['images.importPaths']({ paths: [segCt] });
  assert.equal(again.segmentations?.[0]?.outcome, 'unchanged');
  assert.equal(again.segmentations?.[0]?.unchanged, 3);
  assert.equal(again.segmentations?.[0]?.written, 0);

  // Training reads them: the dataset snapshot's query includes every imported mask.
  const db = new Database(path.join(dir, 'b', PROJECT_DB), { readonly: true });
  try {
    const rows = new MasksRepository(db).forTraining();
    const trained = new Set(rows.map((m) => `${m.imageId}/${m.frame}`));
    for (const k of [`${id('ct1.dcm')}/0`, `${id('ct2.dcm')}/0`, `${id('enhanced.dcm')}/0`, `${id('enhanced.dcm')}/2`]) assert.ok(trained.has(k), `forTraining includes ${k}`);
    assert.equal(rows.length, 5);
    const audit = db.prepare("SELECT count(*) AS n FROM audit WHERE entity = 'mask' AND action = 'create' AND detail LIKE '%\"seg\"%'").get() as { n: number };
    assert.equal(audit.n, 5, 'one audit row per mask written, naming the SEG');
  } finally {
    db.close();
  }
});

test('AUTOMATIC SEG from the node: drafts to review, trained on only once accepted or edited, automatic until edited; hand-made masks are never overwritten', { timeout: 300_000 }, async () => {
  await s['project.create']({ path: path.join(dir, 'c'), name: 'C' });
  const id = byFile(await s['images.importPaths']({ paths: ctFiles }));
  const lesion = (await labelIds()).get('lesion')!;
  const drawn = ellipse(22, 22, 5, 5);
  await saveMask(s, id('ct1.dcm'), 0, lesion, drawn); // a radiologist's mask, before the node's SEG arrives
  const seg1 = await writeSegWithTool(
    'auto1',
    ctFiles,
    [
      { number: 1, ...automatic('lesion', LESION, [54.29, 80.8, 69.89]) },
      { number: 2, ...automatic('Kidney', KIDNEY, [54.29, 80.8, 69.89]) },
    ],
    [
      { source: 1, segment: 1, mask: ellipse(30, 20, 9, 7) },
      { source: 3, segment: 1, mask: ellipse(10, 10, 4, 4) },
      { source: 0, segment: 2, mask: ellipse(40, 30, 10, 8) },
    ],
  );
  const r = await s['images.importPaths']({ paths: [seg1] });
  const o = r.segmentations![0]!;
  assert.equal(o.outcome, 'attached');
  assert.equal(o.written, 2);
  assert.equal(o.kept, 1, "the radiologist's lesion on ct1 is kept");
  assert.equal(o.source, 'automatic');
  assert.match(o.message, /1 not attached because a mask drawn, corrected or accepted by hand is there/);
  const ct1 = await s['masks.list']({ imageId: id('ct1.dcm') });
  assert.deepEqual(decodeRle(ct1[0]!.rle), drawn, 'not overwritten');
  assert.equal(ct1[0]!.source, 'brush');
  const kidney = (await s['labels.list']({})).find((l) => l.name === 'Kidney')!;
  assert.equal(kidney.code, 'kidney');
  assert.equal(kidney.color, '#ff0000', "created with the segment's recommended colour (sRGB red as CIELab)");
  const ct3 = await s['masks.list']({ imageId: id('ct3.dcm') });
  assert.equal(ct3[0]!.source, 'automatic');
  assert.equal(ct3[0]!.draft, true, "the node's output is a draft to review");
  assert.deepEqual(decodeRle(ct3[0]!.rle), ellipse(10, 10, 4, 4));
  assert.match(o.message, /automatic: drafts to review/);
  const trainedKeys = () => {
    const db = new Database(path.join(dir, 'c', PROJECT_DB), { readonly: true });
    try {
      return new Set(new MasksRepository(db).forTraining().map((m) => `${m.imageId}/${m.labelId}`));
    } finally {
      db.close();
    }
  };
  assert.deepEqual([...trainedKeys()], [`${id('ct1.dcm')}/${lesion}`], "unreviewed output is not a label: only the radiologist's mask trains");
  assert.equal((await s['images.list']({})).find((i) => i.id === id('ct0.dcm'))?.status, 'unlabelled', 'a draft is not work on the image yet');

  // The radiologist corrects the node's lesion on ct3: an ordinary save makes it theirs (and accepted).
  await saveMask(s, id('ct3.dcm'), 0, lesion, ellipse(11, 11, 5, 5));
  const ct3Edited = (await s['masks.list']({ imageId: id('ct3.dcm') }))[0]!;
  assert.equal(ct3Edited.source, 'brush', 'the source is the last write');
  assert.equal(ct3Edited.draft, false);
  assert.ok(trainedKeys().has(`${id('ct3.dcm')}/${lesion}`), 'a corrected mask counts as a label');

  // The node sends a new version: the automatic kidney is replaced, the corrected lesion kept.
  const seg2 = await writeSegWithTool(
    'auto2',
    ctFiles,
    [{ number: 1, ...automatic('lesion', LESION) }, { number: 2, ...automatic('Kidney', KIDNEY) }],
    [
      { source: 3, segment: 1, mask: ellipse(12, 12, 4, 4) },
      { source: 0, segment: 2, mask: ellipse(38, 30, 11, 8) },
    ],
  );
  const o2 = (await s['images.importPaths']({ paths: [seg2] })).segmentations![0]!;
  assert.equal(o2.written, 1);
  assert.equal(o2.kept, 1);
  const ct0 = await s['masks.list']({ imageId: id('ct0.dcm') });
  assert.deepEqual(decodeRle(ct0[0]!.rle), ellipse(38, 30, 11, 8));
  assert.equal(ct0[0]!.source, 'automatic');
  assert.deepEqual(decodeRle((await s['masks.list']({ imageId: id('ct3.dcm') }))[0]!.rle), ellipse(11, 11, 5, 5));

  // Accepted unchanged, the kidney becomes a label and keeps its automatic origin.
  const accepted = await s['segments.acceptDrafts']({ imageId: id('ct0.dcm'), labelId: kidney.id, instance: 1 });
  assert.equal(accepted.accepted, 1);
  const ct0Accepted = (await s['masks.list']({ imageId: id('ct0.dcm') }))[0]!;
  assert.deepEqual([ct0Accepted.source, ct0Accepted.draft], ['automatic', false]);
  assert.ok(trainedKeys().has(`${id('ct0.dcm')}/${kidney.id}`), 'an accepted automatic mask counts as a label');
  // The same SEG again: the accepted kidney is the same mask, not one "kept" against it.
  const o2again = (await s['images.importPaths']({ paths: [seg2] })).segmentations![0]!;
  assert.deepEqual([o2again.written, o2again.unchanged, o2again.kept], [0, 1, 1], 'the kidney unchanged; the corrected lesion kept');
  // A reviewed mask is a person's decision: a later SEG from the node does not replace it.
  const seg2b = await writeSegWithTool('auto2b', ctFiles, [{ number: 1, ...automatic('Kidney', KIDNEY) }], [{ source: 0, segment: 1, mask: ellipse(25, 25, 6, 6) }]);
  const o2b = (await s['images.importPaths']({ paths: [seg2b] })).segmentations![0]!;
  assert.deepEqual([o2b.outcome, o2b.written, o2b.kept], ['kept', 0, 1]);
  assert.deepEqual(decodeRle((await s['masks.list']({ imageId: id('ct0.dcm') }))[0]!.rle), ellipse(38, 30, 11, 8));

  // A locked segment keeps its pixels, even automatic ones.
  await s['segments.update']({ imageId: id('ct0.dcm'), labelId: kidney.id, instance: 1, locked: true });
  const seg3 = await writeSegWithTool('auto3', ctFiles, [{ number: 1, ...automatic('Kidney', KIDNEY) }], [{ source: 2, segment: 1, mask: ellipse(20, 20, 6, 6) }]);
  const o3 = (await s['images.importPaths']({ paths: [seg3] })).segmentations![0]!;
  assert.deepEqual([o3.outcome, o3.written, o3.kept], ['kept', 0, 1]);
  assert.match(o3.message, /1 not attached because the segment is locked/);
  assert.deepEqual(await s['masks.list']({ imageId: id('ct2.dcm') }), [], 'not even a draft on a slice the locked segment had none');
});

/** An odd-sized CT series (13 x 11: 143 pixels a frame, so BINARY frames do not start on a byte). */
const OW = 13;
const OH = 11;
function oddSlice(i: number, series = 1): Buffer {
  return writeDicom(
    {
      SOPClassUID: CT_IMAGE_STORAGE,
      SOPInstanceUID: `${ROOT}.5.${series}.${i + 1}`,
      StudyInstanceUID: `${ROOT}.5`,
      SeriesInstanceUID: `${ROOT}.5.${series}`,
      FrameOfReferenceUID: `${ROOT}.5.9`,
      PatientName: 'Odd^Grid',
      PatientID: 'ODD-1',
      PatientBirthDate: '19700101',
      PatientSex: 'O',
      ReferringPhysicianName: '',
      StudyID: '1',
      AccessionNumber: 'ODD',
      StudyDate: '20260101',
      StudyTime: '120000',
      Modality: 'CT',
      SeriesNumber: 3,
      InstanceNumber: i + 1,
      ImagePositionPatient: [0, 0, i * 3],
      ImageOrientationPatient: [1, 0, 0, 0, 1, 0],
      PixelSpacing: [1, 1],
      SliceThickness: 3,
      ...int16PixelModule(OH, OW, 0),
    },
    { transferSyntax: TS.explicitLE, pixelFrames: [le(new Int16Array(OW * OH).map((_, k) => k * 3 + i))] },
  );
}

test('highdicom SEGs: BINARY bit packing across frames, FRACTIONAL at 50 %, and frames placed by plane position', { timeout: 300_000 }, async () => {
  await s['project.create']({ path: path.join(dir, 'd'), name: 'D' });
  const files = [0, 1, 2].map((i) => {
    const f = path.join(dir, 'src', `odd${i}.dcm`);
    writeFileSync(f, oddSlice(i));
    return f;
  });
  // A second series on the same planes (as a post-contrast series would be): the SEG's
  // Referenced Series Sequence must keep plane matching on the series it segments.
  const twins = [0, 1, 2].map((i) => {
    const f = path.join(dir, 'src', `twin${i}.dcm`);
    writeFileSync(f, oddSlice(i, 2));
    return f;
  });
  const id = byFile(await s['images.importPaths']({ paths: [...files, ...twins] }));
  // A pattern with no symmetry a wrong bit order or frame offset could keep.
  const pattern = (f: number, seg: number) => Array.from({ length: OW * OH }, (_, k) => ((k * 7 + f * 5 + seg * 3) % 11 < 4 ? 1 : 0));
  const pixels = (segs: number, value: (f: number, sg: number, k: number) => number) => [0, 1, 2].flatMap((f) => Array.from({ length: segs }, (_, sg) => Array.from({ length: OW * OH }, (_, k) => value(f, sg, k))).flat());
  const binary = writeSegWithHighdicom('binary', {
    sources: files,
    type: 'BINARY',
    segments: [{ label: 'alpha', algorithm_type: 'MANUAL' }, { label: 'beta', algorithm_type: 'AUTOMATIC', lab: [50, 0, 0] }],
    pixels: pixels(2, (f, sg, k) => pattern(f, sg)[k]!),
  });
  // Fractions below and above one half: only >= 50 % counts as inside.
  const levels = [0.2, 0.45, 0.55, 0.9];
  const frac = (f: number, k: number) => levels[(k + f) % 4]!;
  const fractional = writeSegWithHighdicom('fractional', {
    sources: files,
    type: 'FRACTIONAL',
    segments: [{ label: 'gamma', algorithm_type: 'AUTOMATIC' }],
    pixels: pixels(1, (f, _sg, k) => frac(f, k)),
  });
  const planes = writeSegWithHighdicom('planes', {
    sources: files,
    type: 'BINARY',
    strip_refs: true,
    segments: [{ label: 'delta', algorithm_type: 'MANUAL' }],
    pixels: pixels(1, (f, _sg, k) => pattern(f, 5)[k]!),
  });
  const placed = await parseSeg(readFileSync(planes));
  assert.ok(placed.masks.length === 3 && placed.masks.every((m) => m.refs.length === 0 && m.position !== null), 'the plane test SEG names no source frames');
  assert.equal((await parseSeg(readFileSync(fractional))).segmentationType, 'FRACTIONAL');
  const r = await s['images.importPaths']({ paths: [binary, fractional, planes] });
  assert.deepEqual(r.failed, []);
  assert.equal(r.segmentations?.length, 3);
  const labels = await labelIds();
  const beta = (await s['labels.list']({})).find((l) => l.name === 'beta')!;
  const [red, green, blue] = [1, 3, 5].map((i) => parseInt(beta.color.slice(i, i + 2), 16));
  assert.ok(Math.abs(red! - green!) <= 2 && Math.abs(green! - blue!) <= 2 && red! > 105 && red! < 135, `L*=50 grey recommended: ${beta.color}`);
  for (const [f, file] of ['odd0.dcm', 'odd1.dcm', 'odd2.dcm'].entries()) {
    const masks = await s['masks.list']({ imageId: id(file) });
    const get = (label: string) => masks.find((m) => m.labelId === labels.get(label));
    assert.deepEqual([...decodeRle(get('alpha')!.rle)], pattern(f, 0), `${file}: BINARY segment 1 unpacked bit for bit`);
    assert.deepEqual([...decodeRle(get('beta')!.rle)], pattern(f, 1), `${file}: BINARY segment 2`);
    assert.equal(get('alpha')!.source, 'import');
    assert.equal(get('beta')!.source, 'automatic');
    assert.deepEqual([...decodeRle(get('gamma')!.rle)], Array.from({ length: OW * OH }, (_, k) => (frac(f, k) >= 0.5 ? 1 : 0)), `${file}: FRACTIONAL thresholded at 50 %`);
    assert.equal(get('gamma')!.source, 'automatic');
    assert.deepEqual([...decodeRle(get('delta')!.rle)], pattern(f, 5), `${file}: placed by plane position (no source references)`);
    assert.deepEqual(await s['masks.list']({ imageId: id(`twin${f}.dcm`) }), [], 'nothing on the other series of the same planes');
  }
});

test('a corrupt SEG is a per-file problem; the rest of the import is stored', { timeout: 120_000 }, async () => {
  await s['project.create']({ path: path.join(dir, 'e'), name: 'E' });
  const bytes = readFileSync(segCt);
  const cut = path.join(dir, 'cut.dcm');
  writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.8)));
  // A SEG whose frame names a segment it does not describe.
  const badNumber = path.join(dir, 'bad-number.dcm');
  const b = Buffer.from(bytes);
  const at = b.indexOf(Buffer.from([0x62, 0x00, 0x0b, 0x00, 0x55, 0x53])); // (0062,000B) Referenced Segment Number, US
  assert.ok(at > 0);
  b.writeUInt16LE(9, at + 8);
  writeFileSync(badNumber, b);
  const r = await s['images.importPaths']({ paths: [...ctFiles, cut, badNumber] });
  assert.equal(r.imported.length, 4, 'the CT slices are stored');
  const failed = new Map(r.failed.map((f) => [path.basename(f.file), f]));
  assert.ok(failed.has('bad-number.dcm'), JSON.stringify(r));
  assert.equal(failed.get('cut.dcm')?.code, 'truncated');
  assert.match(failed.get('cut.dcm')!.reason, /^This DICOM Segmentation cannot be read: /);
  assert.equal(failed.get('bad-number.dcm')?.code, 'unreadable');
  assert.match(failed.get('bad-number.dcm')!.reason, /names segment 9, which it does not describe/);
  assert.equal(r.segmentations, undefined);
  for (const i of r.imported) assert.deepEqual(await s['masks.list']({ imageId: i.imageId }), []);
});

test('a SEG whose images are not in the project says so; imported with (or after) its series, it attaches', { timeout: 120_000 }, async () => {
  await s['project.create']({ path: path.join(dir, 'f'), name: 'F' });
  const alone = await s['images.importPaths']({ paths: [segCt] });
  assert.equal(alone.failed.length, 1);
  assert.equal(alone.failed[0]!.code, 'seg_sources_missing');
  assert.match(alone.failed[0]!.reason, /refers to images not in this project: import the series first/);
  assert.equal(alone.failed[0]!.file, segCt);
  // The SEG first in the list, its series after it, in one import: attached.
  const both = await s['images.importPaths']({ paths: [segCt, ...ctFiles] });
  assert.equal(both.imported.length, 4);
  assert.equal(both.segmentations?.[0]?.written, 3);
  // Only part of the series in a project: what is there is attached, the rest counted.
  await s['project.create']({ path: path.join(dir, 'g'), name: 'G' });
  await s['images.importPaths']({ paths: [ctFiles[1]!] });
  const part = (await s['images.importPaths']({ paths: [segCt] })).segmentations![0]!;
  assert.equal(part.written, 1);
  assert.equal(part.missing, 2);
  assert.match(part.message, /2 frames refer to images not in this project/);
});

test('pure parts: segment instances by label, CIELab colours', () => {
  const seg = (number: number, label: string): SegSegment => ({ number, label, algorithmType: null, algorithmName: null, color: null, category: null, type: null });
  const m = segmentInstances([seg(3, 'Lesion'), seg(1, 'lesion'), seg(2, 'Liver')]);
  assert.deepEqual(m.get(1), { label: 'lesion', instance: 1 });
  assert.deepEqual(m.get(3), { label: 'Lesion', instance: 2 });
  assert.deepEqual(m.get(2), { label: 'Liver', instance: 1 });
  assert.equal(dicomLabToHex([65535, 32896, 32896]), '#ffffff');
  assert.equal(dicomLabToHex([0, 32896, 32896]), '#000000');
});

test('a study retrieved from the PACS with its SEG: the SEG is attached to the retrieved series', { timeout: 120_000 }, async () => {
  const orthanc = await startOrthanc({ config: { DicomModalities: { delineate: ['DELINEATE', '127.0.0.1', 11112] } } });
  try {
    const d = { kind: 'dimse' as const, aeTitle: orthanc.aeTitle, host: '127.0.0.1', port: orthanc.dicomPort, callingAeTitle: 'DELINEATE', timeoutS: 20 };
    const stored = await sendFiles(python, d, [segCt, ...ctFiles]);
    assert.ok(stored.every((r) => r.ok), JSON.stringify(stored));
    const destinationId = (await s['pacs.saveDestination']({ name: 'Orthanc', kind: 'dimse', aeTitle: orthanc.aeTitle, host: '127.0.0.1', port: orthanc.dicomPort, callingAeTitle: 'DELINEATE' })).id;
    await s['project.create']({ path: path.join(dir, 'h'), name: 'H' });
    const j = await jobEnded(s, (await s['pacs.retrieveStart']({ destinationId, studyUids: [`${ROOT}.1`] })).jobId, 60_000, 25);
    assert.equal(j.state, 'succeeded', j.error?.message ?? j.detail);
    const report = j.importReport!;
    assert.equal(report.imported.length, 4, 'the four slices are images; the SEG is not');
    assert.equal(report.segmentations?.length, 1, JSON.stringify(report));
    assert.equal(report.segmentations![0]!.written, 3);
    assert.match(report.segmentations![0]!.file, /^Orthanc\//);
    const ct1 = (await s['images.list']({})).find((i) => i.fileName.endsWith('.dcm') && i.maskCount > 0);
    assert.ok(ct1, 'a retrieved slice has masks');
  } finally {
    await orthanc.stop();
  }
});
