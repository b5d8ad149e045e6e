/**
 * Model manager against real files: a good bundle and an official-style ONNX pair install;
 * broken ones (missing decoder, truncated file, swapped/wrong ONNX, bad manifest, a .pth that
 * is not a checkpoint) fail with a message naming the file, and leave nothing behind.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { archFromCheckpointName, ModelImportError, ModelManager } from '../../electron/services/models/model-manager.node.js';
import { externalDataFiles } from '../../electron/services/models/onnx-external-data.node.js';
import { readOnnxIo } from '../../electron/services/models/onnx-signature.node.js';
import { findPythonSync, runtimeEnv } from '../../electron/services/runtime/python-path.node.js';
import { RuntimeClient } from '../../electron/services/runtime/runtime-client.node.js';
import { SamEngine } from '../../electron/services/inference/sam-engine.node.js';
import { modelFiles, parseManifest } from '../../electron/services/models/bundle-manifest.js';
import { runPython, tinyBlobBundle } from './test-models.js';

let bundle: string;
let root: string;
let runtime: Promise<RuntimeClient> | undefined;

before(() => {
  bundle = tinyBlobBundle();
  root = mkdtempSync(path.join(os.tmpdir(), 'models-'));
});
after(async () => {
  await (await runtime?.catch(() => undefined))?.close(2000);
  rmSync(root, { recursive: true, force: true });
});

function fresh(name: string): ModelManager {
  return new ModelManager(path.join(root, name, 'models'), () => (runtime ??= RuntimeClient.launch()));
}

/** Nothing but installed model folders (and active.json) may be left in models/. */
function leftovers(m: ModelManager): string[] {
  let names: string[] = [];
  try {
    names = readdirSync(m.modelsDir);
  } catch {
    return [];
  }
  return names.filter((n) => n.startsWith('.'));
}

function brokenCopy(name: string, change: (dir: string) => void): string {
  const dir = path.join(root, 'src', name);
  cpSync(bundle, dir, { recursive: true });
  change(dir);
  return dir;
}

async function rejectsNaming(p: Promise<unknown>, pattern: RegExp): Promise<ModelImportError> {
  let caught: unknown;
  await p.catch((e: unknown) => (caught = e));
  assert.ok(caught instanceof ModelImportError, `expected ModelImportError, got ${String(caught)}`);
  assert.match(caught.message, pattern);
  return caught;
}

test('a good bundle installs, lists with its facts, becomes active, and is deleted cleanly', async () => {
  const m = fresh('good');
  assert.equal(m.effectiveActive(), null);
  const info = await m.importBundle(bundle);
  assert.equal(info.arch, 'tiny');
  assert.equal(info.imageSize, 256);
  assert.deepEqual(info.variants, ['int8', 'fp32']);
  assert.ok(info.sizeBytes > 1_000_000);
  assert.equal(typeof info.metrics.val_dice, 'number');
  assert.deepEqual(m.list().map((x) => x.id), [info.id]);
  assert.equal(m.effectiveActive()?.id, info.id, 'the only model is active without a choice');
  assert.match(m.files(info.id).encoder, /encoder\.int8\.onnx$/, 'int8 by default');
  assert.match(m.files(info.id, 'fp32').encoder, /encoder\.onnx$/);
  const second = await m.importBundle(anotherModel());
  assert.equal(m.effectiveActive()?.id, info.id, 'installing a second model does not switch the one in use');
  m.setActive(second.id);
  assert.equal(m.effectiveActive()?.id, second.id);
  m.setActive(info.id);
  assert.equal(m.effectiveActive()?.id, info.id);
  m.delete(info.id);
  assert.equal(m.activeId(), null);
  assert.deepEqual(m.list().map((x) => x.id), [second.id]);
  assert.deepEqual(leftovers(m), []);
});

