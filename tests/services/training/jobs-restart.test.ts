/**
 * A run that was going when the app was killed: after a restart the project lists it as
 * interrupted and resumable (it is not shown as running forever), and a second start is not
 * blocked by it. Job rows survive exactly as written (curves included).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { createServices, PROJECT_DB } from '../../../electron/services/index.js';

test('a run that was live when the app died is interrupted and resumable after a restart', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'jobs-restart-'));
  const proj = path.join(dir, 'proj');
  try {
    const first = createServices({ user: 'tester', transport: 'browser', version: 'test' });
    await first['project.create']({ path: proj });
    await first.close();
    // What a killed app leaves behind: a row still saying "running", mid-epoch.
    const db = new Database(path.join(proj, PROJECT_DB));
    db.prepare(
      `INSERT INTO jobs (id, kind, state, stage, detail, settings, progress, curves, run_dir, author, created_at, updated_at)
       VALUES ('train-1-abc', 'training', 'running', 'training', 'Training', '{"preset":"auto"}', '{"epoch":3,"epochs":40}',
               '[{"epoch":1,"trainLoss":1.2,"valDice":0.1},{"epoch":2,"trainLoss":1.0,"valDice":0.2}]', 'training/train-1-abc', 'tester', '2026-12-01T00:00:00Z', '2026-12-01T00:00:00Z')`,
    ).run();
    db.close();

    const second = createServices({ user: 'tester', transport: 'browser', version: 'test' });
    try {
      await second['project.open']({ path: proj });
      const [j] = await second['jobs.list']({});
      assert.equal(j!.id, 'train-1-abc');
      assert.equal(j!.state, 'interrupted');
      assert.equal(j!.resumable, true);
      assert.match(j!.error!.message, /Resume/);
      assert.deepEqual(j!.curves.map((c) => c.epoch), [1, 2], 'the curves so far are kept');
      assert.equal(j!.epoch, 3);
      const plan = await second['training.plan']({});
      assert.equal(plan.running, null, 'an interrupted run does not block a new one');
      await assert.rejects(async () => second['jobs.get']({ jobId: 'train-9-zzz' }), /No job/);
    } finally {
      await second.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('closing the project stops its run; reopened, the run is there to resume and nothing leaked into another project', { timeout: 300_000 }, async () => {
  const { retrainProject } = await import('./retrain-harness.js');
  const p = await retrainProject({ patients: 4, slices: 3 });
  try {
    const { jobId } = await p.s['training.start']({ settings: { preset: 'decoder', epochs: 200 } });
    for (;;) {
      const j = await p.s['jobs.get']({ jobId });
      if (j.stage === 'training' && (j.epoch ?? 0) >= 2) break;
      assert.equal(j.state, 'running', j.error?.message);
      await new Promise((r) => setTimeout(r, 200));
    }
    const other = path.join(p.dir, 'other');
    await p.s['project.create']({ path: other }); // switches away from the training project
    // Wait for the run's runtime process to go (the run stops within the watch's second).
    const t0 = Date.now();
    while (Date.now() - t0 < 30_000 && execFileSync('sh', ['-c', `pgrep -f -P ${process.pid} 'delineate_runtime serve' || true`], { encoding: 'utf8' }).trim()) {
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal((await p.s['models.list']({})).models.length, 0, 'no model appeared in the other project');
    await p.s['project.open']({ path: path.join(p.dir, 'proj') });
    const j = await p.s['jobs.get']({ jobId });
    assert.ok(j.resumable, `the stopped run can be resumed (state ${j.state})`);
    assert.ok(['cancelled', 'interrupted'].includes(j.state), j.state);
  } finally {
    await p.s.close();
    rmSync(p.dir, { recursive: true, force: true });
  }
});
