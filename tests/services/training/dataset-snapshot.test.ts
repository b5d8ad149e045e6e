/**
 * The dataset snapshot round trip: Node writes it from a project, the Python runtime reads it
 * with its own reader, and the pixels the runtime trains on equal what SAM saw in the app
 * (the phantom's HU through the window the user drew in, by the one formula), the masks are
 * the saved ones, and whole patients stay on one side of the split. The snapshot is named by
 * its content: the same project writes the same folder; one changed mask writes a new one.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { ImageDetail, PixelFrame } from '../../../electron/contract/api.js';
import { encodeRle } from '../../../electron/contract/rle.js';
import { windowGrey } from '../../../electron/contract/windowing.js';
import { ProjectService } from '../../../electron/services/index.js';
import { findPythonSync, runtimeEnv } from '../../../electron/services/runtime/python-path.node.js';
import { writeSnapshot } from '../../../electron/services/training/dataset-snapshot.node.js';
import { phantomSeries, PHANTOM } from '../../fixtures/lesion-phantom.js';

let project: ProjectService;
let dir: string;
const series = phantomSeries(5, 2, 3);
const ids = new Map<string, number>();
const drawnWindow = { center: 30, width: 300 }; // not the file's 40/400: the snapshot must use what the user saw

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'snapshot-'));
  project = new ProjectService({ user: 'tester', transport: 'browser' });
  project['project.create']({ path: path.join(dir, 'proj') });
  const report = await project['images.importFiles']({ files: series.map((p) => ({ name: p.fileName, bytes: new Uint8Array(p.dicom) })) });
  for (const r of report.imported) ids.set(r.file, r.imageId);
  const labelId = project['labels.list']({})[0]!.id;
  for (const p of series) {
    project['masks.save']({ imageId: ids.get(p.fileName)!, frame: 0, labelId, instance: 1, rle: encodeRle(p.lesion, PHANTOM.size, PHANTOM.size), source: 'brush', window: drawnWindow });
  }
});

after(() => {
  project.close();
  rmSync(dir, { recursive: true, force: true });
});

function sources() {
  const open = project.openProject()!;
  return {
    db: open.db,
    projectDir: open.dir,
    pixels: (imageId: number, frame: number) => project['image.pixels']({ imageId, frame }) as Promise<PixelFrame>,
    detail: (imageId: number) => project['image.get']({ imageId }) as ImageDetail,
  };
}

/** What the runtime's reader makes of the snapshot: per record, the image it trains on and its mask. */
function readWithRuntime(snapshot: string): { image_id: number; split: string; grey_b64: string; mask_b64: string; shape: number[] }[] {
  const script = `
import base64, json, sys
import numpy as np
from delineate_runtime.data.loader import open_dataset
from delineate_runtime.data.images import load_image
ds = open_dataset(sys.argv[1])
meta = {im["id"]: im["delineate"]["image_id"] for im in json.load(open(sys.argv[1] + "/annotations.json"))["images"]}
out = []
for r in ds.records:
    img = load_image(r.path, r.window)
    assert img.shape[2] == 3 and np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 0], img[..., 2])
    out.append({"image_id": meta[r.image_id], "split": r.split, "shape": list(img.shape),
                "grey_b64": base64.b64encode(img[..., 0].astype(np.uint8).tobytes()).decode(),
                "mask_b64": base64.b64encode(r.instances[0].mask.astype(np.uint8).tobytes()).decode()})
print(json.dumps(out))
`;
  return JSON.parse(execFileSync(findPythonSync(), ['-c', script, snapshot], { encoding: 'utf8', env: { ...process.env, ...runtimeEnv() }, maxBuffer: 64 << 20 }));
}

test('the runtime reads exactly the pixels SAM saw (drawn window, one formula), the saved masks, and a split by patient', { timeout: 120_000 }, async () => {
  const snap = await writeSnapshot(sources());
  assert.equal(snap.images, series.length);
  assert.equal(snap.groupBy, 'patient');
  const records = readWithRuntime(snap.dir);
  assert.equal(records.length, series.length);
  const sideOfPatient = new Map<number, Set<string>>();
  for (const r of records) {
    const p = series.find((x) => ids.get(x.fileName) === r.image_id)!;
    assert.deepEqual(r.shape, [PHANTOM.size, PHANTOM.size, 3]);
    const grey = Buffer.from(r.grey_b64, 'base64');
    const expected = Buffer.from(Array.from(p.stored, (v) => windowGrey(v + PHANTOM.intercept, drawnWindow)));
    assert.ok(grey.equals(expected), `image ${p.fileName}: the runtime's pixels differ from the app's`);
    assert.ok(Buffer.from(r.mask_b64, 'base64').equals(Buffer.from(p.lesion)), `mask of ${p.fileName}`);
    if (!sideOfPatient.has(p.patient)) sideOfPatient.set(p.patient, new Set());
    sideOfPatient.get(p.patient)!.add(r.split);
  }
  for (const [patient, sides] of sideOfPatient) assert.equal(sides.size, 1, `patient ${patient} on both sides`);
  assert.ok(records.some((r) => r.split === 'val') && records.some((r) => r.split === 'train'));
});

test('content-addressed: the same masks give the same snapshot, a changed mask a new one; nothing half-written is left', { timeout: 120_000 }, async () => {
  const a = await writeSnapshot(sources());
  const b = await writeSnapshot(sources());
  assert.equal(b.hash, a.hash);
  assert.equal(b.reused, true);
  const p = series[0]!;
  const changed = new Uint8Array(p.lesion);
  changed[0] = 1;
  project['masks.save']({ imageId: ids.get(p.fileName)!, frame: 0, labelId: project['labels.list']({})[0]!.id, instance: 1, rle: encodeRle(changed, PHANTOM.size, PHANTOM.size), source: 'brush', window: drawnWindow });
  const c = await writeSnapshot(sources());
  assert.notEqual(c.hash, a.hash);
  assert.ok(existsSync(path.join(a.dir, 'annotations.json')), 'the earlier snapshot stays as it was (a trained model refers to it)');
  const annotations = JSON.parse(readFileSync(path.join(c.dir, 'annotations.json'), 'utf8')) as { images: unknown[] };
  assert.equal(annotations.images.length, series.length);
  const leftovers = readdirSync(path.dirname(a.dir)).filter((n) => n.startsWith('.tmp-'));
  assert.deepEqual(leftovers, []);
});
