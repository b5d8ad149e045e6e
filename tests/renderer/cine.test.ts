/** Cine timing (viewer/cine.ts): frame rate bounds, the loop, and when a frame is due (a frame not drawn yet holds the clock). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cineDue, clampFps, DEFAULT_FPS, MAX_FPS, MIN_FPS, nextCineIndex } from '../../renderer/src/viewer/cine.ts';

test('frames per second stay whole and within bounds', () => {
  assert.equal(clampFps(12), 12);
  assert.equal(clampFps(12.6), 13);
  assert.equal(clampFps(0), MIN_FPS);
  assert.equal(clampFps(-5), MIN_FPS);
  assert.equal(clampFps(500), MAX_FPS);
  assert.equal(clampFps(Number.NaN), DEFAULT_FPS);
});

test('the loop goes back to the first slice after the last', () => {
  assert.deepEqual([0, 1, 2, 3].map((i) => nextCineIndex(i, 4)), [1, 2, 3, 0]);
  assert.equal(nextCineIndex(0, 1), 0);
  assert.equal(nextCineIndex(5, 0), 0);
});

test('a frame is due after 1/fps, and only once the last one is drawn', () => {
  assert.equal(cineDue(1000, 1050, 10, true), false, '50 ms at 10 fps');
  assert.equal(cineDue(1000, 1100, 10, true), true);
  assert.equal(cineDue(1000, 1500, 10, false), false, 'not drawn yet: wait');
  // 60 fps on a 60 Hz display: the next animation frame (16.7 ms later, give or take) is due.
  assert.equal(cineDue(0, 16.0, 60, true), true);
  assert.equal(cineDue(0, 5, 60, true), false);
});
