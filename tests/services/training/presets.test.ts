import assert from 'node:assert/strict';
import { test } from 'node:test';
import { estimateSeconds, resolveSettings, trainConfigFor } from '../../../electron/services/training/presets.js';

test('the range-test option reaches the runtime config, keeps the rate as its fallback, and is in the estimate', () => {
  const x = { arch: 'vit_b', device: 'cpu', trainImages: 40 };
  const plain = resolveSettings({ preset: 'auto' }, x);
  const found = resolveSettings({ preset: 'auto', lrFind: true, lr: 2e-4 }, x);
  assert.equal(plain.lrFind, false);
  assert.equal(trainConfigFor(plain).lr_find, false);
  assert.equal(found.lrFind, true);
  assert.equal(trainConfigFor(found).lr_find, true);
  assert.equal(trainConfigFor(found).lr, 2e-4, 'the typed rate is the fallback');
  const est = (r: typeof plain) => estimateSeconds(r, { ...x, valImages: 10 });
  assert.ok(est(resolveSettings({ preset: 'auto', lrFind: true }, x)) > est(plain), 'the range test costs time in the estimate');
});
