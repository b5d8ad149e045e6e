import { test } from 'node:test';
import assert from 'node:assert/strict';
import { paintDisc, paintStroke, fillPolygon, extractPatch, applyPatch, countSet, outline } from '../../renderer/src/lib/raster.ts';

const W = 20;
const H = 16;

function at(m: Uint8Array, x: number, y: number): number {
  return m[y * W + x]!;
}

test('paintDisc fills pixels whose centres are within the radius and reports the box', () => {
  const m = new Uint8Array(W * H);
  const box = paintDisc(m, W, H, 10, 8, 3, 1);
  assert.deepEqual(box, { x0: 7, y0: 5, x1: 13, y1: 11 });
  assert.equal(at(m, 10, 8), 1);
  assert.equal(at(m, 9, 7), 1);
  assert.equal(at(m, 7, 5), 0, 'corner of the box is outside the disc');
  // Area close to pi r^2 (28.3) for r = 3 sampled at pixel centres.
  const n = countSet(m);
  assert.ok(n >= 24 && n <= 32, `disc area ${n}`);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (at(m, x, y)) assert.ok(Math.hypot(x + 0.5 - 10, y + 0.5 - 8) <= 3);
});

test('a 1-pixel brush paints exactly the pixel under the cursor', () => {
  const m = new Uint8Array(W * H);
  paintDisc(m, W, H, 4.3, 2.7, 0.5, 1);
  assert.equal(countSet(m), 1);
  assert.equal(at(m, 4, 2), 1);
});

test('paintDisc clips at the image edge and returns null when fully outside', () => {
  const m = new Uint8Array(W * H);
  const box = paintDisc(m, W, H, 0, 0, 3, 1);
  assert.deepEqual(box, { x0: 0, y0: 0, x1: 3, y1: 3 });
  assert.equal(paintDisc(m, W, H, -10, -10, 2, 1), null);
});

test('paintStroke leaves no gaps along a fast diagonal move', () => {
  const m = new Uint8Array(W * H);
  paintStroke(m, W, H, { x: 1, y: 1 }, { x: 18, y: 14 }, 1, 1);
  for (let t = 0; t <= 1; t += 0.01) {
    const x = Math.floor(1 + 17 * t);
    const y = Math.floor(1 + 13 * t);
    assert.equal(at(m, x, y), 1, `gap at ${x},${y}`);
  }
});

test('erasing with value 0 clears what was painted', () => {
  const m = new Uint8Array(W * H);
  paintDisc(m, W, H, 10, 8, 4, 1);
  paintDisc(m, W, H, 10, 8, 5, 0);
  assert.equal(countSet(m), 0);
});

test('fillPolygon fills a rectangle exactly (pixel centres inside)', () => {
  const m = new Uint8Array(W * H);
  const box = fillPolygon(m, W, H, [{ x: 2, y: 3 }, { x: 8, y: 3 }, { x: 8, y: 7 }, { x: 2, y: 7 }], 1);
  assert.deepEqual(box, { x0: 2, y0: 3, x1: 8, y1: 7 });
  assert.equal(countSet(m), 6 * 4);
  assert.equal(at(m, 2, 3), 1);
  assert.equal(at(m, 7, 6), 1);
  assert.equal(at(m, 8, 6), 0);
});

test('fillPolygon uses the even-odd rule for a concave shape and ignores < 3 points', () => {
  const m = new Uint8Array(W * H);
  // A "U": the notch between the arms stays empty.
  fillPolygon(m, W, H, [{ x: 0, y: 0 }, { x: 3, y: 0 }, { x: 3, y: 8 }, { x: 6, y: 8 }, { x: 6, y: 0 }, { x: 9, y: 0 }, { x: 9, y: 12 }, { x: 0, y: 12 }], 1);
  assert.equal(at(m, 1, 2), 1);
  assert.equal(at(m, 4, 2), 0, 'inside the notch');
  assert.equal(at(m, 4, 10), 1);
  assert.equal(fillPolygon(m, W, H, [{ x: 0, y: 0 }, { x: 5, y: 5 }], 1), null);
});

test('patches round-trip', () => {
  const m = new Uint8Array(W * H);
  paintDisc(m, W, H, 10, 8, 4, 1);
  const box = { x0: 5, y0: 4, x1: 15, y1: 12 };
  const before = extractPatch(m, W, box);
  const copy = m.slice();
  paintDisc(m, W, H, 10, 8, 6, 0);
  applyPatch(m, W, box, before);
  assert.deepEqual(m, copy);
});

test('outline keeps only boundary pixels', () => {
  const m = new Uint8Array(W * H);
  fillPolygon(m, W, H, [{ x: 2, y: 2 }, { x: 7, y: 2 }, { x: 7, y: 7 }, { x: 2, y: 7 }], 1);
  const o = outline(m, W, H);
  assert.equal(countSet(o), 5 * 4 - 4); // perimeter of a 5x5 square
  assert.equal(o[4 * W + 4], 0, 'interior is not outline');
  assert.equal(o[2 * W + 2], 1);
});
