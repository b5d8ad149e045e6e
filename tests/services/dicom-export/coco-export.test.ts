/**
 * COCO export of non-DICOM images (issue 11), through createServices as the app calls it:
 * the folder's annotations.json decodes (our decoder, and pycocotools from the runtime's
 * environment) to exactly the project's masks, with pycocotools' area and bbox;
 * each 16-bit label PNG (read by pngjs) holds every annotation's mask_value where it is the
 * last mask on a pixel; the images are copied byte for byte; the export is recorded, reused
 * when nothing changed and versioned when something did; DICOM images are refused.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pngjs from 'pngjs';
import { countsFromString as rleFromString, decodeRle, encodeRle } from '../../../electron/contract/rle.js';
import { createServices, type Services } from '../../../electron/services/index.js';
import { findPythonSync, runtimeEnv } from '../../../electron/services/runtime/python-path.node.js';
import { jobEnded } from '../helpers.js';
import { ctSlice, ellipse, H, W } from './sources.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const readPng16 = pngjs.PNG.sync.read as unknown as (b: Buffer, o: { skipRescale: boolean }) => { width: number; height: number; data: Uint16Array };

let s: Services;
let dir: string;
let ids: Record<string, number>;
const bytes: Record<string, Uint8Array<ArrayBuffer>> = {};
let labels: { lesion: number; defect: number };

function greyPng(seed: number, sixteen: boolean): Uint8Array<ArrayBuffer> {
  const data = sixteen ? Buffer.from(new Uint16Array(W * H).map((_, k) => (k * 97 + seed) & 0xffff).buffer) : Buffer.from(new Uint8Array(W * H).map((_, k) => (k * 3 + seed) & 0xff));
  return new Uint8Array(pngjs.PNG.sync.write({ width: W, height: H, data }, { colorType: 0, inputColorType: 0, bitDepth: sixteen ? 16 : 8, inputHasAlpha: false }));
}

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'coco-export-'));
  s = createServices({ user: 'Jane Doe', transport: 'browser', version: 'test' });
  await s['project.create']({ path: path.join(dir, 'proj'), name: 'COCO' });
  bytes['weld a.png'] = greyPng(1, false);
  bytes['weld b.png'] = greyPng(2, true);
  bytes['clean.png'] = greyPng(3, false);
  const files = [...Object.entries(bytes).map(([name, b]) => ({ name, bytes: b })), { name: 'ct.dcm', bytes: new Uint8Array(ctSlice(0)) }];
  const report = await s['images.importFiles']({ files });
  assert.equal(report.imported.length, files.length, JSON.stringify(report.failed));
  ids = Object.fromEntries(report.imported.map((r) => [r.file, r.imageId]));
  const all = await s['labels.list']({});
  labels = { lesion: all.find((l) => l.name === 'lesion')!.id, defect: all.find((l) => l.name === 'defect')!.id };
});

after(async () => {
  await s?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function save(imageId: number, labelId: number, instance: number, mask: Uint8Array): Promise<void> {
  await s['masks.save']({ imageId, frame: 0, labelId, instance, rle: encodeRle(mask, H, W), source: 'brush' });
}

interface Coco {
  info: { version: string; contributor: string; delineate: { uid: string } };
  images: { id: number; file_name: string; width: number; height: number; mask_file: string }[];
  categories: { id: number; name: string }[];
  annotations: { id: number; image_id: number; category_id: number; segmentation: { size: [number, number]; counts: string }; area: number; bbox: number[]; iscrowd: number; instance: number; mask_value: number }[];
}

/** Run a COCO export job to its end; what it wrote, as the toolbar reads it. */
async function runCoco(params: { imageId?: number }) {
  const job = await jobEnded(s, (await s['export.cocoStart'](params)).jobId);
  if (job.state !== 'succeeded') throw new Error(job.error?.message ?? job.detail);
  const e = job.exported!;
  assert.equal(e.kind, 'coco');
  return { folder: e.file, images: e.frames, annotations: e.segments, version: e.version, reused: e.reused, detail: job.detail };
}

