/**
 * The SAM half of the services through createServices, as the renderer calls it: no model ->
 * a message that says how to add one; import the tiny blob model; prepare (computed, then
 * cached on disk); click inside the lesion of a non-square CT slice shown through its
 * soft-tissue window -> a mask on the lesion; a negative click refines with the previous
 * low-res mask; a 16-bit PNG through its display range works the same way.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import pngjs from 'pngjs';
import { ApiError } from '../../electron/contract/api.js';
import { decodeRle } from '../../electron/contract/rle.js';
import { createServices, type Services } from '../../electron/services/index.js';
import { ModelManager } from '../../electron/services/models/model-manager.node.js';
import { lesionDicom } from './lesion-dicom.js';
import { maskIoU, syntheticSlice } from './synthetic-lesion.js';
import { tinyBlobBundle } from './test-models.js';

let s: Services;
let dir: string;
const W = 200;
const H = 150;
const { bytes, slice } = lesionDicom(W, H);
let imageId: number;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sam-service-'));
  s = createServices({ user: 'tester', transport: 'browser', version: 'test' });
  await s['project.create']({ path: path.join(dir, 'proj'), name: 'SAM' });
  const report = await s['images.importFiles']({ files: [{ name: 'lesion.dcm', bytes: new Uint8Array(bytes) }] });
  assert.equal(report.imported.length, 1, JSON.stringify(report.failed));
  imageId = report.imported[0]!.imageId;
});

after(async () => {
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

const window = { center: 40, width: 400 };

test('without a model SAM says how to add one, naming the official checkpoints', async () => {
  const list = await s['models.list']({});
  assert.deepEqual(list.models, []);
  await assert.rejects(
    Promise.resolve().then(() => s['sam.prepare']({ imageId, frame: 0, window })),
    (e: unknown) => e instanceof ApiError && e.code === 'not_found' && /sam_vit_b_01ec64\.pth/.test(e.message) && /segment-anything/.test(e.message),
  );
});

test('prepare computes once, then comes from the disk cache; click -> lesion; negative click refines', { timeout: 120_000 }, async (t) => {
  const model = await s['models.import']({ kind: 'bundle', path: tinyBlobBundle() });
  assert.equal((await s['models.list']({})).activeId, model.id);
  const first = await s['sam.prepare']({ imageId, frame: 0, window });
  assert.equal(first.cached, false);
  const again = await s['sam.prepare']({ imageId, frame: 0, window });
  assert.equal(again.cached, true);
  const other = await s['sam.prepare']({ imageId, frame: 0, window: { center: 40, width: 350 } });
  assert.equal(other.cached, false, 'another window is another embedding');

  const { x, y } = slice.lesionCenter;
  const p1 = await s['sam.predict']({ imageId, frame: 0, window, points: [{ x, y, label: 1 }], box: null, maskInput: null, multimask: true });
  assert.equal(p1.masks.length, 3);
  // What answered, for the status line: the bundle's fast decoder, on the CPU here (no GPU
  // provider libraries on this machine; on Linux CUDA is tried first and named).
  assert.equal(p1.decoder, 'fast');
  assert.match(p1.provider, /^CPU( \(CUDA not available: .+\))?$/);
  const st = await s['sam.status']({});
  assert.equal(st.decoder, 'fast');
  assert.equal(st.decoderProvider, p1.provider);
  assert.match(st.encoderProvider ?? '', /^CPU/);
  const best = decodeRle(p1.masks[p1.best]!.rle!);
  // Only the best candidate comes upsampled; the others on request (Tab), for this frame only.
  for (const [i, m] of p1.masks.entries()) {
    if (i === p1.best) continue;
    assert.equal(m.rle, null, `candidate ${i} is not upsampled up front`);
    const { rle } = await s['sam.candidate']({ imageId, frame: 0, lowRes: m.lowRes });
    assert.deepEqual(rle.size, [H, W]);
    assert.ok(decodeRle(rle).some((v) => v === 1), `candidate ${i} is a mask`);
  }
  await assert.rejects(Promise.resolve().then(() => s['sam.candidate']({ imageId: imageId + 1000, frame: 0, lowRes: p1.masks[0]!.lowRes })), /no longer held/);
  const iou = maskIoU(best, slice.lesion);
  t.diagnostic(`int8 model, one click: IoU vs lesion ${iou.toFixed(3)}, decode ${p1.decodeMs.toFixed(1)} ms, encode ${first.encodeMs.toFixed(0)} ms`);
  assert.ok(iou >= 0.7, `IoU ${iou}`);

  // A negative click just outside the lesion, with the previous low-res mask.
  const p2 = await s['sam.predict']({
    imageId,
    frame: 0,
    window,
    points: [{ x, y, label: 1 }, { x: x + slice.lesionRadius + 8, y, label: 0 }],
    box: null,
    maskInput: p1.masks[p1.best]!.lowRes,
    multimask: false,
  });
  assert.equal(p2.masks.length, 1);
  const refined = decodeRle(p2.masks[0]!.rle!);
  assert.equal(refined[Math.round(y) * W + Math.round(x + slice.lesionRadius + 8)], 0, 'the negative point is outside the mask');
  assert.ok(maskIoU(refined, slice.lesion) >= 0.6);
  await assert.rejects(
    Promise.resolve().then(() => s['sam.predict']({ imageId, frame: 0, window, points: [{ x, y, label: 1 }], box: null, maskInput: 'lr999999', multimask: false })),
    /no longer held/,
  );
  const status = await s['sam.status']({});
  assert.equal(status.modelId, model.id);
  assert.equal(status.variant, 'int8');
});

test('a 16-bit PNG is fed through the display range the viewer shows', { timeout: 60_000 }, async () => {
  const sl = syntheticSlice(160, 112, 11);
  const png = pngjs.PNG.sync.write({ width: 160, height: 112, data: sl.stored as unknown as Buffer }, { colorType: 0, inputColorType: 0, bitDepth: 16, inputHasAlpha: false });
  const r = await s['images.importFiles']({ files: [{ name: 'part.png', bytes: new Uint8Array(png) }] });
  assert.equal(r.imported.length, 1, JSON.stringify(r.failed));
  const id = r.imported[0]!.imageId;
  const win = { center: 1064, width: 400 }; // stored units: the same soft-tissue range
  await s['sam.prepare']({ imageId: id, frame: 0, window: win });
  const p = await s['sam.predict']({ imageId: id, frame: 0, window: win, points: [{ ...sl.lesionCenter, label: 1 }], box: null, maskInput: null, multimask: true });
  const iou = maskIoU(decodeRle(p.masks[p.best]!.rle!), sl.lesion);
  assert.ok(iou >= 0.6, `IoU ${iou}`);
});

test('prepare embeds the next slices in the background; opening one is then a cache hit', { timeout: 60_000 }, async () => {
  const list = await s['images.list']({});
  const other = list.find((i) => i.id !== imageId)!;
  const win = { center: 1000, width: 600 }; // a window not used before: nothing cached yet
  const r = await s['sam.prepare']({ imageId, frame: 0, window: win, next: [{ imageId: other.id, frame: 0 }] });
  assert.equal(r.cached, false);
  const t0 = Date.now();
  for (;;) {
    const st = await s['sam.status']({});
    if (st.queued === 0 && st.computing === null) break;
    assert.ok(Date.now() - t0 < 30_000, 'background precompute finishes');
    await new Promise((res) => setTimeout(res, 50));
  }
  const next = await s['sam.prepare']({ imageId: other.id, frame: 0, window: win });
  assert.equal(next.cached, true, 'the next slice was embedded in the background');
});

test('the model manager lists how fast the model ran here (medians of its embeddings and clicks), kept across a restart', async () => {
  const model = (await s['models.list']({})).models[0]!;
  const sp = model.speed;
  assert.ok(sp, 'measured once the model has run');
  assert.ok(sp.encodes >= 3 && sp.decodes >= 2, JSON.stringify(sp));
  assert.ok(sp.encodeMs !== null && sp.encodeMs > 0 && sp.decodeMs !== null && sp.decodeMs > 0, JSON.stringify(sp));
  assert.equal(sp.provider, 'CPU');
  // What the medians are made of: the worker-measured times of those runs.
  const st = await s['sam.status']({});
  assert.ok(st.lastEncodeMs !== null && st.lastEncodeMs > 0);

  // Written at most every few seconds; a closing app flushes. Read back by a fresh manager.
  const dir2 = path.join(dir, 'proj', 'models');
  const mgrFromDisk = () => new ModelManager(dir2, () => Promise.reject(new Error('no runtime needed')));
  await new Promise((r) => setTimeout(r, 3200));
  const again = mgrFromDisk().list().find((m) => m.id === model.id)!;
  assert.equal(again.speed?.encodes, sp.encodes);
  assert.equal(again.speed?.encodeMs, sp.encodeMs);
});
