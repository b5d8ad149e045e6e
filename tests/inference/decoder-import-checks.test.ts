/**
 * SAM's mask upsampling outside the graph (mask-upsample.ts), and the two import cases it
 * makes checkable (issue 10): a decoder whose crop was frozen at export, and a single-mask
 * decoder given a box (it must answer with its single-mask output, as SAM's predictor does).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { upsampleMaskLogits } from '../../electron/services/inference/mask-upsample.js';
import { SamEngine, type ModelFiles } from '../../electron/services/inference/sam-engine.node.js';
import { promptTensors } from '../../electron/services/inference/sam-preprocess.js';
import { modelFiles, parseManifest } from '../../electron/services/models/bundle-manifest.js';
import { decoderCropProblems } from '../../electron/services/models/decoder-crop-check.node.js';
import { ModelImportError, ModelManager } from '../../electron/services/models/model-manager.node.js';
import { RuntimeClient } from '../../electron/services/runtime/runtime-client.node.js';
import { syntheticSlice } from './synthetic-lesion.js';
import { runPython, tinyBlobBundle } from './test-models.js';
import { renderForSam } from '../../electron/services/inference/sam-window.js';

let bundle: string;
let tmp: string;
let files: ModelFiles;
let imageSize: number;
let upstreamDecoder: string;
let singleMaskDecoder: string;

before(() => {
  bundle = tinyBlobBundle();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'decoder-checks-'));
  const manifest = parseManifest(readFileSync(path.join(bundle, 'model.json'), 'utf8'), bundle);
  files = modelFiles(bundle, manifest, 'fp32', 'tiny', path.join);
  imageSize = manifest.preprocessing.image_size;
  upstreamDecoder = path.join(tmp, 'sam_upstream_decoder.onnx');
  singleMaskDecoder = path.join(tmp, 'single_mask_decoder.onnx');
  runPython(['export-decoder', bundle, upstreamDecoder, '--kind', 'upstream']);
  runPython(['export-decoder', bundle, singleMaskDecoder, '--kind', 'single-mask']);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const slice = syntheticSlice(176, 120, 7);
const rgb = renderForSam({ width: 176, height: 120, samplesPerPixel: 1, photometric: 'MONOCHROME2', rescaleSlope: 1, rescaleIntercept: -1024, samples: slice.stored }, { center: 40, width: 400 });

async function canonicalRun(decoder: string, emb: { data: Float32Array; dims: number[] }, h: number, w: number, minPoints = 0, box = false) {
  const s = await ort.InferenceSession.create(decoder);
  const { x, y } = slice.lesionCenter;
  const r = slice.lesionRadius;
  const p = box ? promptTensors([], { x0: x - r, y0: y - r, x1: x + r, y1: y + r }, h, w, imageSize, minPoints) : promptTensors([{ x: x * (w / 176), y: y * (h / 120), label: 1 }], null, h, w, imageSize, minPoints);
  const low = 4 * emb.dims[2]!;
  const out = await s.run({
    image_embeddings: new ort.Tensor('float32', emb.data, emb.dims),
    point_coords: new ort.Tensor('float32', p.coords, [1, p.count, 2]),
    point_labels: new ort.Tensor('float32', p.labels, [1, p.count]),
    mask_input: new ort.Tensor('float32', new Float32Array(low * low), [1, 1, low, low]),
    has_mask_input: new ort.Tensor('float32', Float32Array.of(0), [1]),
    orig_im_size: new ort.Tensor('float32', Float32Array.of(h, w), [2]),
  });
  await s.release();
  return { masks: out.masks!, low: out.low_res_masks!, ious: out.iou_predictions!.data as Float32Array, lowSize: low };
}

test('upsampling low-res logits in JS gives the canonical decoder\'s own masks, for any image shape', async (t) => {
  const engine = new SamEngine(2);
  const emb = await engine.embed(files, rgb);
  for (const [h, w] of [[120, 176], [176, 120], [37, 311], [512, 509], [64, 64]] as const) {
    const r = await canonicalRun(files.decoder, emb, h, w);
    const k = r.masks.dims[1]!;
    let worst = 0;
    let scale = 0;
    let inside = 0;
    for (let i = 0; i < k; i++) {
      const ours = upsampleMaskLogits((r.low.data as Float32Array).subarray(i * r.lowSize ** 2, (i + 1) * r.lowSize ** 2), r.lowSize, imageSize, h, w);
      const theirs = (r.masks.data as Float32Array).subarray(i * h * w, (i + 1) * h * w);
      assert.equal(ours.length, theirs.length);
      for (let p = 0; p < ours.length; p++) {
        worst = Math.max(worst, Math.abs(ours[p]! - theirs[p]!));
        scale = Math.max(scale, Math.abs(theirs[p]!));
        if (theirs[p]! > 0) inside++;
      }
    }
    assert.ok(inside > 0, `${h}x${w}: the masks are not empty`);
    assert.ok(worst <= 1e-4 * scale, `${h}x${w}: largest logit difference ${worst} (logits up to ${scale})`);
    t.diagnostic(`${h}x${w}: max |JS - onnxruntime| ${worst.toExponential(2)} of logits up to ${scale.toFixed(2)}`);
  }
  await engine.release(files.key);
});

test('import refuses a decoder whose crop is frozen to its export example, naming the file (case 3)', async () => {
  assert.deepEqual(await decoderCropProblems(files.decoder, 'decoder.onnx', imageSize), []);
  const problems = await decoderCropProblems(upstreamDecoder, 'sam_upstream_decoder.onnx', imageSize);
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /sam_upstream_decoder\.onnx: .*crop inside the decoder is frozen/);
  let runtime: Promise<RuntimeClient> | undefined;
  const m = new ModelManager(path.join(tmp, 'models'), () => (runtime ??= RuntimeClient.launch()));
  const caught = await m.importOnnxPair(path.join(bundle, 'encoder.onnx'), upstreamDecoder).catch((e: unknown) => e);
  assert.ok(caught instanceof ModelImportError, String(caught));
  assert.match(caught.message, /sam_upstream_decoder\.onnx.*frozen/);
  assert.deepEqual(m.list(), []);
  // the same pair with a correctly exported decoder installs
  const ok = await m.importOnnxPair(path.join(bundle, 'encoder.onnx'), singleMaskDecoder, 'single');
  assert.equal(ok.name, 'single');
});

test('a single-mask decoder answers a box with its single-mask output, as SAM\'s predictor does (case 4)', async () => {
  const engine = new SamEngine(2);
  const emb = await engine.embed(files, rgb);
  const { fastDecoder: _, ...rest } = files;
  const single: ModelFiles = { ...rest, key: 'tiny:single', decoder: singleMaskDecoder };
  const { x, y } = slice.lesionCenter;
  const r = slice.lesionRadius;
  const got = await engine.decode(single, emb, { points: [], box: { x0: x - r, y0: y - r, x1: x + r, y1: y + r }, maskInput: null, multimask: false, origHeight: 120, origWidth: 176 });
  assert.equal(got.masks.length, 1);
  // The all-token canonical decoder on the same padded prompt: its token 0 is the single-mask output.
  const all = await canonicalRun(files.decoder, emb, 120, 176, 3, true);
  assert.ok(Math.abs(got.ious[0]! - all.ious[0]!) < 1e-5, `score ${got.ious[0]} vs token 0 ${all.ious[0]}`);
  const token0 = (all.low.data as Float32Array).subarray(0, all.lowSize ** 2);
  let worst = 0;
  for (let p = 0; p < token0.length; p++) worst = Math.max(worst, Math.abs(got.lowRes[0]![p]! - token0[p]!));
  assert.ok(worst < 1e-4, `low-res logits differ from token 0 by ${worst}`);
  await engine.release(single.key);
  await engine.release(files.key);
});
