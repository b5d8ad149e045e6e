/**
 * The CPU session options leave out graph rewrites that make CPU inference slower
 * (sam-engine.node.ts CPU_DISABLED_OPTIMIZERS): with the real onnxruntime-node and the tiny
 * model's fast decoder, the graph onnxruntime runs has no SkipLayerNormalization, where the
 * default options fuse two, and the decoder's outputs are the same.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { sessionOptions } from '../../electron/services/inference/sam-engine.node.js';
import { modelFiles, parseManifest } from '../../electron/services/models/bundle-manifest.js';
import { tinyBlobBundle } from './test-models.js';

test('CPU sessions run the fast decoder without SkipLayerNormalization, with the same outputs', { timeout: 120_000 }, async () => {
  const bundle = tinyBlobBundle();
  const manifest = parseManifest(readFileSync(path.join(bundle, 'model.json'), 'utf8'), bundle);
  const files = modelFiles(bundle, manifest, 'fp32', 'cpu-options', path.join);
  assert.ok(files.fastDecoder, 'the tiny bundle has a fast decoder');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cpu-options-'));
  try {
    const ours = sessionOptions(2, 'decoder', 'cpu');
    const { optimization: _, ...defaultExtra } = ours.extra as Record<string, unknown>;
    const graph = async (opts: ort.InferenceSession.SessionOptions, name: string) => {
      const out = path.join(dir, name);
      const session = await ort.InferenceSession.create(files.fastDecoder!, { ...opts, optimizedModelFilePath: out });
      // op types are plain strings in the serialized graph
      return { session, fused: readFileSync(out).includes('SkipLayerNormalization') };
    };
    const plain = await graph({ ...ours, extra: defaultExtra }, 'default.onnx');
    const tuned = await graph(ours, 'ours.onnx');
    assert.equal(plain.fused, true, 'onnxruntime fuses the residual Add + LayerNorm by default (else this test checks nothing)');
    assert.equal(tuned.fused, false);

    const dims = manifest.decoder.inputs.find((i) => i.name === 'image_embeddings')!.shape.map(Number);
    const n = dims.reduce((a, b) => a * b, 1);
    const low = 4 * dims[2]!;
    const feeds = {
      image_embeddings: new ort.Tensor('float32', Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37)), dims),
      point_coords: new ort.Tensor('float32', Float32Array.of(100, 120, 0, 0), [1, 2, 2]),
      point_labels: new ort.Tensor('float32', Float32Array.of(1, -1), [1, 2]),
      mask_input: new ort.Tensor('float32', new Float32Array(low * low), [1, 1, low, low]),
      has_mask_input: new ort.Tensor('float32', Float32Array.of(0), [1]),
    };
    const [a, b] = [await plain.session.run(feeds), await tuned.session.run(feeds)];
    for (const name of ['iou_predictions', 'low_res_masks']) {
      const x = a[name]!.data as Float32Array;
      const y = b[name]!.data as Float32Array;
      assert.equal(x.length, y.length);
      let worst = 0;
      for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
      assert.ok(worst < 1e-4, `${name}: max difference ${worst}`);
    }
    await plain.session.release();
    await tuned.session.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
