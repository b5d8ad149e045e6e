/**
 * SAM inference benchmarks (onnxruntime-node on this machine's CPU cores):
 * - click-to-mask latency with the embedding cached: decoder run in the inference worker +
 *   thresholding + RLE of the candidates, median/p95 over 100 clicks, fp32 vs int8, for the
 *   tiny test model and a vit_b-shaped decoder with random weights (the decoder's cost does
 *   not depend on the weights). Goal: p95 < 30 ms for vit_b.
 * - encoder time per 1024x1024 image for a vit_b-shaped encoder, fp32 vs int8, and peak
 *   memory of each (own process).
 *
 * Models are built by the Python runtime and cached under .cache/ (the first run exports
 * vit_b, which takes minutes on 2 cores).
 *
 *   node --import tsx tests/bench/sam.bench.ts
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeRle } from '../../electron/contract/rle.js';
import { SamRunner } from '../../electron/services/inference/sam-runner.node.js';
import { modelFiles, parseManifest, variantsOf, type Variant } from '../../electron/services/models/bundle-manifest.js';
import { randomBundle, tinyBlobBundle } from '../inference/test-models.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => Number(s[Math.min(s.length - 1, Math.floor(p * s.length))]!.toFixed(2));
  return { median: q(0.5), p95: q(0.95), max: q(1), n: s.length };
}

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

async function clickLatency(bundle: string, variant: Variant, origSize = 512, clicks = 100) {
  const manifest = parseManifest(readFileSync(path.join(bundle, 'model.json'), 'utf8'), bundle);
  const files = modelFiles(bundle, manifest, variant, `bench-${path.basename(bundle)}`, path.join);
  const runner = new SamRunner();
  try {
    await runner.load(files, false);
    // The decoder's own input shape (channels differ: 256 for vit_b, smaller for tiny).
    const dims = manifest.decoder.inputs.find((i) => i.name === 'image_embeddings')!.shape.map(Number);
    const rand = rng(1);
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1)).map(() => rand() * 2 - 1);
    const embedding = async () => ({ data: data.slice(), dims });
    const total: number[] = [];
    const decode: number[] = [];
    let lowRes: Float32Array | null = null;
    for (let i = 0; i < clicks + 10; i++) {
      // 1-3 points, as a user adds clicks; every other click refines with the previous low-res mask.
      const points = Array.from({ length: 1 + (i % 3) }, (_, k) => ({ x: rand() * origSize, y: rand() * origSize, label: (k === 0 ? 1 : k % 2) as 0 | 1 }));
      const t0 = performance.now();
      const r = await runner.decode(files, 'bench-embedding', embedding, { points, box: null, maskInput: i % 2 ? lowRes : null, multimask: !(i % 2), origHeight: origSize, origWidth: origSize });
      for (const m of r.masks) encodeRle(m, origSize, origSize);
      const ms = performance.now() - t0;
      lowRes = r.lowRes[0]!;
      if (i >= 10) {
        total.push(ms);
        decode.push(r.ms);
      }
    }
    return { file: path.basename(files.decoder), clickToMaskMs: stats(total), decoderInWorkerMs: stats(decode) };
  } finally {
    await runner.close();
  }
}

function encoderRun(bundle: string, variant: Variant, runs: number) {
  const out = execFileSync(process.execPath, ['--import', 'tsx', path.join(root, 'tests/inference/encoder-bench.child.ts'), bundle, variant, String(runs)], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const r = JSON.parse(out) as { loadMs: number; runsMs: number[]; peakRssMiB: number; file: string };
  return { file: r.file, loadMs: Math.round(r.loadMs), perImageMs: stats(r.runsMs), peakRssMiB: Math.round(r.peakRssMiB) };
}

export default async function samBench() {
  const cpus = os.cpus();
  const tiny = tinyBlobBundle();
  const vitb = randomBundle('vit_b');
  // Other processes on these 2 cores change the figures several-fold: record the load too.
  const result: Record<string, unknown> = { machine: { cores: os.availableParallelism(), cpu: cpus[0]?.model ?? '?', onnxruntimeThreads: Math.min(8, os.availableParallelism()), loadAvg1mAtStart: os.loadavg()[0] } };
  const decoder: Record<string, unknown> = {};
  for (const [name, bundle] of [['tiny', tiny], ['vit_b', vitb]] as const) {
    const m = parseManifest(readFileSync(path.join(bundle, 'model.json'), 'utf8'), bundle);
    for (const v of variantsOf(m)) decoder[`${name}.${v}`] = await clickLatency(bundle, v);
  }
  result.clickToMask512 = decoder;
  const vb = decoder as Record<string, { clickToMaskMs: { p95: number } }>;
  result.vitbDecoderGoal = { p95GoalMs: 30, fp32P95: vb['vit_b.fp32']?.clickToMaskMs.p95, int8P95: vb['vit_b.int8']?.clickToMaskMs.p95 };
  const fp32 = encoderRun(vitb, 'fp32', 3);
  const int8 = encoderRun(vitb, 'int8', 3);
  result.vitbEncoder1024 = { fp32, int8, int8SpeedupX: Number((fp32.perImageMs.median / int8.perImageMs.median).toFixed(2)) };
  (result.machine as Record<string, unknown>).loadAvg1mAtEnd = os.loadavg()[0];
  return result;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  console.log(JSON.stringify(await samBench(), null, 2));
}
