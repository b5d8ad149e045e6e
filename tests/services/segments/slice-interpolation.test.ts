/**
 * Fill between slices, the pure part: exact distances, shape blending (two circles give a
 * circle of the interpolated radius, a ring keeps its hole, a moving shape moves), and the
 * slices it fills between key slices, by position. Also the propagation step's prompt and
 * stop rule.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { blendShapes, fillBetween, pixelAspect, signedDistance, squaredDistanceTo } from '../../../electron/services/segments/slice-interpolation.js';
import { judgeSlice, keepConnectedTo, maskArea, maskBox, promptFromMask } from '../../../electron/services/segments/propagation-step.js';
import { discMask } from '../helpers.js';

const N = 96;

/** Radius of the disc with the mask's area. */
const equivalentRadius = (m: Uint8Array) => Math.sqrt(maskArea(m) / Math.PI);
function centroid(m: Uint8Array, w: number): { x: number; y: number } {
  let sx = 0;
  let sy = 0;
  let n = 0;
  for (let i = 0; i < m.length; i++) if (m[i]) (sx += i % w), (sy += Math.floor(i / w)), n++;
  return { x: sx / n, y: sy / n };
}

test('squared distances are exact Euclidean distances to the nearest site, Infinity without one', () => {
  const w = 7;
  const h = 5;
  const m = new Uint8Array(w * h);
  m[2 * w + 3] = 1;
  m[4 * w + 0] = 1;
  const d = squaredDistanceTo(m, w, h, 1);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const brute = Math.min((x - 3) ** 2 + (y - 2) ** 2, (x - 0) ** 2 + (y - 4) ** 2);
      assert.equal(d[y * w + x], brute, `(${x}, ${y})`);
    }
  assert.ok(squaredDistanceTo(new Uint8Array(12), 4, 3, 1).every((v) => v === Infinity));
});

test('non-square pixels: distances in units of the shorter side, exact; interpolation between physical circles gives a physical circle', () => {
  assert.deepEqual(pixelAspect([1, 2]), { x: 2, y: 1 }, 'DICOM order: rows 1 mm apart (y), columns 2 mm apart (x)');
  assert.deepEqual(pixelAspect([0.7, 0.7]), { x: 1, y: 1 });
  assert.deepEqual(pixelAspect(null), { x: 1, y: 1 });
  assert.deepEqual(pixelAspect([0, 1]), { x: 1, y: 1 }, 'a spacing that is no spacing');
  const w = 9;
  const h = 7;
  const m = new Uint8Array(w * h);
  m[3 * w + 4] = 1;
  m[6 * w + 0] = 1;
  const aspect = { x: 2, y: 1 };
  const d = squaredDistanceTo(m, w, h, 1, aspect);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const brute = Math.min((2 * (x - 4)) ** 2 + (y - 3) ** 2, (2 * (x - 0)) ** 2 + (y - 6) ** 2);
      assert.equal(d[y * w + x], brute, `(${x}, ${y})`);
    }
  // Circles of 10 and 30 mm radius on pixels 2 mm wide and 1 mm tall are ellipses of 5 x 10 and
  // 15 x 30 pixels; halfway, the mm-true blend is a 20 mm circle: 10 x 20 pixels.
  const [W2, H2] = [80, 80];
  const ellipseMask = (rx: number, ry: number) => {
    const e = new Uint8Array(W2 * H2);
    for (let y = 0; y < H2; y++) for (let x = 0; x < W2; x++) if (((x + 0.5 - 40) / rx) ** 2 + ((y + 0.5 - 40) / ry) ** 2 <= 1) e[y * W2 + x] = 1;
    return e;
  };
  const keys = [
    { index: 0, position: 0, mask: ellipseMask(5, 10) },
    { index: 2, position: 2, mask: ellipseMask(15, 30) },
  ];
  const mid = fillBetween(keys, (i) => i, W2, H2, aspect)[0]!.mask;
  const truth = ellipseMask(10, 20);
  let differ = 0;
  for (let i = 0; i < truth.length; i++) differ += mid[i] !== truth[i] ? 1 : 0;
  assert.ok(differ <= 0.02 * maskArea(truth), `${differ} pixels differ from the 20 mm circle (of ${maskArea(truth)})`);
});

