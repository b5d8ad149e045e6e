import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WheelStepper } from '../../renderer/src/lib/wheel.ts';
import { batchBySize } from '../../renderer/src/lib/batches.ts';

test('one mouse notch is one slice; coalesced notches are several; direction follows the sign', () => {
  const w = new WheelStepper();
  assert.equal(w.steps(100, 0), 1);
  assert.equal(w.steps(-120, 0), -1);
  assert.equal(w.steps(300, 0), 3);
  assert.equal(w.steps(3, 1), 1, 'three lines = 120 px = one notch');
  assert.equal(w.steps(0, 0), 0);
});

test('small trackpad deltas accumulate into slices', () => {
  const w = new WheelStepper();
  const steps = [10, 10, 10, 10, 10, 10, 10, 10, 10, 10].map((d) => w.steps(d, 0));
  assert.equal(steps.reduce((a, b) => a + b, 0), 2, '100 px of small deltas = 2 slices at 50 px each');
  assert.equal(steps[3], 0);
});

test('batches respect bytes and count, keep order, and never drop a big file', () => {
  const items = [40, 30, 50, 200, 10, 10, 10].map((size, i) => ({ size, i }));
  const b = batchBySize(items, 100, 2);
  assert.deepEqual(b.map((x) => x.map((y) => y.i)), [[0, 1], [2], [3], [4, 5], [6]]);
  assert.deepEqual(batchBySize([], 10, 10), []);
});
