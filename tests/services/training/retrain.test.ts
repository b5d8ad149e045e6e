/**
 * "Retrain on my data" through createServices with the real Python runtime, on the lesion
 * phantom whose dark lesions the starting (bright-blob) model misses:
 *  - the plan says what is missing, per label, until there are enough masks;
 *  - a run raises validation Dice by at least 0.3, the new model becomes active, and a click
 *    on a held-back image gives a better mask than before; lineage and the gate are stored;
 *  - one-click rollback restores the previous model;
 *  - killing the runtime mid-epoch is reported, leaves the project intact, and Resume finishes;
 *  - a run made worse on purpose (training labels shuffled between patients) is refused and
 *    the better model stays active.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { PackageManifest } from '../../../electron/contract/model-package.js';
import type { JobInfo } from '../../../electron/contract/training.js';
import { decodeRle, encodeRle } from '../../../electron/contract/rle.js';
import { interiorPoint, PHANTOM, type PhantomSlice } from '../../fixtures/lesion-phantom.js';
import { maskIoU } from '../../inference/synthetic-lesion.js';
import { retrainProject, type RetrainProject } from './retrain-harness.js';

let p: RetrainProject;
let trainedId: string;

before(async () => {
  p = await retrainProject({ patients: 6, slices: 4 });
});

after(async () => {
  await p.s.close();
  rmSync(p.dir, { recursive: true, force: true });
});

async function waitFor(jobId: string, done: (j: JobInfo) => boolean, timeoutMs = 15 * 60_000): Promise<JobInfo> {
  const t0 = Date.now();
  for (;;) {
    const j = await p.s['jobs.get']({ jobId });
    if (done(j)) return j;
    if (Date.now() - t0 > timeoutMs) throw new Error(`job ${jobId} still ${j.state}/${j.stage} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
const ended = (j: JobInfo) => !['running', 'cancelling'].includes(j.state);

async function clickIoU(slice: PhantomSlice & { imageId: number }): Promise<{ iou: number; modelId: string }> {
  const target = { imageId: slice.imageId, frame: 0, window: PHANTOM.window };
  const { modelId } = await p.s['sam.prepare'](target);
  const pt = interiorPoint(slice.lesion, PHANTOM.size);
  const r = await p.s['sam.predict']({ ...target, points: [{ ...pt, label: 1 }], box: null, maskInput: null, multimask: true });
  return { iou: maskIoU(decodeRle(r.masks[r.best]!.rle!), slice.lesion), modelId };
}

/** Image ids on the validation side of the run's dataset snapshot. */
function validationImages(projectDir: string, hash: string): Set<number> {
  const coco = JSON.parse(readFileSync(path.join(projectDir, 'datasets', hash, 'annotations.json'), 'utf8')) as { images: { split: string; delineate: { image_id: number } }[] };
  return new Set(coco.images.filter((i) => i.split === 'val').map((i) => i.delineate.image_id));
}

test('too few masks: the plan says how many more each label needs, and start refuses', async () => {
  const few = await retrainProject({ patients: 2, slices: 2, labelled: (s) => s.patient === 0 });
  try {
    const plan = await few.s['training.plan']({});
    assert.equal(plan.ready, false);
    const lesion = plan.labels.find((l) => l.name === 'lesion')!;
    assert.equal(lesion.masks, 2);
    assert.equal(lesion.need, 6);
    assert.match(plan.blocker!, /lesion needs 6 more/);
    await assert.rejects(async () => few.s['training.start']({}), /lesion needs 6 more/);
  } finally {
    await few.s.close();
    rmSync(few.dir, { recursive: true, force: true });
  }
});

