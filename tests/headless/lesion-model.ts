/**
 * The model of the headless node tests: tiny SAM fine-tuned by the runtime's training loop
 * (train_lesion_model.py) to segment the dark lesions of the lesion phantom WITHOUT prompts,
 * built once and cached under .cache/sam-test-models like the other test models, keyed by
 * the hash of what builds it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findPythonSync, runtimeEnv } from '../../electron/services/runtime/python-path.node.js';
import { PHANTOM, phantomSeries } from '../fixtures/lesion-phantom.js';
import { cachedModel, repoRoot } from '../inference/test-models.js';

/** Training data: 10 patients x 4 slices, seed 0. The tests send other seeds (unseen images). */
const TRAIN = { patients: 10, slices: 4, seed: 0 };
const INPUTS = [
  'tests/headless/train_lesion_model.py',
  'tests/headless/lesion-model.ts',
  'tests/fixtures/lesion-phantom.ts',
  'python-runtime/delineate_runtime/training/loop.py',
];

/** The cached bundle folder (trained on first use: about a minute on 2 cores). */
export function lesionAutoBundle(): string {
  return cachedModel('lesion-auto', INPUTS, JSON.stringify(TRAIN), (out) => {
    const work = mkdtempSync(path.join(os.tmpdir(), 'lesion-model-'));
    try {
      const slices = phantomSeries(TRAIN.patients, TRAIN.slices, TRAIN.seed);
      const n = PHANTOM.size;
      const hu = new Float32Array(slices.length * n * n);
      const masks = new Uint8Array(slices.length * n * n);
      slices.forEach((s, i) => {
        for (let k = 0; k < n * n; k++) hu[i * n * n + k] = s.stored[k]! + PHANTOM.intercept;
        masks.set(s.lesion, i * n * n);
      });
      writeFileSync(path.join(work, 'hu.f32'), Buffer.from(hu.buffer));
      writeFileSync(path.join(work, 'masks.u8'), masks);
      execFileSync(findPythonSync(), [path.join(repoRoot, 'tests/headless/train_lesion_model.py'), path.join(work, 'hu.f32'), path.join(work, 'masks.u8'), String(slices.length), String(n), out], {
        cwd: repoRoot,
        // One torch thread: on a shared 2-core machine OpenMP spinning makes training slower.
        env: { ...process.env, ...runtimeEnv(), OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' },
        stdio: ['ignore', 'inherit', 'inherit'],
        timeout: 30 * 60_000,
      });
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename ?? '')) console.log(lesionAutoBundle());