test('the signed distance is negative inside, positive outside, and a mask blended with itself comes back unchanged', () => {
  const a = discMask(N, N, 40, 50, 17);
  const sd = signedDistance(a, N, N);
  for (let i = 0; i < a.length; i++) assert.equal(sd[i]! < 0, a[i] === 1);
  assert.deepEqual(blendShapes(sd, sd, 0.37), a);
});

test('two concentric circles give a circle of the interpolated radius', () => {
  const a = signedDistance(discMask(N, N, 48, 48, 10), N, N);
  const b = signedDistance(discMask(N, N, 48, 48, 30), N, N);
  for (const t of [0.25, 0.5, 0.75]) {
    const m = blendShapes(a, b, t);
    const want = 10 + 20 * t;
    assert.ok(Math.abs(equivalentRadius(m) - want) < 0.6, `t=${t}: radius ${equivalentRadius(m).toFixed(2)} vs ${want}`);
    const c = centroid(m, N);
    assert.ok(Math.hypot(c.x - 48, c.y - 48) < 0.3, `centred (${c.x}, ${c.y})`);
  }
});

test('a shape that moves between the slices moves smoothly, keeping its size', () => {
  const a = signedDistance(discMask(N, N, 40, 48, 15), N, N);
  const b = signedDistance(discMask(N, N, 50, 48, 15), N, N);
  const m = blendShapes(a, b, 0.5);
  const c = centroid(m, N);
  assert.ok(Math.abs(c.x - 45) < 0.5 && Math.abs(c.y - 48) < 0.5, `centre (${c.x.toFixed(2)}, ${c.y.toFixed(2)})`);
  // Blending the distance maps of shifted discs pinches the sides (the blend is a lens that
  // narrows as the shift grows): a shift of 2/3 of the radius keeps the radius within 8%.
  assert.ok(Math.abs(equivalentRadius(m) - 15) / 15 < 0.08, `radius ${equivalentRadius(m).toFixed(2)}`);
});

test('a ring keeps its hole; a square turning into a disc is between the two', () => {
  const ring = (outer: number, inner: number) => {
    const m = discMask(N, N, 48, 48, outer);
    const hole = discMask(N, N, 48, 48, inner);
    for (let i = 0; i < m.length; i++) if (hole[i]) m[i] = 0;
    return m;
  };
  const mid = blendShapes(signedDistance(ring(30, 10), N, N), signedDistance(ring(34, 14), N, N), 0.5);
  assert.equal(mid[48 * N + 48], 0, 'the hole is still there');
  assert.equal(mid[48 * N + 48 + 22], 1, 'the ring is still there');
  // hole radius ~12, outer ~32
  let holeRadius = 0;
  while (!mid[48 * N + 48 + holeRadius]) holeRadius++;
  assert.ok(Math.abs(holeRadius - 12) <= 1, `hole radius ${holeRadius}`);

  const square = new Uint8Array(N * N);
  for (let y = 28; y < 68; y++) for (let x = 28; x < 68; x++) square[y * N + x] = 1;
  const disc = discMask(N, N, 47.5, 47.5, 12);
  const between = blendShapes(signedDistance(square, N, N), signedDistance(disc, N, N), 0.5);
  const area = maskArea(between);
  assert.ok(area < maskArea(square) && area > maskArea(disc), `area ${area} between ${maskArea(disc)} and ${maskArea(square)}`);
  for (let i = 0; i < between.length; i++) if (disc[i]) assert.equal(between[i], 1, 'what both contain stays');
  for (let i = 0; i < between.length; i++) if (!square[i]) assert.equal(between[i], 0, 'what neither contains stays out');
});

