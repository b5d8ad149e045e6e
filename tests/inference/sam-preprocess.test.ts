/**
 * Pure SAM preprocessing: the resize is Pillow's bilinear bit for bit (checked against Pillow
 * itself in the runtime's Python), the longest-side shape and prompt mapping follow
 * segment-anything's ResizeLongestSide, and windowing renders what the viewer shows.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { encoderInput, preprocessShape, promptTensors, resizeBilinearPil } from '../../electron/services/inference/sam-preprocess.js';
import { renderForSam, samplesOf } from '../../electron/services/inference/sam-window.js';
import { findPythonSync, runtimeEnv } from '../../electron/services/runtime/python-path.node.js';

function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

test('resize equals Pillow bilinear exactly, up- and downscaling, non-square', () => {
  const w = 37;
  const h = 23;
  const rgb = noise(w * h * 3, 5);
  const sizes: [number, number][] = [[64, 40], [20, 12], [37, 50], [100, 23], [1024, 637]];
  const script = `
import sys, json, numpy as np
from PIL import Image
a = np.frombuffer(sys.stdin.buffer.read(), np.uint8).reshape(${h}, ${w}, 3)
out = [np.asarray(Image.fromarray(a).resize((ow, oh), Image.BILINEAR)).astype(np.int64).ravel().tolist() for ow, oh in json.loads(sys.argv[1])]
print(json.dumps(out))`;
  const pil = JSON.parse(execFileSync(findPythonSync(), ['-c', script, JSON.stringify(sizes)], { input: rgb, maxBuffer: 256 << 20, encoding: 'utf8', env: { ...process.env, ...runtimeEnv() } })) as number[][];
  sizes.forEach(([ow, oh], k) => {
    const ours = resizeBilinearPil({ width: w, height: h, rgb }, ow, oh);
    let diff = 0;
    for (let i = 0; i < ours.rgb.length; i++) if (ours.rgb[i] !== pil[k]![i]) diff++;
    assert.equal(diff, 0, `${ow}x${oh}: ${diff} values differ from Pillow`);
  });
});

test('longest side becomes S with upstream rounding; prompts scale per axis; no box adds the padding point', () => {
  assert.deepEqual(preprocessShape(120, 176, 1024), [698, 1024]); // floor(120*1024/176 + 0.5)
  assert.deepEqual(preprocessShape(512, 512, 1024), [1024, 1024]);
  assert.deepEqual(preprocessShape(3000, 1000, 256), [256, 85]);
  const t = promptTensors([{ x: 88, y: 60, label: 1 }], null, 120, 176, 1024);
  assert.equal(t.count, 2);
  assert.deepEqual([...t.labels], [1, -1]);
  assert.ok(Math.abs(t.coords[0]! - 512) < 1e-3 && Math.abs(t.coords[1]! - (60 * 698) / 120) < 1e-3);
  const b = promptTensors([], { x0: 10, y0: 20, x1: 5, y1: 2 }, 100, 100, 1000);
  assert.deepEqual([...b.labels], [2, 3]);
  assert.deepEqual([...b.coords], [50, 20, 100, 200]); // corners ordered top-left, bottom-right
});

test('encoder input is normalised, zero-padded bottom/right, NCHW', () => {
  const img = { width: 4, height: 2, rgb: new Uint8Array(4 * 2 * 3).fill(200) };
  const prep = { image_size: 8, pixel_mean: [100, 100, 100], pixel_std: [50, 50, 50] };
  const x = encoderInput(img, prep); // 2x4 -> 4x8 (upscaled), rows 4..7 padding
  assert.equal(x.length, 3 * 64);
  assert.equal(x[0], 2);
  assert.equal(x[3 * 8 + 7], 2);
  assert.equal(x[4 * 8], 0);
  assert.equal(x[64 + 63], 0);
});

test('windowing: viewer formula on modality values, 16-bit, MONOCHROME1 inverted, 8-bit passthrough', () => {
  const samples = Uint16Array.of(1024 - 160, 1024 + 40, 1024 + 240, 4000);
  const frame = { width: 4, height: 1, samplesPerPixel: 1, photometric: 'MONOCHROME2', rescaleSlope: 1, rescaleIntercept: -1024, samples };
  const g = renderForSam(frame, { center: 40, width: 400 }).rgb;
  assert.deepEqual([g[0], g[3], g[6], g[9]], [0, 128, 255, 255]); // -160 -> 0, 40 -> 127.5 -> 128
  const inv = renderForSam({ ...frame, photometric: 'MONOCHROME1' }, { center: 40, width: 400 }).rgb;
  assert.deepEqual([inv[0], inv[3]], [255, 127]);
  const rgb8 = renderForSam({ width: 1, height: 1, samplesPerPixel: 3, photometric: 'RGB', rescaleSlope: 1, rescaleIntercept: 0, samples: Uint8Array.of(1, 2, 3) }, null);
  assert.deepEqual([...rgb8.rgb], [1, 2, 3]);
  assert.throws(() => renderForSam(frame, null), /window is needed/);
  const bytes = new Uint8Array(Int16Array.of(-5, 300).buffer);
  assert.deepEqual([...samplesOf('int16', bytes)], [-5, 300]);
});
