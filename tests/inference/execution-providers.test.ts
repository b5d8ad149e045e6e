/**
 * Execution provider selection (issue 10): a GPU provider where the machine has one, else the
 * CPU with a clear status. This machine has no GPU provider libraries, so the real
 * onnxruntime-node fails to load CUDA (and has no Core ML on Linux): the engine must fall
 * back to the CPU, say why, and give the same masks.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createWithFallback, describeChoice, providerCandidates, type ExecutionProvider } from '../../electron/services/inference/execution-providers.js';
import { SamEngine } from '../../electron/services/inference/sam-engine.node.js';
import { modelFiles, parseManifest } from '../../electron/services/models/bundle-manifest.js';
import { tinyBlobBundle } from './test-models.js';

test('candidates per platform, best first, the CPU last; a forced provider keeps the CPU behind it', () => {
  assert.deepEqual(providerCandidates('linux'), ['cuda', 'cpu']);
  assert.deepEqual(providerCandidates('win32'), ['cuda', 'dml', 'cpu']);
  assert.deepEqual(providerCandidates('darwin'), ['coreml', 'cpu']);
  assert.deepEqual(providerCandidates('freebsd'), ['cpu']);
  assert.deepEqual(providerCandidates('linux', 'cpu'), ['cpu']);
  assert.deepEqual(providerCandidates('linux', 'auto'), ['cuda', 'cpu']);
  assert.deepEqual(providerCandidates('win32', ' DML '), ['dml', 'cpu']);
  assert.throws(() => providerCandidates('linux', 'tpu'), /DELINEATE_EXECUTION_PROVIDER=tpu: not one of auto, cuda, dml, coreml, cpu/);
});

test('a provider that failed is remembered only when a later one ran the same model', async () => {
  const unavailable = new Map<ExecutionProvider, string>();
  const tried: ExecutionProvider[] = [];
  const works = async (p: ExecutionProvider) => {
    tried.push(p);
    if (p === 'cuda') throw new Error('Failed to load shared library\nmore lines');
    return p;
  };
  const a = await createWithFallback(['cuda', 'cpu'], works, unavailable);
  assert.equal(a.value, 'cpu');
  assert.deepEqual(a.choice.skipped, [{ provider: 'cuda', reason: 'Failed to load shared library' }]);
  assert.equal(describeChoice(a.choice), 'CPU (CUDA not available: Failed to load shared library)');
  const b = await createWithFallback(['cuda', 'cpu'], works, unavailable);
  assert.deepEqual(tried, ['cuda', 'cpu', 'cpu'], 'CUDA is not tried again in this process');
  assert.equal(b.choice.skipped[0]!.reason, 'Failed to load shared library');
  // A broken model fails everywhere: that is the model's fault, not CUDA's.
  const fresh = new Map<ExecutionProvider, string>();
  await assert.rejects(createWithFallback(['cuda', 'cpu'], async () => Promise.reject(new Error('protobuf parsing failed')), fresh), /protobuf parsing failed/);
  assert.equal(fresh.size, 0);
});

test('with the real onnxruntime-node: CUDA and Core ML are not here, the CPU runs the model and the masks are the same', { timeout: 120_000 }, async () => {
  const bundle = tinyBlobBundle();
  const manifest = parseManifest(readFileSync(path.join(bundle, 'model.json'), 'utf8'), bundle);
  const files = modelFiles(bundle, manifest, 'fp32', 'providers', path.join);
  const size = 96;
  const rgb = new Uint8Array(size * size * 3).map((_, i) => ((i * 13) % 251) & 0xff);
  const req = { points: [{ x: 40, y: 50, label: 1 as const }], box: null, maskInput: null, multimask: true, origHeight: size, origWidth: size };

  const cpu = new SamEngine(2, () => {}, ['cpu']);
  const e0 = await cpu.embed(files, { width: size, height: size, rgb });
  const d0 = await cpu.decode(files, e0, req);
  assert.deepEqual(e0.provider, { provider: 'cpu', skipped: [] });
  assert.equal(describeChoice(d0.provider), 'CPU');

  for (const wanted of ['cuda', 'coreml'] as const) {
    const engine = new SamEngine(2, () => {}, [wanted, 'cpu']);
    const e = await engine.embed(files, { width: size, height: size, rgb });
    const d = await engine.decode(files, e, req);
    for (const choice of [e.provider, d.provider]) {
      assert.equal(choice.provider, 'cpu');
      assert.equal(choice.skipped[0]!.provider, wanted);
      assert.match(choice.skipped[0]!.reason, /Failed to load|backend not found|not available/i, choice.skipped[0]!.reason);
    }
    assert.match(describeChoice(d.provider), new RegExp(`^CPU \\(${wanted === 'cuda' ? 'CUDA' : 'Core ML'} not available: `));
    assert.deepEqual(e.data, e0.data, 'the same embedding on the fallback');
    assert.deepEqual(d.masks, d0.masks);
  }

  // A file that is not a model: the error is the model's, and nothing is blamed on CUDA.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'providers-'));
  try {
    writeFileSync(path.join(dir, 'decoder.onnx'), 'not a model');
    const { fastDecoder: _, ...canonical } = files;
    const broken = { ...canonical, key: 'broken', decoder: path.join(dir, 'decoder.onnx') };
    await assert.rejects(new SamEngine(1, () => {}, ['cuda', 'cpu']).decode(broken, e0, req));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