test('int8 or fp32: auto runs int8 only where it measured >= 0.98 mask IoU; a choice is kept per model and survives a restart', async () => {
  const m = fresh('variants');
  const good = await m.importBundle(bundle);
  assert.ok(good.int8MaskIou !== null && good.int8MaskIou >= 0.98, `the exporter measured int8: ${good.int8MaskIou}`);
  assert.equal(good.variant, 'int8');
  assert.equal(good.variantChoice, 'auto');
  // A bundle whose int8 measured poorly, and one whose int8 was never measured: fp32 on auto.
  const setIou = (iou: number | null) => (d: string) => {
    const file = path.join(d, 'model.json');
    const man = JSON.parse(readFileSync(file, 'utf8')) as { parity: Record<string, unknown> };
    if (iou === null) delete man.parity.int8_vs_fp32;
    else man.parity.int8_vs_fp32 = { ...(man.parity.int8_vs_fp32 as object), mask_iou_mean: iou };
    writeFileSync(file, JSON.stringify(man));
  };
  const poor = await m.importBundle(brokenCopy('poor-int8', (d) => { setIou(0.93)(d); markDistinct(d); }));
  assert.equal(poor.int8MaskIou, 0.93);
  assert.equal(poor.variant, 'fp32');
  assert.match(m.files(poor.id).encoder, /encoder\.onnx$/);
  const unmeasured = await m.importBundle(brokenCopy('unmeasured-int8', (d) => { setIou(null)(d); markDistinct(d, 'unmeasured'); }));
  assert.equal(unmeasured.int8MaskIou, null);
  assert.equal(unmeasured.variant, 'fp32');
  // The user's choice wins, per model, and is read back by a new manager (an app restart).
  m.setVariant(poor.id, 'int8');
  m.setVariant(good.id, 'fp32');
  const again = new ModelManager(m.modelsDir, () => (runtime ??= RuntimeClient.launch()));
  const byId = new Map(again.list().map((x) => [x.id, x]));
  assert.equal(byId.get(poor.id)!.variant, 'int8');
  assert.equal(byId.get(poor.id)!.variantChoice, 'int8');
  assert.equal(byId.get(good.id)!.variant, 'fp32');
  assert.match(again.files(good.id).key, /:fp32$/, 'another variant, other embeddings');
  assert.match(again.files(poor.id).encoder, /encoder\.int8\.onnx$/);
  again.setVariant(good.id, 'auto');
  assert.equal(again.list().find((x) => x.id === good.id)!.variant, 'int8');
  assert.throws(() => again.setVariant('no-such-model', 'fp32'));
});

