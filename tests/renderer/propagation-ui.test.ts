/**
 * The propagation panel's pure helpers: stepping to the next/previous draft slice (wrapping,
 * skipping the one shown), the thresholds kept between sessions (bad values fall back to the
 * defaults), and the dashed border that marks a draft in the viewer.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PROPAGATION_DEFAULTS } from '../../electron/contract/propagation.js';
import { dashedBorder, dashRgba } from '../../renderer/src/segments/draftOutline.js';
import { draftNeighbour, loadThresholds, saveThresholds } from '../../renderer/src/segments/propagationUi.js';

test('next and previous draft slice: nearest in that direction, wrapping round, never the slice shown', () => {
  const stack = Array.from({ length: 10 }, (_, i) => ({ imageId: 100 + i, frame: 0 }));
  const drafts = [3, 4, 8].map((i) => ({ imageId: 100 + i, frame: 0 }));
  assert.equal(draftNeighbour(stack, 0, drafts, 1), 3);
  assert.equal(draftNeighbour(stack, 4, drafts, 1), 8);
  assert.equal(draftNeighbour(stack, 8, drafts, 1), 3, 'wraps to the first');
  assert.equal(draftNeighbour(stack, 3, drafts, -1), 8, 'wraps to the last');
  assert.equal(draftNeighbour(stack, 6, drafts, -1), 4);
  assert.equal(draftNeighbour(stack, 3, [{ imageId: 103, frame: 0 }], 1), null, 'only the slice shown');
  // Frames of one multi-frame image are told apart.
  const frames = Array.from({ length: 5 }, (_, f) => ({ imageId: 7, frame: f }));
  assert.equal(draftNeighbour(frames, 0, [{ imageId: 7, frame: 2 }], 1), 2);
});

test('thresholds are kept; a stored value that is not a 0..1 number gives the default', () => {
  const store = new Map<string, string>();
  const storage = { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v) };
  assert.deepEqual(loadThresholds(storage), PROPAGATION_DEFAULTS);
  saveThresholds({ minIoU: 0.6, minAreaRatio: 0.25 }, storage);
  assert.deepEqual(loadThresholds(storage), { minIoU: 0.6, minAreaRatio: 0.25 });
  store.set([...store.keys()][0]!, JSON.stringify({ minIoU: 3, minAreaRatio: 'x' }));
  assert.deepEqual(loadThresholds(storage), PROPAGATION_DEFAULTS);
  store.set([...store.keys()][0]!, '{not json');
  assert.deepEqual(loadThresholds(storage), PROPAGATION_DEFAULTS);
  assert.deepEqual(loadThresholds(null), PROPAGATION_DEFAULTS);
});

test('a draft is outlined by dashes on its border only, alternating light and dark', () => {
  const w = 12;
  const h = 10;
  const m = new Uint8Array(w * h);
  for (let y = 2; y < 8; y++) for (let x = 2; x < 10; x++) m[y * w + x] = 1;
  const d = dashedBorder(m, w, h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const border = m[y * w + x] === 1 && (x === 2 || x === 9 || y === 2 || y === 7);
      assert.equal(d[y * w + x] !== 0, border, `(${x}, ${y})`);
    }
  const top = Array.from({ length: 8 }, (_, i) => d[2 * w + 2 + i]);
  assert.ok(top.includes(1) && top.includes(2), `both dash colours along an edge: ${top.join('')}`);
  const rgba = dashRgba(d);
  assert.equal(rgba[(2 * w + 2) * 4 + 3], 255);
  assert.equal(rgba[(5 * w + 5) * 4 + 3], 0, 'the inside is left to the ordinary overlay');
});