test('fillBetween fills only the gaps between consecutive key slices, by position', () => {
  const keys = [
    { index: 2, position: 10, mask: discMask(N, N, 48, 48, 8) },
    { index: 6, position: 30, mask: discMask(N, N, 48, 48, 24) },
    { index: 7, position: 35, mask: discMask(N, N, 48, 48, 20) },
  ];
  // Unequal spacing: slice 3 sits at 25 mm, close to the big end.
  const pos = [0, 5, 10, 25, 26, 28, 30, 35];
  const filled = fillBetween(keys, (i) => pos[i]!, N, N);
  assert.deepEqual(filled.map((f) => f.index), [3, 4, 5]);
  const r3 = equivalentRadius(filled[0]!.mask);
  assert.ok(Math.abs(r3 - (8 + 16 * 0.75)) < 0.7, `slice 3 by position: radius ${r3.toFixed(2)}`);
  // Positions that do not progress fall back to the indices.
  const flat = fillBetween(keys.slice(0, 2), () => 0, N, N);
  assert.ok(Math.abs(equivalentRadius(flat[1]!.mask) - 16) < 0.7);
  assert.deepEqual(fillBetween(keys.slice(1), (i) => pos[i]!, N, N), [], 'adjacent keys leave nothing to fill');
  // One slice without a position (NaN): that gap goes by indices, even where the rest would look monotonic.
  const holed = [0, 5, 10, Number.NaN, 26, 28, 30, 35];
  const byIndex = fillBetween(keys.slice(0, 2), (i) => holed[i]!, N, N);
  assert.ok(Math.abs(equivalentRadius(byIndex[0]!.mask) - (8 + 16 * 0.25)) < 0.7, `slice 3 by index: radius ${equivalentRadius(byIndex[0]!.mask).toFixed(2)}`);
});

test('the propagation prompt: the mask bounds with a margin, points in the core; the stop rule', () => {
  const m = discMask(N, N, 40, 50, 12);
  const b = maskBox(m, N, N)!;
  assert.deepEqual(b, { x0: 28, y0: 38, x1: 53, y1: 63 });
  const p = promptFromMask(m, N, N)!;
  assert.ok(p.box.x0 < b.x0 && p.box.x1 > b.x1 && p.box.y0 < b.y0 && p.box.y1 > b.y1);
  assert.equal(p.points.length, 3);
  for (const q of p.points) assert.ok(Math.hypot(q.x - 40.5, q.y - 50.5) <= 12 * 0.4 + 1, `point (${q.x}, ${q.y}) in the core`);
  assert.equal(promptFromMask(new Uint8Array(N * N), N, N), null);
  const tiny = new Uint8Array(N * N);
  tiny[10 * N + 10] = 1;
  assert.equal(promptFromMask(tiny, N, N)!.points.length, 1, 'a one-pixel mask gives one point');

  const th = { minIoU: 0.7, minAreaRatio: 0.4 };
  assert.deepEqual(judgeSlice({ iou: 0.9, area: 80 }, 100, th), { keep: true });
  assert.deepEqual(judgeSlice({ iou: 0.9, area: 0 }, 100, th), { keep: false, reason: 'empty', value: null });
  assert.deepEqual(judgeSlice({ iou: 0.6, area: 90 }, 100, th), { keep: false, reason: 'iou', value: 0.6 });
  assert.deepEqual(judgeSlice({ iou: 0.9, area: 30 }, 100, th), { keep: false, reason: 'area', value: 0.3 });
  assert.deepEqual(judgeSlice({ iou: 0.9, area: 300 }, 100, th), { keep: false, reason: 'area', value: 3 }, 'a leak');
});

test('only the pieces of SAM\'s mask that continue the neighbour\'s are kept', () => {
  const lesion = discMask(N, N, 30, 30, 10);
  const vessel = discMask(N, N, 70, 70, 6);
  const sam = lesion.map((v, i) => v | vessel[i]!);
  const neighbour = discMask(N, N, 32, 31, 8);
  assert.deepEqual(keepConnectedTo(sam, neighbour, N, N), lesion);
  // Diagonal contact joins a piece (8-connectivity); no overlap at all leaves nothing.
  const diag = new Uint8Array(N * N);
  diag[5 * N + 5] = 1;
  diag[6 * N + 6] = 1;
  const guide = new Uint8Array(N * N);
  guide[5 * N + 5] = 1;
  assert.equal(maskArea(keepConnectedTo(diag, guide, N, N)), 2);
  assert.equal(maskArea(keepConnectedTo(vessel, neighbour, N, N)), 0);
});