/** Change a copied bundle's decoder bytes so it does not count as the same model twice. */
function markDistinct(d: string, tag = 'poor'): void {
  const code = `import sys, onnx; m = onnx.load(sys.argv[1]); m.doc_string = "${tag}"; onnx.save(m, sys.argv[1])`;
  execFileSync(findPythonSync(), ['-c', code, path.join(d, 'decoder.onnx')], { env: { ...process.env, ...runtimeEnv() }, stdio: ['ignore', 'inherit', 'inherit'] });
  const manifestPath = path.join(d, 'model.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { files: Record<string, { bytes: number; sha256: string }> };
  const bytes = readFileSync(path.join(d, 'decoder.onnx'));
  manifest.files['decoder.onnx'] = { bytes: bytes.length, sha256: sha256Of(bytes) };
  writeFileSync(manifestPath, JSON.stringify(manifest));
}

test('broken bundles are refused with the file named, nothing half-installed', async () => {
  const m = fresh('broken');
  const noDecoder = brokenCopy('no-decoder', (d) => rmSync(path.join(d, 'decoder.onnx')));
  await rejectsNaming(m.importBundle(noDecoder), /decoder\.onnx is missing/);
  const truncated = brokenCopy('truncated', (d) => truncateSync(path.join(d, 'encoder.onnx'), 1000));
  const e = await rejectsNaming(m.importBundle(truncated), /encoder\.onnx has 1000 bytes.*truncated/);
  assert.match(e.file ?? '', /encoder\.onnx$/);
  // Truncated and not covered by checksums (a hand-made bundle): onnxruntime refuses to open it.
  const unlisted = brokenCopy('truncated-unlisted', (d) => {
    const mj = JSON.parse(readFileSync(path.join(d, 'model.json'), 'utf8'));
    mj.files = {};
    writeFileSync(path.join(d, 'model.json'), JSON.stringify(mj));
    truncateSync(path.join(d, 'decoder.int8.onnx'), 5000);
  });
  await rejectsNaming(m.importBundle(unlisted), /decoder\.int8\.onnx: not a readable ONNX model/);
  const swapped = brokenCopy('swapped', (d) => {
    const mj = JSON.parse(readFileSync(path.join(d, 'model.json'), 'utf8'));
    mj.files = {};
    writeFileSync(path.join(d, 'model.json'), JSON.stringify(mj));
    cpSync(path.join(d, 'encoder.onnx'), path.join(d, 'decoder.onnx'));
  });
  await rejectsNaming(m.importBundle(swapped), /decoder\.onnx: missing decoder inputs .*point_coords/);
  const badJson = brokenCopy('bad-json', (d) => writeFileSync(path.join(d, 'model.json'), '{"format_version": 1, "created": 3'));
  await rejectsNaming(m.importBundle(badJson), /model\.json: not valid JSON/);
  const newer = brokenCopy('newer', (d) => {
    const mj = JSON.parse(readFileSync(path.join(d, 'model.json'), 'utf8'));
    writeFileSync(path.join(d, 'model.json'), JSON.stringify({ ...mj, format_version: 99 }));
  });
  await rejectsNaming(m.importBundle(newer), /format_version 99 is newer/);
  await rejectsNaming(m.importBundle(path.join(root, 'nope')), /not a folder/);
  assert.deepEqual(m.list(), []);
  assert.deepEqual(leftovers(m), []);
});

test('an encoder + canonical decoder ONNX pair installs; wrong files are named', async () => {
  const m = fresh('onnx');
  const enc = path.join(bundle, 'encoder.onnx');
  const dec = path.join(bundle, 'decoder.onnx');
  await rejectsNaming(m.importOnnxPair(dec, dec), /decoder\.onnx: an encoder has one input .*is this the decoder/);
  await rejectsNaming(m.importOnnxPair(enc, enc), /encoder\.onnx: missing decoder inputs/);
  const cut = path.join(root, 'cut-decoder.onnx');
  cpSync(dec, cut);
  truncateSync(cut, 20_000);
  await rejectsNaming(m.importOnnxPair(enc, cut), /cut-decoder\.onnx: not a readable ONNX model/);
  assert.deepEqual(leftovers(m), []);
  const info = await m.importOnnxPair(enc, dec, 'Official pair');
  assert.equal(info.imageSize, 256, 'image size read from the encoder input');
  assert.deepEqual(info.variants, ['fp32']);
  assert.equal(info.name, 'Official pair');
  assert.deepEqual(leftovers(m), []);
});

test('an encoder whose weights sit in an external data file installs with that file; a missing one is named', async () => {
  const m = fresh('onnx-external');
  const src = path.join(root, 'external');
  mkdirSync(src, { recursive: true });
  const enc = path.join(src, 'sam_vit_x_encoder.onnx');
  // What exporters do past protobuf's 2 GB limit (a vit_h encoder): weights in a side file.
  execFileSync(findPythonSync(), ['-c', [
    'import onnx, sys',
    'm = onnx.load(sys.argv[1])',
    "onnx.save_model(m, sys.argv[2], save_as_external_data=True, all_tensors_to_one_file=True, location='sam_vit_x_encoder.weights', size_threshold=0)",
  ].join('\n'), path.join(bundle, 'encoder.onnx'), enc], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...runtimeEnv() } });
  const weights = path.join(src, 'sam_vit_x_encoder.weights');
  assert.ok(statSync(weights).size > statSync(enc).size, 'the weights moved to the side file');
  assert.deepEqual(externalDataFiles(enc), ['sam_vit_x_encoder.weights']);
  assert.deepEqual(externalDataFiles(path.join(bundle, 'decoder.onnx')), [], 'inline weights: no side files');

  const info = await m.importOnnxPair(enc, path.join(bundle, 'decoder.onnx'), 'External pair');
  const installed = path.dirname(m.files(info.id).encoder);
  assert.ok(existsSync(path.join(installed, 'sam_vit_x_encoder.weights')), 'side file carried into the bundle');
  const io = await readOnnxIo(m.files(info.id).encoder, 'installed encoder'); // onnxruntime opens it from its new home
  assert.equal(io.inputs.length, 1);
  assert.ok(JSON.parse(readFileSync(path.join(installed, 'model.json'), 'utf8')).files['sam_vit_x_encoder.weights'].sha256);

  rmSync(weights);
  await rejectsNaming(m.importOnnxPair(enc, path.join(bundle, 'decoder.onnx')), /sam_vit_x_encoder\.onnx: its weights file sam_vit_x_encoder\.weights is missing/);
  assert.deepEqual(leftovers(m), []);
});

