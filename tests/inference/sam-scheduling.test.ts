/**
 * Scheduling of SAM work (issue 10): a click never waits for an encoder run (the decoder has
 * a worker of its own), and a background embedding (the next slices) gives way to the one
 * the slice on screen needs. Real workers, real onnxruntime sessions, the tiny blob model.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { modelFiles, parseManifest } from '../../electron/services/models/bundle-manifest.js';
import type { ModelFiles } from '../../electron/services/inference/sam-engine.node.js';
import { SamRunner, SamWorkerError } from '../../electron/services/inference/sam-runner.node.js';
import type { RgbImage } from '../../electron/services/inference/sam-window.js';
import { createServices } from '../../electron/services/index.js';
import { PHANTOM, phantomSeries } from '../fixtures/lesion-phantom.js';
import { slowEncoderBundle, tinyBlobBundle } from './test-models.js';

let runner: SamRunner;
let files: ModelFiles;

function image(seed: number, size = 512): RgbImage {
  const rgb = new Uint8Array(size * size * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 31 + seed * 97) & 0xff;
  return { width: size, height: size, rgb };
}

before(async () => {
  const bundle = tinyBlobBundle();
  const manifest = parseManifest(readFileSync(path.join(bundle, 'model.json'), 'utf8'), bundle);
  files = modelFiles(bundle, manifest, 'fp32', 'sched', path.join);
  runner = new SamRunner(2);
  await runner.load(files, true);
});
after(() => runner?.close());

const click = { points: [{ x: 100, y: 120, label: 1 as const }], box: null, maskInput: null, multimask: true, origHeight: 512, origWidth: 512 };

test('a click is answered while an embedding is being computed: the decoder does not queue behind the encoder', { timeout: 120_000 }, async () => {
  const a = await runner.embed(files, image(1), 'a');
  await runner.decode(files, 'a', async () => a.embedding, click); // the decoder worker now holds 'a'
  // Six embeddings queued on the encoder, then a click: one shared worker would answer the
  // click after all six; its own worker answers it before the last one.
  for (let round = 0; round < 3; round++) {
    const order: string[] = [];
    const embeds = Array.from({ length: 6 }, (_, k) => runner.embed(files, image(100 * round + k), `r${round}-${k}`).then(() => order.push(`embed${k}`)));
    const dec = runner.decode(files, 'a', async () => a.embedding, click).then(() => order.push('decode'));
    await Promise.all([...embeds, dec]);
    assert.ok(order.indexOf('decode') < order.indexOf('embed5'), `round ${round}: ${order.join(' ')}`);
  }
});

test('a background embedding gives way to the slice on screen; the same slice is not stopped', { timeout: 120_000 }, async () => {
  const before = runner.preempted;
  const background = runner.embed(files, image(20), 'next-slice', { background: true });
  const onScreen = runner.embed(files, image(21), 'on-screen');
  await assert.rejects(background, (e: unknown) => e instanceof SamWorkerError && e.code === 'preempted');
  const r = await onScreen;
  assert.ok(r.embedding.data.length > 0);
  assert.equal(runner.preempted, before + 1);
  // asked for in the foreground while the background computes the same slice: it is kept
  const same = runner.embed(files, image(22), 'same', { background: true });
  const wanted = runner.embed(files, image(22), 'same');
  const [x, y] = await Promise.all([same, wanted]);
  assert.deepEqual(x.embedding.dims, y.embedding.dims);
  assert.equal(runner.preempted, before + 1);
  // and the restarted encoder worker goes on working
  assert.ok((await runner.embed(files, image(23), 'after')).embedding.data.length > 0);
});

/**
 * Through the services, as the viewer drives them, with an encoder that takes about a second
 * per image (the tiny model made slow on purpose): clicks on the slice on screen while the
 * next slices are embedded in the background, and jumps away from them.
 */
