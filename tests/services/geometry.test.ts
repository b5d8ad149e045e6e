/**
 * Patient geometry against hand-computed cases: orientation markers (axial, flipped, coronal,
 * sagittal, oblique), slice order and spacing from positions (reversed input, a gap, uneven
 * steps, not one stack), areas and volumes with and without spacing, RECIST axes of shapes
 * whose diameters are known.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { area, directionLetters, orientationMarkers, recistAxes, sliceNormal, stackGeometry, volumeMl, type Orientation } from '../../electron/contract/geometry.js';

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
  const n = sliceNormal(tilted);
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