test('a .pth checkpoint is converted by the Python runtime with progress, validated and installed', { timeout: 300_000 }, async () => {
  const m = fresh('pth-good');
  const manifest = JSON.parse(readFileSync(path.join(bundle, 'model.json'), 'utf8')) as { architecture: Record<string, unknown> };
  const { arch, ...spec } = manifest.architecture;
  const stages: string[] = [];
  const info = await m.importCheckpoint(path.join(bundle, 'checkpoint.pt'), { arch: String(arch), modelOptions: spec, onProgress: (p) => stages.push(p.stage) });
  assert.ok(stages.length > 0, 'progress notifications arrived');
  assert.equal(info.arch, 'tiny');
  assert.deepEqual(info.variants, ['int8', 'fp32']);
  assert.equal(info.baseModel, 'checkpoint.pt');
  assert.deepEqual(m.list().map((x) => x.id), [info.id]);
  assert.deepEqual(leftovers(m), []);
});

test("MobileSAM's official mobile_sam.pt is recognised by its name and installs as vit_t, fitting SAM's decoder", { timeout: 300_000 }, async () => {
  const m = fresh('mobile-sam');
  const file = path.join(root, 'downloads', 'mobile_sam.pt');
  runPython(['mobile-sam-checkpoint', file]);
  const info = await m.importCheckpoint(file);
  assert.equal(info.arch, 'vit_t');
  assert.equal(info.imageSize, 1024);
  assert.deepEqual(info.variants, ['int8', 'fp32']);
  const dir = path.join(m.modelsDir, info.id);
  const manifest = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8')) as { architecture: Record<string, unknown>; encoder: { outputs: { shape: number[] }[] } };
  assert.equal(manifest.architecture.encoder_kind, 'tiny_vit');
  assert.deepEqual(manifest.encoder.outputs[0]!.shape, [1, 256, 64, 64], "SAM's embedding grid, so SAM's decoder takes it");
  // The encoder ONNX is TinyViT-sized: about 24 MB against vit_b's 360 MB.
  assert.ok(statSync(path.join(dir, 'encoder.onnx')).size < 40e6);
  assert.deepEqual(leftovers(m), []);
});

