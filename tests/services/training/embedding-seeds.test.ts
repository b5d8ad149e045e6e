/**
 * Training reuses the embeddings the app computed while the user annotated:
 *  - the .npy files the app writes read back in numpy value for value;
 *  - a retrain after clicking through the labelled slices with the fp32 encoder takes the
 *    app's embeddings (all but the two the runtime computes itself to check them);
 *  - embeddings made through another window (other pixels than the snapshot's) are not
 *    offered; int8 ones are offered and taken or refused by the runtime's measurement.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { JobInfo } from '../../../electron/contract/training.js';
import { jobEnded } from '../helpers.js';
import { findPythonSync, runtimeEnv } from '../../../electron/services/runtime/python-path.node.js';
import { npyBytes } from '../../../electron/services/training/embedding-seeds.node.js';
import { PHANTOM } from '../../fixtures/lesion-phantom.js';
import { retrainProject, type RetrainProject } from './retrain-harness.js';

let p: RetrainProject;

before(async () => {
  p = await retrainProject({ patients: 4, slices: 3 });
});

after(async () => {
  await p.s.close();
  rmSync(p.dir, { recursive: true, force: true });
});

async function runToEnd(): Promise<JobInfo> {
  const { jobId } = await p.s['training.start']({ settings: { preset: 'decoder', epochs: 1 } });
  return jobEnded(p.s, jobId, 10 * 60_000, 250);
}

/** Embed every labelled slice the way the viewer does, through the window the masks were drawn in. */
async function clickThroughSlices(window: { center: number; width: number }): Promise<void> {
  for (const s of p.slices) await p.s['sam.prepare']({ imageId: s.imageId, frame: 0, window });
}

test('the .npy files the app writes read back in numpy, value for value', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'npy-'));
  try {
    for (const shape of [[256, 16, 16], [7], [3, 5]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const data = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 1e3 + i / 7);
      const file = path.join(dir, `${shape.join('x')}.npy`);
      writeFileSync(file, npyBytes(data, shape));
      const code = 'import sys, numpy as np; a = np.load(sys.argv[1], allow_pickle=False); print(a.dtype, list(a.shape)); sys.stdout.buffer.write(a.tobytes())';
      const out = execFileSync(findPythonSync(), ['-c', code, file], { env: { ...process.env, ...runtimeEnv() } });
      const nl = out.indexOf(10);
      assert.equal(out.subarray(0, nl).toString(), `float32 [${shape.join(', ')}]`);
      assert.deepEqual(new Float32Array(out.subarray(nl + 1).buffer.slice(out.byteOffset + nl + 1)), data);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a retrain takes the embeddings the app computed while annotating, after measuring them; other windows are not offered', { timeout: 25 * 60_000 }, async (t) => {
  const proj = path.join(p.dir, 'proj');
  const n = p.slices.length;
  const fresh = () => rmSync(path.join(proj, 'cache'), { recursive: true, force: true }); // app and training caches
  const offeredBy = (jobId: string) =>
    JSON.parse(readFileSync(path.join(proj, 'training', jobId, 'seeds', 'index.json'), 'utf8')) as { entries: Record<string, string>; source: { by_model_key: Record<string, number> } };

  // fp32: the same encoder as training's, up to the resize's rounding.
  await p.s['models.setVariant']({ id: p.starterId, variant: 'fp32' });
  await clickThroughSlices(PHANTOM.window);
  const a = await runToEnd();
  assert.equal(a.state, 'succeeded', a.error?.message);
  const sa = a.outcome!.embeddingSeeds!;
  assert.equal(sa.offered, n);
  assert.equal(sa.reused, n - 2, `all but the two checked of ${n} images (${JSON.stringify(sa)})`);
  assert.ok(sa.maxRelError !== null && sa.maxRelError > 0 && sa.maxRelError <= sa.bound, JSON.stringify(sa));
  assert.deepEqual(Object.keys(offeredBy(a.id).source.by_model_key).map((k) => k.split(':').at(-1)), ['fp32']);

  // Embedded through another window: other pixels than the snapshot's, so nothing is offered.
  fresh();
  await clickThroughSlices({ center: PHANTOM.window.center + 150, width: PHANTOM.window.width / 2 });
  const b = await runToEnd();
  assert.equal(b.state, 'succeeded', b.error?.message);
  assert.equal(b.outcome!.embeddingSeeds, null);
  assert.equal(Object.keys(offeredBy(b.id).entries).length, 0);

  // int8: offered, and taken or refused by what the runtime measures, never by name.
  fresh();
  await p.s['models.setActive']({ id: p.starterId });
  await p.s['models.setVariant']({ id: p.starterId, variant: 'int8' });
  await clickThroughSlices(PHANTOM.window);
  const c = await runToEnd();
  assert.equal(c.state, 'succeeded', c.error?.message);
  const sc = c.outcome!.embeddingSeeds!;
  assert.deepEqual(Object.keys(offeredBy(c.id).source.by_model_key).map((k) => k.split(':').at(-1)), ['int8']);
  const within = sc.maxRelError !== null && sc.maxRelError <= sc.bound;
  assert.equal(sc.reused, within ? n - 2 : 0, JSON.stringify(sc));
  assert.equal(sc.refused === null, within, JSON.stringify(sc));
  t.diagnostic(`relative error of the app's embeddings vs training's: fp32 ${sa.maxRelError!.toExponential(2)}, int8 ${sc.maxRelError?.toExponential(2)} (bound ${sc.bound}); reused fp32 ${sa.reused}/${n}, int8 ${sc.reused}/${n}`);
});
