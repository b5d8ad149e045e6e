/**
 * An offline hospital: the training environment cannot be installed. The plan says it is not
 * there yet and how big it is; the run fails at its first stage with what is missing and how to
 * provide it (a folder of wheels), and nothing is written into the project.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pythonTrainingEnvironment } from '../../../electron/services/training/environment.node.js';
import { retrainProject } from './retrain-harness.js';

test('no packages to be had: the run stops at the environment step saying what is missing and how to provide it', { timeout: 300_000 }, async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'env-fail-'));
  const lock = path.join(tmp, 'requirements.lock');
  writeFileSync(lock, 'delineate-no-such-package==0.0.1\n');
  const saved = { PIP_NO_INDEX: process.env.PIP_NO_INDEX, DELINEATE_PYTHON: process.env.DELINEATE_PYTHON };
  process.env.PIP_NO_INDEX = '1'; // no network: fail at once, as offline
  delete process.env.DELINEATE_PYTHON;
  const p = await retrainProject({ patients: 3, slices: 3, environment: pythonTrainingEnvironment(undefined, { lock, root: path.join(tmp, 'envs') }) });
  try {
    const plan = await p.s['training.plan']({});
    assert.equal(plan.environment.ready, false);
    assert.match(plan.environment.note, /5\.6 GB/);
    const { jobId } = await p.s['training.start']({});
    let j = await p.s['jobs.get']({ jobId });
    while (['running', 'cancelling'].includes(j.state)) {
      await new Promise((r) => setTimeout(r, 200));
      j = await p.s['jobs.get']({ jobId });
    }
    assert.equal(j.state, 'failed');
    assert.equal(j.stage, 'environment');
    assert.match(j.error!.message, /delineate-no-such-package/, 'names what is missing');
    assert.match(j.error!.message, /PIP_FIND_LINKS=/, 'says how to provide it offline');
    assert.ok(!existsSync(path.join(p.dir, 'proj', 'datasets')), 'no snapshot was written');
    assert.equal((await p.s['models.list']({})).models.length, 1, 'only the starting model');
  } finally {
    await p.s.close();
    if (saved.PIP_NO_INDEX === undefined) delete process.env.PIP_NO_INDEX;
    else process.env.PIP_NO_INDEX = saved.PIP_NO_INDEX;
    if (saved.DELINEATE_PYTHON !== undefined) process.env.DELINEATE_PYTHON = saved.DELINEATE_PYTHON;
    rmSync(p.dir, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  }
});