test("EfficientSAM-Ti's official efficient_sam_vitt.pt is recognised by its name and installs whole, its decoder included", { timeout: 300_000 }, async () => {
  const m = fresh('efficient-sam');
  const file = path.join(root, 'downloads', 'efficient_sam_vitt.pt');
  runPython(['efficient-sam-checkpoint', file]);
  const info = await m.importCheckpoint(file);
  assert.equal(info.arch, 'efficientsam_ti');
  assert.equal(info.imageSize, 1024);
  const dir = path.join(m.modelsDir, info.id);
  const manifest = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8')) as { architecture: Record<string, unknown>; encoder: { outputs: { shape: number[] }[] } };
  assert.equal(manifest.architecture.encoder_kind, 'efficient_sam');
  assert.equal(manifest.architecture.decoder_kind, 'efficient_sam', "EfficientSAM's decoder weights run as EfficientSAM runs them");
  assert.deepEqual(manifest.encoder.outputs[0]!.shape, [1, 256, 64, 64], "SAM's embedding grid");
  // A ViT-Ti encoder: about 25 MB against vit_b's 360 MB.
  assert.ok(statSync(path.join(dir, 'encoder.onnx')).size < 40e6);
  // The app's engine runs it as EfficientSAM was trained: every prompt padded to six points.
  const files = modelFiles(dir, parseManifest(readFileSync(path.join(dir, 'model.json'), 'utf8'), dir), 'fp32', 'esam', path.join);
  assert.equal(files.promptPoints, 6);
  const engine = new SamEngine(2);
  try {
    const side = 96;
    const rgb = new Uint8Array(side * side * 3).map((_, i) => (i * 37) % 251);
    const emb = await engine.embed(files, { width: side, height: side, rgb });
    assert.deepEqual(emb.dims, [1, 256, 64, 64]);
    const click = await engine.decode(files, emb, { points: [{ x: 40, y: 50, label: 1 }], box: null, maskInput: null, multimask: true, origHeight: side, origWidth: side });
    const box = await engine.decode(files, emb, { points: [], box: { x0: 20, y0: 20, x1: 70, y1: 60 }, maskInput: null, multimask: false, origHeight: side, origWidth: side });
    for (const r of [click, box]) assert.equal(r.masks.find((x) => x)!.length, side * side);
  } finally {
    await engine.release(files.key);
  }
  assert.deepEqual(leftovers(m), []);
});

test('EfficientSAM-S and an EfficientSAM file imported as another architecture are refused in one sentence naming the file', { timeout: 300_000 }, async () => {
  assert.equal(archFromCheckpointName('/x/efficient_sam_vitt.pt'), 'efficientsam_ti');
  assert.equal(archFromCheckpointName('/x/efficient_sam_vits.pt'), null);
  assert.equal(archFromCheckpointName('/x/sam_vit_t.pth'), 'vit_t');
  const m = fresh('efficient-sam-wrong');
  const file = path.join(root, 'downloads', 'efficient_sam_vitt.pt');
  if (!existsSync(file)) runPython(['efficient-sam-checkpoint', file]);
  await rejectsNaming(m.importCheckpoint(file, { arch: 'vit_b' }), /efficient_sam_vitt\.pt.*is an EfficientSAM checkpoint: import it as efficientsam_ti/);
  assert.deepEqual(leftovers(m), []);
});

test('a .pth that is not a SAM checkpoint is refused by the runtime, clearly, nothing left', { timeout: 180_000 }, async () => {
  const m = fresh('pth');
  const fake = path.join(root, 'sam_vit_b_01ec64.pth');
  writeFileSync(fake, 'this is not a checkpoint');
  await rejectsNaming(m.importCheckpoint(fake), /sam_vit_b_01ec64\.pth/);
  await rejectsNaming(m.importCheckpoint(path.join(root, 'model.pth')), /file not found/);
  writeFileSync(path.join(root, 'weights.pth'), 'x');
  await rejectsNaming(m.importCheckpoint(path.join(root, 'weights.pth')), /sam_vit_b_01ec64\.pth, sam_vit_l_0b3195\.pth, sam_vit_h_4b8939\.pth/);
  assert.deepEqual(m.list(), []);
  assert.deepEqual(leftovers(m), []);
});

