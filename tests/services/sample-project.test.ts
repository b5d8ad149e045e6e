/**
 * The sample project from resources/: made through the ordinary import, mask and model
 * paths, ready to click-segment (a model is active) and to retrain (enough accepted masks);
 * opening it a second time reopens the same project instead of failing or duplicating it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { createServices } from '../../electron/services/index.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'sample-'));
const s = createServices({ user: 'tester', transport: 'browser', version: 'test' });
after(async () => {
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

test('the sample project opens with its CT series, accepted masks, an active starter model, and is ready to retrain', { timeout: 120_000 }, async () => {
  const dest = path.join(dir, 'Sample project');
  const info = await s['project.openSample']({ path: dest });
  assert.equal(info.imageCount, 24);
  const images = await s['images.list']({});
  assert.equal(new Set(images.map((i) => i.patientId)).size, 6);
  const labelled = images.filter((i) => i.maskCount > 0);
  assert.equal(labelled.length, 8);
  const models = await s['models.list']({});
  assert.equal(models.models.length, 1);
  assert.equal(models.activeId, models.models[0]!.id);
  const plan = await s['training.plan']({});
  assert.equal(plan.ready, true, plan.blocker ?? '');
  assert.equal(plan.split.groupBy, 'patient');

  // Label next: the unlabelled slices, most uncertain first, scored by the active model.
  const next = await s['training.labelNext']({ limit: 10 });
  assert.equal(next.modelId, models.activeId);
  assert.equal(next.images.length, 10);
  const unlabelled = new Set(images.filter((i) => i.maskCount === 0).map((i) => i.id));
  for (const n of next.images) {
    assert.ok(unlabelled.has(n.imageId), `image ${n.imageId} has no masks`);
    assert.ok(n.score >= 0 && n.score <= 1 && /predicted IoU/.test(n.reason));
  }
  assert.deepEqual(next.images.map((n) => n.score), [...next.images.map((n) => n.score)].sort((a, b) => b - a), 'most uncertain first');
  assert.ok(new Set(next.images.map((n) => n.score)).size > 1, 'the scores tell images apart');

  // A validation pin is stored with the image and pulls its whole patient into validation.
  const unpinnedPlan = await s['training.plan']({});
  const trainImage = labelled.find((i) => i.patientId !== labelled.find((x) => x.validationPinned)?.patientId)!;
  await s['training.pinValidation']({ imageId: trainImage.id, pinned: true });
  assert.equal((await s['images.list']({})).find((i) => i.id === trainImage.id)!.validationPinned, true);
  const pinnedPlan = await s['training.plan']({});
  assert.equal(pinnedPlan.split.pinned, 1);
  assert.ok(pinnedPlan.split.val >= 4 && pinnedPlan.split.val >= unpinnedPlan.split.val);
  await s['training.pinValidation']({ imageId: trainImage.id, pinned: false });

  await s['project.close']({});
  const again = await s['project.openSample']({ path: dest });
  assert.equal(again.imageCount, 24);
  assert.equal((await s['models.list']({})).models.length, 1);
});