test('slow encoder: a click during background pre-computation answers within 2x an idle click; a jump drops the stale work', { timeout: 300_000 }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sam-sched-'));
  const s = createServices({ user: 'tester', transport: 'browser', version: 'test' });
  try {
    await s['project.create']({ path: path.join(dir, 'proj'), name: 'Scheduling' });
    const series = phantomSeries(1, 8);
    const report = await s['images.importFiles']({ files: series.map((p) => ({ name: p.fileName, bytes: new Uint8Array(p.dicom) })) });
    const ids = new Map(report.imported.map((r) => [r.file, r.imageId]));
    const slice = series.map((p) => ids.get(p.fileName)!);
    await s['models.import']({ kind: 'bundle', path: slowEncoderBundle() });
    const at = (i: number) => ({ imageId: slice[i]!, frame: 0, window: PHANTOM.window });
    const next = (...is: number[]) => is.map((i) => ({ imageId: slice[i]!, frame: 0 }));
    const status = () => s['sam.status']({});

    const first = await s['sam.prepare'](at(0));
    const encodeMs = first.encodeMs;
    t.diagnostic(`one embed: ${encodeMs.toFixed(0)} ms`);
    assert.ok(encodeMs > 400, `the encoder is slow enough to matter (${encodeMs.toFixed(0)} ms)`);

    const click = async (): Promise<number> => {
      const t0 = performance.now();
      await s['sam.predict']({ ...at(0), points: [{ x: 64, y: 64, label: 1 }], box: null, maskInput: null, multimask: true });
      return performance.now() - t0;
    };
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    await click(); // the decoder session and the embedding in its worker
    const idle: number[] = [];
    for (let i = 0; i < 9; i++) idle.push(await click());

    // The next four slices go to the encoder in the background; click while it works.
    await s['sam.prepare']({ ...at(0), next: next(1, 2, 3, 4) });
    const busy: number[] = [];
    for (let i = 0; busy.length < 9 && i < 200; i++) {
      if ((await status()).computing === null) {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      busy.push(await click());
    }
    assert.equal(busy.length, 9, 'clicks were made while an embedding was being computed');
    t.diagnostic(`click median: idle ${median(idle).toFixed(1)} ms, during background embedding ${median(busy).toFixed(1)} ms`);
    assert.ok(median(busy) <= 2 * median(idle), `a click while the encoder works: ${median(busy).toFixed(1)} ms vs ${median(idle).toFixed(1)} ms idle`);

    // Jump to a slice nobody queued: its embedding does not wait for the stale ones.
    const queued = await status();
    assert.ok(queued.queued >= 1, `background work is pending (${JSON.stringify(queued)})`);
    const t0 = performance.now();
    const jumped = await s['sam.prepare'](at(7));
    const jumpMs = performance.now() - t0;
    assert.equal(jumped.cached, false);
    t.diagnostic(`jump with ${queued.queued} slices pending: ${jumpMs.toFixed(0)} ms (one embed ${encodeMs.toFixed(0)} ms)`);
    assert.ok(jumpMs < 1.8 * encodeMs, `the jump waited for stale work: ${jumpMs.toFixed(0)} ms`);
    let after = await status();
    assert.deepEqual([after.queued, after.computing], [0, null], 'nothing stale is queued or computing after the jump');

    // Back to a slice whose embedding is cached, while the background embeds others: the
    // stale embed is stopped, not left to hold the encoder.
    await s['sam.prepare']({ ...at(7), next: next(5, 6) });
    for (let i = 0; i < 200 && (await status()).computing === null; i++) await new Promise((r) => setTimeout(r, 10));
    assert.notEqual((await status()).computing, null, 'slice 5 is being embedded in the background');
    const back = await s['sam.prepare'](at(0));
    assert.equal(back.cached, true);
    after = await status();
    assert.deepEqual([after.queued, after.computing], [0, null], 'the background embed of slice 5 was stopped');
    // and the encoder answers at once for the next request
    const t1 = performance.now();
    assert.equal((await s['sam.prepare'](at(6))).cached, false);
    assert.ok(performance.now() - t1 < 1.8 * encodeMs);
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
