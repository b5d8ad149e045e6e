/**
 * Scheduling of SAM work (issue 10): a click never waits for an encoder run (the decoder has
 * a worker of its own), and a background embedding (the next slices) gives way to the one
 * the slice on screen needs. Real workers, real onnxruntime sessions, the tiny blob model.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { modelFiles, parseManifest } from '../../electron/services/models/bundle-manifest.js';
import type { ModelFiles } from '../../electron/services/inference/sam-engine.node.js';
import { SamRunner, SamWorkerError } from '../../electron/services/inference/sam-runner.node.js';
import type { RgbImage } from '../../electron/services/inference/sam-window.js';
import { tinyBlobBundle } from './test-models.js';

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
