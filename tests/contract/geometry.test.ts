/**
 * Patient geometry against hand-computed cases: orientation markers (axial, flipped, coronal,
 * sagittal, oblique), the unit slice normal and positions along it (cosines written rounded,
 * malformed or degenerate orientations), a series' order (by position, else Instance Number,
 * else name), slice order and spacing from positions (reversed input, a gap, uneven steps,
 * not one stack), areas and volumes with and without spacing, RECIST axes of shapes
 * whose diameters are known.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  area,
  directionLetters,
  orderSlices,
  orientationMarkers,
  recistAxes,
  sliceNormal,
  slicePosition,
  stackGeometry,
  volumeMl,
  type Orientation,
} from '../../electron/contract/geometry.js';

const AXIAL: Orientation = [1, 0, 0, 0, 1, 0];

test('orientation markers: axial, flipped, coronal, sagittal, oblique', () => {
  // Axial as stored: patient's right on the image's left, anterior at the top.
  assert.deepEqual(orientationMarkers(AXIAL), { left: 'R', right: 'L', top: 'A', bottom: 'P' });
  // Flipped left-right (rows run to the patient's right).
  assert.deepEqual(orientationMarkers([-1, 0, 0, 0, 1, 0]), { left: 'L', right: 'R', top: 'A', bottom: 'P' });
  // Coronal: columns run to the feet.
  assert.deepEqual(orientationMarkers([1, 0, 0, 0, 0, -1]), { left: 'R', right: 'L', top: 'H', bottom: 'F' });
  // Sagittal: rows run posterior, columns to the feet.
  assert.deepEqual(orientationMarkers([0, 1, 0, 0, 0, -1]), { left: 'A', right: 'P', top: 'H', bottom: 'F' });
  // 30° oblique axial: rows mostly left, a little posterior.
  const c = Math.cos(Math.PI / 6);
  const s = Math.sin(Math.PI / 6);
  // Rows [c, s, 0] point left and posterior; columns [-s, c, 0] posterior and to the right.
  assert.deepEqual(orientationMarkers([c, s, 0, -s, c, 0]), { left: 'RA', right: 'LP', top: 'AL', bottom: 'PR' });
  assert.equal(directionLetters([0.99, 0.05, 0]), 'L', 'a small tilt is not named');
  assert.deepEqual(sliceNormal(AXIAL), [0, 0, 1]);
});

test('slice positions along the unit normal; a series orders by them, else Instance Number, else name', () => {
  const iop = [1, 0, 0, 0, 1, 0];
  assert.equal(slicePosition([0, 0, 7.5], iop), 7.5);
  // Sagittal: rows along y, columns to the feet -> normal (row x column) along -x.
  assert.deepEqual(sliceNormal([0, 1, 0, 0, 0, -1]), [-1, 0, 0]);
  assert.equal(slicePosition([3, 9, 9], [0, 1, 0, 0, 0, -1]), -3);
  assert.equal(slicePosition(null, iop), null);
  assert.equal(slicePosition([0, 0, 1], null), null);
  assert.equal(slicePosition([0, Number.NaN, 1], iop), null);
  // Malformed or degenerate orientations have no normal.
  assert.equal(sliceNormal([1, 0, 0, 0, 1]), null, 'five numbers');
  assert.equal(sliceNormal([1, 0, 0, 0, Number.NaN, 0]), null, 'not finite');
  assert.equal(sliceNormal([1, 0, 0, 1, 0, 0]), null, 'row parallel to column');
  assert.equal(sliceNormal([0, 0, 0, 0, 0, 0]), null, 'zeros');
  const byIpp = orderSlices([
    { id: 1, slicePosition: 5, instanceNumber: 1, fileName: 'a' },
    { id: 2, slicePosition: -5, instanceNumber: 2, fileName: 'b' },
    { id: 3, slicePosition: 0, instanceNumber: 3, fileName: 'c' },
  ]);
  assert.deepEqual(byIpp, [2, 3, 1]);
  const fallback = orderSlices([
    { id: 1, slicePosition: 5, instanceNumber: 3, fileName: 'a' },
    { id: 2, slicePosition: null, instanceNumber: 1, fileName: 'b' },
    { id: 3, slicePosition: 0, instanceNumber: null, fileName: 'c' },
    { id: 4, slicePosition: 0, instanceNumber: null, fileName: 'b10' },
  ]);
  assert.deepEqual(fallback, [2, 1, 4, 3]); // no instance number sorts last, then by name ('b10' < 'c')
});

test('cosines written rounded (not unit length) still measure mm: slices 5 mm apart are 5 mm apart', () => {
  // Row and column written as 0.9999: the raw cross product is (0, 0, 0.9999 x 0.9999) =
  // (0, 0, 0.99980001), which would put slices 5 mm apart at 4.9990 mm (a 0.02 % error that
  // reads as 4.999 mm spacing). The unit normal is (0, 0, 1): 0, 5, 10 mm exactly.
  const rounded: Orientation = [0.9999, 0, 0, 0, 0.9999, 0];
  assert.deepEqual(sliceNormal(rounded), [0, 0, 1]);
  assert.deepEqual([0, 5, 10].map((z) => slicePosition([-100, -120, z], rounded)), [0, 5, 10]);
  const g = stackGeometry([10, 0, 5].map((z) => ({ position: [-100, -120, z] as [number, number, number], orientation: rounded })))!;
  assert.deepEqual(g.order, [1, 2, 0]);
  assert.deepEqual(g.positions, [0, 5, 10]);
  assert.equal(g.spacing, 5);
  assert.equal(g.uneven, false);
  // Sagittal written rounded (rows 0.9999 posterior, columns 0.9999 to the feet): normal -x,
  // so x = 20, 15, 10 lie at -20, -15, -10 mm, 5 mm apart.
  const sagittal: Orientation = [0, 0.9999, 0, 0, 0, -0.9999];
  assert.deepEqual(sliceNormal(sagittal), [-1, 0, 0]);
  const s = stackGeometry([20, 15, 10].map((x) => ({ position: [x, 0, 0] as [number, number, number], orientation: sagittal })))!;
  assert.deepEqual(s.positions, [-20, -15, -10]);
  assert.equal(s.spacing, 5);
  // A degenerate orientation has no normal, so no stack.
  assert.equal(stackGeometry([{ position: [0, 0, 0], orientation: [1, 0, 0, 1, 0, 0] }]), null);
});

test('a stack is ordered along its normal; spacing, a gap and uneven steps are found', () => {
  const at = (z: number) => ({ position: [-100, -120, z] as [number, number, number], orientation: AXIAL });
  const g = stackGeometry([at(5), at(0), at(2.5), at(7.5)])!;
  assert.deepEqual(g.order, [1, 2, 0, 3]);
  assert.deepEqual(g.positions, [0, 2.5, 5, 7.5]);
  assert.equal(g.spacing, 2.5);
  assert.deepEqual(g.gaps, []);
  assert.equal(g.uneven, false);
  const gap = stackGeometry([at(0), at(2.5), at(5), at(12.5), at(15)])!;
  assert.deepEqual(gap.gaps, [2], 'the step after the third slice is 7.5 mm');
  assert.equal(gap.spacing, 2.5);
  const uneven = stackGeometry([at(0), at(1), at(2), at(3.5), at(5)])!;
  assert.equal(uneven.uneven, true);
  assert.equal(uneven.spacing, 1);
  // An oblique stack: positions along its own normal, not along z.
  const c = Math.cos(Math.PI / 6);
  const s = Math.sin(Math.PI / 6);
  const tilted: Orientation = [1, 0, 0, 0, c, s];
  const n = sliceNormal(tilted)!;
  const o = stackGeometry([0, 1, 2].map((k) => ({ position: [0, 3 * k * n[1], 3 * k * n[2]] as [number, number, number], orientation: tilted })))!;
  assert.ok(Math.abs(o.spacing - 3) < 1e-9, `${o.spacing}`);
  assert.equal(stackGeometry([at(0), { position: [0, 0, 1], orientation: [1, 0, 0, 0, 0, -1] }]), null, 'not one stack');
});

test('areas and volumes: mm with spacing, pixels without; uneven slabs weighed as they are', () => {
  assert.deepEqual(area(100, [0.5, 0.8]), { value: 40, unit: 'mm' });
  assert.deepEqual(area(100, null), { value: 100, unit: 'px' });
  // Three slices of 100 mm², 2.5 mm apart: 3 x 100 x 2.5 mm³ = 0.75 mL.
  assert.ok(Math.abs(volumeMl([100, 100, 100], [0, 2.5, 5], 2.5) - 0.75) < 1e-12);
  // Uneven: slabs 1, (1 + 3) / 2 = 2, 3 -> (1 + 2 + 3) x 100 mm³.
  assert.ok(Math.abs(volumeMl([100, 100, 100], [0, 1, 4], 1) - 0.6) < 1e-12);
  // One slice alone stands for the stack's spacing.
  assert.ok(Math.abs(volumeMl([200], [10], 3) - 0.6) < 1e-12);
  assert.equal(volumeMl([0, 0], [0, 1], 1), 0);
});

test('RECIST axes: lines, anisotropic pixels, a disc, an empty mask', () => {
  const W = 40;
  const H = 30;
  // A row of 8 pixels: 8 long (outer side to outer side), 1 across.
  const row = new Uint8Array(W * H);
  for (let x = 10; x < 18; x++) row[5 * W + x] = 1;
  const r = recistAxes(row, W, H, null)!;
  assert.equal(r.long.unit, 'px');
  assert.ok(Math.abs(r.long.value - 8) < 1e-9, `${r.long.value}`);
  assert.ok(Math.abs(r.short.value - 1) < 1e-9, `${r.short.value}`);
  // Pixels 2 mm across and 0.5 mm down: that row is 16 mm long and 0.5 mm thick.
  const mm = recistAxes(row, W, H, [0.5, 2])!;
  assert.equal(mm.long.unit, 'mm');
  assert.ok(Math.abs(mm.long.value - 16) < 1e-9 && Math.abs(mm.short.value - 0.5) < 1e-9, `${mm.long.value} x ${mm.short.value}`);
  // The other way round, a column of 8 pixels 2 mm apart is 16 mm too.
  const col = new Uint8Array(W * H);
  for (let y = 10; y < 18; y++) col[y * W + 3] = 1;
  assert.ok(Math.abs(recistAxes(col, W, H, [2, 0.5])!.long.value - 16) < 1e-9);
  // A disc of radius 10 px at 0.7 mm: both axes within a pixel of 14 mm.
  const disc = new Uint8Array(W * W);
  for (let y = 0; y < W; y++) for (let x = 0; x < W; x++) if ((x + 0.5 - 20) ** 2 + (y + 0.5 - 20) ** 2 <= 100) disc[y * W + x] = 1;
  const d = recistAxes(disc, W, W, [0.7, 0.7])!;
  assert.ok(Math.abs(d.long.value - 14) <= 0.7, `long ${d.long.value}`);
  assert.ok(Math.abs(d.short.value - 14) <= 0.7, `short ${d.short.value}`);
  // The calipers' ends are where the measure says.
  const dist = (a: [number, number], b: [number, number]) => Math.hypot((a[0] - b[0]) * 0.7, (a[1] - b[1]) * 0.7);
  assert.ok(Math.abs(dist(d.long.from, d.long.to) - d.long.value) < 1e-9);
  assert.ok(Math.abs(dist(d.short.from, d.short.to) - d.short.value) < 1e-9);
  assert.equal(recistAxes(new Uint8Array(W * H), W, H, [1, 1]), null);
});
