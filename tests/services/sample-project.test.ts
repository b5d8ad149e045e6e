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
  await s['project.close']({});
  const again = await s['project.openSample']({ path: dest });
  assert.equal(again.imageCount, 24);
  assert.equal((await s['models.list']({})).models.length, 1);
});