const read = (folder: string) => JSON.parse(readFileSync(path.join(dir, 'proj', folder, 'annotations.json'), 'utf8')) as Coco;

test('the project as COCO: RLE, area, bbox, label PNGs and images match the project exactly', { timeout: 60_000 }, async (t) => {
  const a = ids['weld a.png']!;
  const b = ids['weld b.png']!;
  const ring = ellipse(24, 24, 14, 12).map((v, i) => (v && !ellipse(24, 24, 6, 5)[i] ? 1 : 0));
  await save(a, labels.defect, 1, ellipse(10, 10, 6, 4));
  await save(a, labels.defect, 2, ellipse(14, 12, 5, 5)); // overlaps instance 1
  await save(a, labels.lesion, 1, ring);
  await save(b, labels.defect, 1, ellipse(50, 30, 8, 9));

  const out = await runCoco({});
  t.diagnostic(JSON.stringify(out));
  assert.deepEqual({ ...out, folder: undefined }, { folder: undefined, images: 3, annotations: 4, version: 1, reused: false, detail: `Wrote ${out.folder} (COCO version 1, 3 images, 4 annotations)` });
  const coco = read(out.folder);
  assert.equal(coco.info.contributor, 'Jane Doe');
  assert.deepEqual(coco.categories.map((c) => [c.id, c.name]), [[labels.lesion, 'lesion'], [labels.defect, 'defect']]);
  assert.deepEqual(coco.images.map((i) => i.file_name), [`images/${ids['clean.png']}-clean.png`, `images/${a}-weld_a.png`, `images/${b}-weld_b.png`]);
  for (const img of coco.images) {
    const name = Object.keys(bytes).find((n) => img.file_name.endsWith(n.replace(' ', '_')))!;
    assert.deepEqual(new Uint8Array(readFileSync(path.join(dir, 'proj', out.folder, img.file_name))), bytes[name], `${name} copied byte for byte`);
  }

  // Every annotation decodes to the project's mask, with the right image, label and instance.
  const imageOf = new Map(coco.images.map((i) => [i.id, ids[Object.keys(bytes).find((n) => i.file_name.endsWith(n.replace(' ', '_')))!]!]));
  for (const ann of coco.annotations) {
    const imageId = imageOf.get(ann.image_id)!;
    const stored = (await s['masks.list']({ imageId })).find((m) => m.labelId === ann.category_id && m.instance === ann.instance)!;
    assert.ok(stored, `annotation ${ann.id} is a mask of the project`);
    assert.deepEqual(rleFromString(ann.segmentation.counts), stored.rle.counts, `annotation ${ann.id}: RLE`);
    const pixels = decodeRle(stored.rle);
    assert.equal(ann.area, pixels.reduce((n, v) => n + v, 0));
    assert.equal(ann.iscrowd, 0);
  }
  assert.deepEqual(coco.annotations.find((x) => x.image_id === coco.images[2]!.id)!.bbox, [42, 21, 17, 19], 'bbox [x, y, w, h] of the ellipse at (50, 30), radii 8 and 9');

  // The label PNGs: 16-bit, each pixel the mask_value of the last annotation on it.
  for (const img of coco.images) {
    const png = readPng16(readFileSync(path.join(dir, 'proj', out.folder, img.mask_file)), { skipRescale: true });
    assert.deepEqual([png.width, png.height], [W, H]);
    const expected = new Uint16Array(W * H);
    for (const ann of coco.annotations.filter((x) => x.image_id === img.id)) {
      decodeRle({ size: ann.segmentation.size, counts: rleFromString(ann.segmentation.counts) }).forEach((v, i) => v && (expected[i] = ann.mask_value));
    }
    const grey = Uint16Array.from({ length: W * H }, (_, i) => png.data[i * 4]!);
    assert.deepEqual(grey, expected, `${img.mask_file}`);
  }
  assert.deepEqual(readdirSync(path.join(dir, 'proj', 'exports', 'coco')), [path.basename(out.folder)], 'no temporary folder left');

  // pycocotools and PIL, the reference readers: the runtime's environment pins both.
  const r = JSON.parse(execFileSync(findPythonSync(), [path.join(here, 'coco_readback.py'), path.join(dir, 'proj', out.folder)], { env: { ...process.env, ...runtimeEnv() }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n').at(-1)!) as {
    annotations: { id: number; counts: number[]; area: number; bbox: number[] }[];
    pngs: Record<string, { mode: string }>;
  };
  assert.equal(r.annotations.length, coco.annotations.length);
  for (const ann of coco.annotations) {
    const p = r.annotations.find((x) => x.id === ann.id)!;
    assert.deepEqual(p.counts, rleFromString(ann.segmentation.counts), `pycocotools decodes annotation ${ann.id} to the same mask`);
    assert.equal(p.area, ann.area);
    assert.deepEqual(p.bbox, ann.bbox);
  }
  assert.ok(Object.values(r.pngs).length > 0 && Object.values(r.pngs).every((p) => p.mode === 'I;16'), 'PIL reads the label masks as 16-bit');
});

test('the same masks reuse the export; a changed mask writes version 2; one image alone; DICOM is refused', { timeout: 60_000 }, async () => {
  const first = await runCoco({});
  const again = await runCoco({});
  assert.equal(again.reused, true);
  assert.equal(again.folder, first.folder);
  await save(ids['clean.png']!, labels.defect, 1, ellipse(30, 30, 3, 3));
  const v2 = await runCoco({});
  assert.equal(v2.version, first.version + 1);
  assert.notEqual(v2.folder, first.folder);
  assert.equal(read(first.folder).annotations.length, 4, 'the earlier version is left as it was');
  assert.equal(read(v2.folder).annotations.length, 5);

  const one = await runCoco({ imageId: ids['weld b.png']! });
  assert.deepEqual([one.images, one.annotations], [1, 1]);
  assert.match(one.folder, /^exports\/coco\/\d+-weld_b-v1$/);

  await assert.rejects(runCoco({ imageId: ids['ct.dcm']! }), /ct\.dcm is a DICOM image: export it as a DICOM SEG or RTSTRUCT, not COCO/);
  const rt = await jobEnded(s, (await s['export.rtstructStart']({ imageId: ids['weld a.png']! })).jobId);
  assert.match(rt.error?.message ?? '', /weld a\.png is not a DICOM image: an RTSTRUCT needs DICOM sources/);

  const audit = (await s['audit.list']({ limit: 100 })).filter((x) => x.entity === 'export' && (JSON.parse(x.detail) as { kind: string }).kind === 'coco');
  assert.equal(audit.length, 3, 'three COCO exports recorded (project v1, v2, one image)');
});

test('a COCO export is a job: cancelled between images, it leaves nothing behind and records nothing', { timeout: 60_000 }, async () => {
  await save(ids['clean.png']!, labels.defect, 2, ellipse(20, 20, 4, 4)); // new content: not a reuse
  const before = readdirSync(path.join(dir, 'proj', 'exports', 'coco')).sort();
  const exportsBefore = (await s['audit.list']({ limit: 200 })).filter((x) => x.entity === 'export').length;
  const { jobId } = await s['export.cocoStart']({});
  await s['jobs.cancel']({ jobId });
  const job = await jobEnded(s, jobId);
  assert.equal(job.state, 'cancelled');
  assert.match(job.detail, /The COCO export was cancelled; nothing was written/);
  assert.deepEqual(readdirSync(path.join(dir, 'proj', 'exports', 'coco')).sort(), before, 'no folder and no temporary folder left');
  assert.equal((await s['audit.list']({ limit: 200 })).filter((x) => x.entity === 'export').length, exportsBefore);
  // Done again, it completes.
  assert.equal((await runCoco({})).reused, false);
});
