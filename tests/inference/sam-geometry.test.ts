/**
 * The SAM tool's pure geometry: viewer -> SAM coordinates (half-pixel shift), click vs drag,
 * box ordering/clamping, point labels by button, and mask bounds for the undo patch.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { boxFrom, isDrag, maskBox, pointLabel, toSamCoords } from '../../renderer/src/sam/samGeometry.js';

test('a click in the middle of pixel (10, 4) is SAM point (10, 4)', () => {
  assert.deepEqual(toSamCoords({ x: 10.5, y: 4.5 }), { x: 10, y: 4 });
});

test('left = positive, right or Alt = negative; a drag starts at 5 screen pixels', () => {
  assert.equal(pointLabel(0, false), 1);
  assert.equal(pointLabel(2, false), 0);
  assert.equal(pointLabel(0, true), 0);
  assert.equal(isDrag(3, 3), false);
  assert.equal(isDrag(4, 3), true);
});

test('boxes are ordered and clamped to the image', () => {
  assert.deepEqual(boxFrom({ x: 50, y: -3 }, { x: 10, y: 20 }, 40, 30), { x0: 10, y0: 0, x1: 39, y1: 20 });
});

test('mask bounds are end-exclusive; empty -> null', () => {
  const m = new Uint8Array(5 * 4);
  assert.equal(maskBox(m, 5, 4), null);
  m[1 * 5 + 2] = 1;
  m[3 * 5 + 4] = 1;
  assert.deepEqual(maskBox(m, 5, 4), { x0: 2, y0: 1, x1: 5, y1: 4 });
});
