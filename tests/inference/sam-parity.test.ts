/**
 * The core claim: the Node pipeline (windowing, PIL-exact resize, normalisation, prompt
 * mapping, onnxruntime-node) gives the masks segment-anything's own PyTorch SamPredictor gives,
 * on a non-square 16-bit image shown through a soft-tissue window, for points, a box,
 * points + box, and refinement with the previous low-res mask (IoU >= 0.99, fp32). Both
 * decoders of the bundle are held to it: the fast one (decoder.fast.onnx, upsampled in JS)
 * that the app runs, and the canonical one it falls back to; and they agree with each other.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { countsFromString, decodeRle } from '../../electron/contract/rle.js';
import { SamEngine, type DecodeResult, type Embedding, type ModelFiles } from '../../electron/services/inference/sam-engine.node.js';
import type { Box, Point } from '../../electron/services/inference/sam-preprocess.js';
import { renderForSam } from '../../electron/services/inference/sam-window.js';
import { modelFiles, parseManifest } from '../../electron/services/models/bundle-manifest.js';
import { maskIoU, syntheticSlice } from './synthetic-lesion.js';
import { runPython, tinyBlobBundle } from './test-models.js';

interface Case {
  name: string;
  points?: Point[];
  box?: Box;
  multimask: boolean;
  refine?: { points?: Point[]; box?: Box };
}

const W = 176;
const H = 120; // non-square, and not the model's input size
const window = { center: 40, width: 400 };
const slice = syntheticSlice(W, H, 7);
const { x: cx, y: cy } = slice.lesionCenter;
const r = slice.lesionRadius;
const lesionBox: Box = { x0: cx - r - 3, y0: cy - r - 3, x1: cx + r + 3, y1: cy + r + 3 };
const cases: Case[] = [
  { name: 'one positive point, multimask', points: [{ x: cx, y: cy, label: 1 }], multimask: true },
  { name: 'positive + negative points, single mask', points: [{ x: cx + 2, y: cy - 1, label: 1 }, { x: cx + r + 12, y: cy + 5, label: 0 }], multimask: false },
  { name: 'box', box: lesionBox, multimask: false },
  { name: 'points + box', points: [{ x: cx - 2, y: cy + 2, label: 1 }], box: lesionBox, multimask: true },
  {
    name: 'refinement with the previous low-res mask',
    points: [{ x: cx, y: cy, label: 1 }],
    multimask: true,
    refine: { points: [{ x: cx, y: cy, label: 1 }, { x: cx - r - 6, y: cy, label: 0 }] },
  },
];

let tmp: string;
let fastFiles: ModelFiles;
let canonicalFiles: ModelFiles;
let engine: SamEngine;
let reference: { results: { name: string; masks: { size: [number, number]; counts: string }[]; scores: number[]; refined?: { masks: { size: [number, number]; counts: string }[]; scores: number[] } }[]; rgb_sum: number };

before(() => {
  const bundle = tinyBlobBundle();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'sam-parity-'));
  writeFileSync(path.join(tmp, 'raw.bin'), Buffer.from(slice.stored.buffer));
  const request = { raw: path.join(tmp, 'raw.bin'), dtype: '<u2', height: H, width: W, slope: 1, intercept: -1024, window, cases };
  writeFileSync(path.join(tmp, 'request.json'), JSON.stringify(request));
  runPython(['predict', bundle, path.join(tmp, 'request.json'), path.join(tmp, 'out.json')]);
  reference = JSON.parse(readFileSync(path.join(tmp, 'out.json'), 'utf8'));
  const manifest = parseManifest(readFileSync(path.join(bundle, 'model.json'), 'utf8'), bundle);
  fastFiles = modelFiles(bundle, manifest, 'fp32', 'tiny', path.join);
  assert.ok(fastFiles.fastDecoder, 'the runtime bundle carries a fast decoder');
  const { fastDecoder: _, ...canonical } = fastFiles;
  canonicalFiles = { ...canonical, key: 'tiny:canonical' };
  engine = new SamEngine(2);
});

after(() => rmSync(tmp, { recursive: true, force: true }));

function refMask(m: { size: [number, number]; counts: string }): Uint8Array {
  return decodeRle({ size: m.size, counts: countsFromString(m.counts) });
}

const rgb = renderForSam({ width: W, height: H, samplesPerPixel: 1, photometric: 'MONOCHROME2', rescaleSlope: 1, rescaleIntercept: -1024, samples: slice.stored }, window);
let embedding: Embedding | undefined;

const decoders = { fast: () => fastFiles, canonical: () => canonicalFiles } as const;

async function nodePredict(c: Case, files = fastFiles): Promise<{ first: DecodeResult; refined?: DecodeResult }> {
  embedding ??= await engine.embed(files, rgb);
  const base = { origHeight: H, origWidth: W };
  const first = await engine.decode(files, embedding, { points: c.points ?? [], box: c.box ?? null, maskInput: null, multimask: c.multimask, allMasks: true, ...base });
  if (!c.refine) return { first };
  const best = first.ious.indexOf(Math.max(...first.ious));
  const refined = await engine.decode(files, embedding, { points: c.refine.points ?? [], box: c.refine.box ?? null, maskInput: first.lowRes[best]!, multimask: false, allMasks: true, ...base });
  return { first, refined };
}

test('the windowed 8-bit image is the one Python feeds SAM', () => {
  let sum = 0;
  for (const v of rgb.rgb) sum += v;
  // numpy rounds halves to even, JS away from zero: allow a handful of exact .5 ties.
  assert.ok(Math.abs(sum - reference.rgb_sum) <= 10, `Node ${sum} vs Python ${reference.rgb_sum}`);
});

for (const [kind, filesOf] of Object.entries(decoders)) for (const c of cases) {
  test(`Node masks match PyTorch SamPredictor (${kind} decoder): ${c.name}`, { timeout: 120_000 }, async (t) => {
    const ref = reference.results.find((x) => x.name === c.name)!;
    const { first, refined } = await nodePredict(c, filesOf());
    assert.equal(first.decoder, kind);
    assert.equal(first.masks.length, ref.masks.length);
    for (let i = 0; i < ref.masks.length; i++) {
      const expected = refMask(ref.masks[i]!);
      assert.deepEqual(ref.masks[i]!.size, [H, W]);
      const iou = maskIoU(first.masks[i]!, expected);
      assert.ok(iou >= 0.99, `${c.name} mask ${i}: IoU ${iou.toFixed(4)} (areas node ${first.masks[i]!.reduce((a, b) => a + b, 0)}, torch ${expected.reduce((a, b) => a + b, 0)})`);
      assert.ok(Math.abs(first.ious[i]! - ref.scores[i]!) < 0.01, `${c.name} score ${i}: node ${first.ious[i]} torch ${ref.scores[i]}`);
      t.diagnostic(`mask ${i}: IoU node vs torch ${iou.toFixed(5)}, area ${expected.reduce((a, b) => a + b, 0)}, score diff ${Math.abs(first.ious[i]! - ref.scores[i]!).toExponential(2)}`);
    }
    if (c.refine) {
      const expected = refMask(ref.refined!.masks[0]!);
      const iou = maskIoU(refined!.masks[0]!, expected);
      assert.ok(iou >= 0.99, `refined mask IoU ${iou.toFixed(4)}`);
      t.diagnostic(`refined: IoU node vs torch ${iou.toFixed(5)}`);
      assert.ok(expected.some((v) => v === 1), 'the refined reference mask is not empty');
    }
  });
}

test('the fast decoder gives the canonical decoder\'s masks and scores for every prompt', async (t) => {
  let worst = 1;
  for (const c of cases) {
    const fast = await nodePredict(c, fastFiles);
    const canonical = await nodePredict(c, canonicalFiles);
    for (const [a, b] of [[fast.first, canonical.first], ...(fast.refined ? [[fast.refined, canonical.refined!]] : [])] as [DecodeResult, DecodeResult][]) {
      assert.equal(a.masks.length, b.masks.length);
      for (let i = 0; i < a.masks.length; i++) {
        worst = Math.min(worst, maskIoU(a.masks[i]!, b.masks[i]!));
        assert.ok(Math.abs(a.ious[i]! - b.ious[i]!) < 1e-4, `${c.name}: score ${a.ious[i]} vs ${b.ious[i]}`);
      }
    }
  }
  assert.ok(worst >= 0.999, `worst mask IoU fast vs canonical ${worst}`);
  t.diagnostic(`worst mask IoU fast vs canonical: ${worst.toFixed(6)}`);
});

test('the trained tiny model finds the lesion from one click (the prompts above are meaningful)', async (t) => {
  const { first } = await nodePredict(cases[0]!);
  const best = first.ious.indexOf(Math.max(...first.ious));
  const iou = maskIoU(first.masks[best]!, slice.lesion);
  assert.ok(iou > 0.3, `best mask vs lesion IoU ${iou.toFixed(3)}`);
  t.diagnostic(`best mask vs true lesion IoU ${iou.toFixed(3)}`);
});