/** ONNX files that each load but do not fit (issue 10): an encoder from another model, a decoder whose low_res_masks is [B, 4]. */
function misfits(): { encoder: string; decoder: string } {
  const out = path.join(root, 'misfits');
  mkdirSync(out, { recursive: true });
  const code = `
import sys, numpy as np, onnx
from onnx import helper, TensorProto, numpy_helper
bundle, out = sys.argv[1], sys.argv[2]
dec = onnx.load(bundle + "/decoder.onnx")
emb = [i for i in dec.graph.input if i.name == "image_embeddings"][0]
dims = [d.dim_value for d in emb.type.tensor_type.shape.dim]
C, G = dims[1], dims[2]
S = G * 16
w = numpy_helper.from_array(np.zeros((C + 8, 3, 16, 16), np.float32), "w")
node = helper.make_node("Conv", ["images", "w"], ["embeddings"], kernel_shape=[16, 16], strides=[16, 16])
g = helper.make_graph([node], "enc", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, S, S])],
                      [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, [1, C + 8, G, G])], [w])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
m.ir_version = dec.ir_version
onnx.save(m, out + "/other-encoder.onnx")
for n in dec.graph.node:
    for i, o in enumerate(n.output):
        if o == "low_res_masks":
            n.output[i] = "low_res_full"
    for i, x in enumerate(n.input):
        if x == "low_res_masks":
            n.input[i] = "low_res_full"
opset = max(o.version for o in dec.opset_import if o.domain in ("", "ai.onnx"))
if opset >= 18:
    dec.graph.initializer.append(numpy_helper.from_array(np.array([2, 3], np.int64), "axes23"))
    dec.graph.node.append(helper.make_node("ReduceMean", ["low_res_full", "axes23"], ["low_res_masks"], keepdims=0))
else:
    dec.graph.node.append(helper.make_node("ReduceMean", ["low_res_full"], ["low_res_masks"], axes=[2, 3], keepdims=0))
old = [o for o in dec.graph.output if o.name == "low_res_masks"][0]
dec.graph.output.remove(old)
dec.graph.output.append(helper.make_tensor_value_info("low_res_masks", TensorProto.FLOAT, [1, 4]))
onnx.save(dec, out + "/metrics-decoder.onnx")
`;
  execFileSync(findPythonSync(), ['-c', code, bundle, out], { env: { ...process.env, ...runtimeEnv() }, stdio: ['ignore', 'inherit', 'inherit'] });
  return { encoder: path.join(out, 'other-encoder.onnx'), decoder: path.join(out, 'metrics-decoder.onnx') };
}

test('an encoder and decoder that do not fit, or a decoder with the wrong output shapes, are refused at import (pair and bundle)', async () => {
  const m = fresh('misfits');
  const bad = misfits();
  const enc = path.join(bundle, 'encoder.onnx');
  const dec = path.join(bundle, 'decoder.onnx');
  await rejectsNaming(m.importOnnxPair(bad.encoder, dec), /are not a pair: the encoder makes embeddings of shape \[1, \d+, \d+, \d+\], the decoder takes/);
  await rejectsNaming(m.importOnnxPair(enc, bad.decoder), /metrics-decoder\.onnx: output low_res_masks has shape \[1, 4\]/);
  const swapped = brokenCopy('foreign-encoder', (d) => {
    cpSync(bad.encoder, path.join(d, 'encoder.onnx'));
    const manifestPath = path.join(d, 'model.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { files: Record<string, { bytes: number; sha256: string }> };
    const bytes = readFileSync(path.join(d, 'encoder.onnx'));
    manifest.files['encoder.onnx'] = { bytes: bytes.length, sha256: sha256Of(bytes) };
    writeFileSync(manifestPath, JSON.stringify(manifest));
  });
  await rejectsNaming(m.importBundle(swapped), /encoder\.onnx and .*decoder\.onnx are not a pair/);
  assert.deepEqual(m.list(), []);
  assert.deepEqual(leftovers(m), []);
});

/** A second, distinct model: the bundle with a decoder that differs in its bytes (doc string), not in what it computes. */
function anotherModel(): string {
  return brokenCopy('another', (d) => markDistinct(d, 'another'));
}

function sha256Of(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

test('the same model twice is refused, naming the installed one; a folder or a file of the wrong kind is named for what it is', async () => {
  const m = fresh('twice');
  const first = await m.importBundle(bundle);
  await rejectsNaming(m.importBundle(bundle), new RegExp(`installed already, as "${first.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`));
  await rejectsNaming(m.importOnnxPair(path.join(bundle, 'encoder.onnx'), path.join(bundle, 'decoder.onnx')), /installed already/);
  assert.equal(m.list().length, 1);
  await rejectsNaming(m.importCheckpoint(bundle), /is a folder holding a model bundle: choose "Bundle folder"/);
  const pth = path.join(root, 'sam_vit_b_01ec64.pth');
  writeFileSync(pth, 'x');
  await rejectsNaming(m.importBundle(pth), /is a checkpoint file, not a bundle folder/);
  assert.deepEqual(leftovers(m), []);
});