test('retrain: validation Dice rises by >= 0.3, the new model is active, and a click on a held-back image is better', { timeout: 20 * 60_000 }, async (t) => {
  const plan = await p.s['training.plan']({});
  assert.equal(plan.ready, true, plan.blocker ?? '');
  assert.equal(plan.split.groupBy, 'patient');
  assert.ok(plan.split.val >= 2 && plan.split.train >= 8, JSON.stringify(plan.split));
  assert.equal(plan.settings.mode, 'decoder');
  assert.ok(plan.estimateS !== null && plan.estimateS > 0);

  const { jobId } = await p.s['training.start']({});
  const running = await waitFor(jobId, (j) => j.stage === 'training' || ended(j));
  assert.equal(running.state, 'running', running.error?.message);
  const j = await waitFor(jobId, ended);
  assert.equal(j.state, 'succeeded', j.error?.message);
  const o = j.outcome!;
  assert.ok(o.gate.after - o.gate.before >= 0.3, `validation Dice ${o.gate.before} -> ${o.gate.after}`);
  assert.equal(o.activated, true, o.gate.reason);
  assert.equal(o.previousModelId, p.starterId);
  assert.ok(j.curves.length >= 5 && j.curves.every((c) => c.valDice !== null), 'a validation Dice per epoch');
  assert.ok(j.lossSteps.length > 0);
  for (const mode of ['click1', 'click3', 'box', 'auto']) assert.ok(o.evaluation.some((r) => r.mode === mode), `before/after row for ${mode}`);

  const list = await p.s['models.list']({});
  assert.equal(list.activeId, o.modelId);
  const runDir = path.join(p.dir, 'proj', 'training', jobId, 'run');
  assert.ok(existsSync(path.join(runDir, 'run.json')), 'the run keeps its record');
  assert.ok(!existsSync(path.join(runDir, 'checkpoints')) && !existsSync(path.join(runDir, 'best.pt')), 'and drops its checkpoints once the model is installed');
  const trained = list.models.find((m) => m.id === o.modelId)!;
  trainedId = trained.id;
  assert.equal(trained.lineage?.datasetHash, o.datasetHash);
  assert.equal(trained.lineage?.parentModelId, p.starterId);
  assert.equal(trained.lineage?.trainedBy, 'tester');
  assert.equal((trained.lineage?.gate as { passed?: boolean }).passed, true);
  assert.deepEqual(trained.variants, ['int8', 'fp32']);

  // Export model: its card says what it was trained on and how it did, from this run.
  const out = await p.s['models.exportPackage']({ id: trained.id, folder: path.join(p.dir, 'packages') });
  const pkg = JSON.parse(readFileSync(path.join(out.folder, 'delineate-package.json'), 'utf8')) as PackageManifest;
  assert.equal(pkg.version, trained.id);
  assert.equal(pkg.card.training?.dataset_hash, o.datasetHash);
  assert.equal(pkg.card.training?.train_images, plan.split.train);
  assert.equal(pkg.card.training?.validation_images, plan.split.val);
  assert.deepEqual(pkg.card.training?.modalities, ['CT']);
  assert.deepEqual(pkg.model.fixed_window, { ...PHANTOM.window, modality: 'CT' }, 'every label was drawn through one CT window: the node renders through it');
  assert.equal(pkg.card.training?.split_by, 'patient');
  assert.equal(pkg.card.metrics.length, o.evaluation.length, 'the before/after table, row for row');
  assert.equal(pkg.card.trained_by, 'tester');
  assert.deepEqual(pkg.labels.map((l) => l.name), ['lesion']);
  assert.deepEqual(pkg.labels[0]!.type, { scheme: 'SCT', value: '52988006', meaning: 'Lesion' });
  assert.ok(existsSync(out.archive));

  // A held-back image: the starting model against the new one, same click.
  const val = validationImages(path.join(p.dir, 'proj'), o.datasetHash);
  const held = p.slices.find((s) => val.has(s.imageId))!;
  const now = await clickIoU(held);
  assert.equal(now.modelId, o.modelId);
  await p.s['models.setActive']({ id: p.starterId });
  const was = await clickIoU(held);
  assert.equal(was.modelId, p.starterId, 'rollback: the previous model answers the click again');
  assert.ok(now.iou > was.iou + 0.2, `click IoU on a held-back image: ${was.iou.toFixed(3)} before, ${now.iou.toFixed(3)} after`);
  t.diagnostic(`validation Dice ${o.gate.before.toFixed(3)} -> ${o.gate.after.toFixed(3)}; held-back click IoU ${was.iou.toFixed(3)} -> ${now.iou.toFixed(3)}; train ${o.trainSeconds.toFixed(1)} s, total ${o.totalSeconds.toFixed(1)} s`);
});

test('killing the runtime mid-epoch is reported, the project stays intact, and Resume finishes the run', { timeout: 20 * 60_000 }, async () => {
  const masksBefore = await Promise.all(p.slices.map((s) => p.s['masks.list']({ imageId: s.imageId })));
  const { jobId } = await p.s['training.start']({ settings: { preset: 'decoder', epochs: 60 } });
  await waitFor(jobId, (j) => (j.stage === 'training' && (j.epoch ?? 0) >= 3) || ended(j));
  const pids = execFileSync('pgrep', ['-f', '-P', String(process.pid), 'delineate_runtime serve'], { encoding: 'utf8' }).trim().split('\n');
  assert.equal(pids.length, 1, `one runtime process for the run: ${pids.join(',')}`);
  process.kill(Number(pids[0]), 'SIGKILL');
  const crashed = await waitFor(jobId, ended);
  assert.equal(crashed.state, 'interrupted');
  assert.equal(crashed.error?.code, 'runtime_crashed');
  assert.match(crashed.error!.message, /stopped unexpectedly.*Resume/);
  assert.equal(crashed.resumable, true);
  const masksAfter = await Promise.all(p.slices.map((s) => p.s['masks.list']({ imageId: s.imageId })));
  assert.deepEqual(masksAfter, masksBefore, 'masks untouched');
  assert.equal((await p.s['images.list']({})).length, p.slices.length);
  const epochAtCrash = crashed.curves.at(-1)?.epoch ?? 0;

  await p.s['training.resume']({ jobId });
  const resumed = await waitFor(jobId, ended);
  assert.equal(resumed.state, 'succeeded', resumed.error?.message);
  assert.ok(resumed.curves.length >= epochAtCrash, 'the curves continue where they stopped');
  assert.equal(new Set(resumed.curves.map((c) => c.epoch)).size, resumed.curves.length, 'no epoch twice');
  assert.ok(resumed.outcome!.gate.after > 0.3, `resumed run validation Dice ${resumed.outcome!.gate.after}`);
});

test('the gate: a run trained on shuffled labels is refused and the better model stays active', { timeout: 20 * 60_000 }, async () => {
  await p.s['models.setActive']({ id: trainedId });
  // Shuffle the training side's lesion masks between patients; validation keeps the truth.
  const plan = await p.s['training.plan']({});
  assert.equal(plan.ready, true);
  const jobs = await p.s['jobs.list']({});
  const val = validationImages(path.join(p.dir, 'proj'), jobs.find((j) => j.outcome)!.outcome!.datasetHash);
  const train = p.slices.filter((s) => !val.has(s.imageId));
  for (const [k, s] of train.entries()) {
    const other = train[(k + 5) % train.length]!;
    await p.s['masks.save']({ imageId: s.imageId, frame: 0, labelId: p.labelId, instance: 1, rle: encodeRle(other.lesion, PHANTOM.size, PHANTOM.size), source: 'brush', window: PHANTOM.window });
  }
  const { jobId } = await p.s['training.start']({ settings: { preset: 'decoder', epochs: 25 } });
  const j = await waitFor(jobId, ended);
  assert.equal(j.state, 'succeeded', j.error?.message);
  assert.equal(j.outcome!.activated, false, j.outcome!.gate.reason);
  assert.match(j.outcome!.gate.reason, /Kept the current model/);
  assert.ok(j.outcome!.gate.after < j.outcome!.gate.before, `${j.outcome!.gate.before} -> ${j.outcome!.gate.after}`);
  assert.equal((await p.s['models.list']({})).activeId, trainedId, 'the better model stays active');
  const refused = (await p.s['models.list']({})).models.find((m) => m.id === j.outcome!.modelId)!;
  assert.equal((refused.lineage?.gate as { passed?: boolean }).passed, false, 'the verdict is stored with the refused model');
});
