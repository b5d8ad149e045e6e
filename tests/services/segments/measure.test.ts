/**
 * The measurement arithmetic (segments/measure.ts) against hand-computed cases: value
 * statistics merged slice by slice equal those of all voxels at once; areas, volume and RECIST
 * axes in mm with spacing and in pixels without; a stack stored in reverse order; a missing
 * slice and uneven spacing weighed by the actual positions and said; no volume for one slice,
 * slices without positions or not parallel; no statistics for colour; the RECIST axes on the
 * slice of the longest diameter, not of the largest area. And the text forms: the summary and
 * the CSV say their units and every slice's area, and CSV fields are quoted as RFC 4180 asks.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Orientation, Vec3 } from '../../../electron/contract/geometry.js';
import { measurementSummary, measurementsCsv, sliceAreasCsv } from '../../../electron/contract/measurement-text.js';
import type { SegmentMeasurement } from '../../../electron/contract/measurements.js';
import { measureSegment, mergeSums, valueSums, type StackSliceIn } from '../../../electron/services/segments/measure.js';

const W = 20;
const H = 16;
const AXIAL: Orientation = [1, 0, 0, 0, 1, 0];
const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`);

/** A mask with the pixels [x0, x1) x [y0, y1) set. */
function rect(x0: number, y0: number, x1: number, y1: number): Uint8Array {
  const m = new Uint8Array(W * H);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * W + x] = 1;
  return m;
}

function slice(z: number | null, mask: Uint8Array | null, over: Partial<StackSliceIn> = {}): StackSliceIn {
  return {
    imageId: 1,
    frame: 0,
    width: W,
    height: H,
    spacing: [0.5, 0.5],
    position: z === null ? null : ([-10, -8, z] as Vec3),
    orientation: z === null ? null : AXIAL,
    mask,
    sums: null,
    ...over,
  };
}

test('value statistics: rescaled, population SD, merged slice by slice as over all voxels', () => {
  const mask = [1, 1, 0, 1, 1];
  const stored = [1, 2, 99, 3, 4];
  // slope 2, intercept -10: -8, -6, -4, -2 (99 is outside the mask). Mean -5; deviations 3, 1, 1, 3: variance 20 / 4 = 5.
  const s = valueSums(mask, stored, 2, -10)!;
  assert.equal(s.count, 4);
  close(s.mean, -5);
  close(s.m2 / s.count, 5);
  assert.equal(s.min, -8);
  assert.equal(s.max, -2);
  const merged = mergeSums(valueSums([1, 1, 0, 0, 0], stored, 2, -10), valueSums([0, 0, 0, 1, 1], stored, 2, -10))!;
  close(merged.mean, s.mean);
  close(merged.m2, s.m2);
  assert.deepEqual([merged.count, merged.min, merged.max], [4, -8, -2]);
  assert.equal(valueSums([0, 0], [5, 6], 1, 0), null);
  assert.equal(mergeSums(null, null), null);
});

test('areas, volume and axes in mm; the slice of the longest diameter carries the axes; a reversed stack keeps its positions', () => {
  // Slices stored top to bottom (z 5, 2.5, 0), 2.5 mm apart; 0.5 mm pixels.
  const small = rect(2, 2, 6, 6); // 16 px = 4 mm²
  const line = new Uint8Array(W * H);
  for (let x = 4; x < 12; x++) line[7 * W + x] = 1; // 8 px in a row, plus a block below: 8 + 24 = 32 px
  const big = rect(4, 8, 12, 11);
  for (let i = 0; i < big.length; i++) big[i] = big[i]! | line[i]!;
  const stack = [slice(5, small, { imageId: 3 }), slice(2.5, big, { imageId: 2 }), slice(0, small, { imageId: 1 })];
  const f = measureSegment(stack, { valueUnit: 'HU', colour: false })!;
  assert.equal(f.unit, 'mm');
  assert.deepEqual(
    f.slices.map((s) => [s.imageId, s.index, s.positionMm, s.pixels, s.area]),
    [
      [3, 0, 5, 16, 4],
      [2, 1, 2.5, 32, 8],
      [1, 2, 0, 16, 4],
    ],
  );
  // Midpoint rule over positions 0, 2.5, 5: slabs 2.5 each (ends: their one step) -> (4 + 8 + 4) x 2.5 = 40 mm³.
  assert.equal(f.volume?.unit, 'mL');
  close(f.volume!.value, 0.04);
  assert.equal(f.largest.imageId, 2);
  // The block is 8 x 4 px with pixel-side midpoints: longest from (4, 7.5) to (12, 10.5): sqrt(64 + 9) px.
  close(f.longAxis.value, Math.sqrt(73) * 0.5);
  assert.deepEqual([f.longAxis.from, f.longAxis.to].sort(), [[4, 7.5], [12, 10.5]].sort());
  assert.equal(f.longAxis.unit, 'mm');
  assert.ok(f.shortAxis.value > 0 && f.shortAxis.value < f.longAxis.value);
  assert.deepEqual(f.geometry, { pixelSpacing: [0.5, 0.5], sliceSpacing: 2.5, uneven: false, gaps: [] });
  assert.deepEqual(f.notes, []);
  assert.equal(f.values, null, 'no sums given: no statistics');
});

test('a missing slice: the volume follows the actual positions, and says so', () => {
  // Positions 0, 2.5, 5, (7.5 missing), 10, 12.5; the segment (4 mm² each) on 2.5, 5 and 10.
  const a = rect(0, 0, 4, 4);
  const stack = [slice(0, null), slice(2.5, a), slice(5, a), slice(10, a), slice(12.5, null)];
  const f = measureSegment(stack, { valueUnit: null, colour: false })!;
  // Slabs: 2.5 -> (2.5 + 2.5) / 2; 5 -> (2.5 + 5) / 2; 10 -> (5 + 2.5) / 2: 10 mm x 4 mm² = 40 mm³.
  close(f.volume!.value, 0.04);
  assert.deepEqual(f.geometry.gaps, [{ fromMm: 5, toMm: 10 }]);
  assert.equal(f.geometry.uneven, false, 'a gap is not uneven spacing');
  assert.match(f.notes.join(' '), /missing between 5 mm and 10 mm .*actual positions/);
  // The same gap far from the segment does not bear on it.
  const far = measureSegment([slice(0, a), slice(2.5, null), slice(5, null), slice(10, null)], { valueUnit: null, colour: false })!;
  assert.deepEqual(far.geometry.gaps, []);
});

test('uneven spacing: each slice counts for half the distance to each neighbour', () => {
  const a = rect(0, 0, 4, 4); // 4 mm²
  const stack = [0, 1, 2, 3.5, 5].map((z) => slice(z, a));
  const f = measureSegment(stack, { valueUnit: null, colour: false })!;
  // Slabs 1, 1, 1.25, 1.5, 1.5 = 6.25 mm -> 25 mm³.
  close(f.volume!.value, 0.025);
  assert.equal(f.geometry.uneven, true);
  assert.equal(f.geometry.sliceSpacing, 1);
  assert.match(f.notes.join(' '), /spacing varies \(1 mm to 1\.5 mm\)/);
});

test('without pixel spacing every figure is in pixels, and says so', () => {
  const a = rect(0, 0, 8, 1); // a row of 8
  const f = measureSegment([slice(0, a, { spacing: null }), slice(2.5, rect(0, 0, 2, 2), { spacing: null })], { valueUnit: 'HU', colour: false })!;
  assert.equal(f.unit, 'px');
  assert.equal(f.longAxis.unit, 'px');
  close(f.longAxis.value, 8);
  close(f.shortAxis.value, 1);
  assert.deepEqual(f.volume, { value: 12, unit: 'voxels' });
  assert.deepEqual(f.slices.map((s) => s.area), [8, 4]);
  assert.equal(f.geometry.pixelSpacing, null);
  assert.match(f.notes[0]!, /No Pixel Spacing: lengths are in pixels/);
  // Spacing on one slice but not the other: still pixels, never mixed.
  const mixed = measureSegment([slice(0, a), slice(2.5, a, { spacing: null })], { valueUnit: null, colour: false })!;
  assert.equal(mixed.unit, 'px');
  assert.match(mixed.notes[0]!, /missing on 1 of 2 slices/);
});

test('no volume for one slice, for slices without positions, or not parallel; no statistics for colour', () => {
  const a = rect(0, 0, 4, 4);
  const one = measureSegment([slice(0, a)], { valueUnit: null, colour: false })!;
  assert.equal(one.volume, null);
  assert.match(one.notes.join(' '), /single slice/);
  const unplaced = measureSegment([slice(null, a), slice(null, a)], { valueUnit: null, colour: false })!;
  assert.equal(unplaced.volume, null);
  assert.equal(unplaced.slices[0]!.positionMm, null);
  assert.match(unplaced.notes.join(' '), /no Image Position\/Orientation.*Slice Thickness alone is not used/);
  const tilted = measureSegment([slice(0, a), slice(2.5, a, { orientation: [1, 0, 0, 0, 0, -1] })], { valueUnit: null, colour: false })!;
  assert.equal(tilted.volume, null);
  assert.match(tilted.notes.join(' '), /not parallel/);
  const colour = measureSegment([slice(0, a, { sums: { count: 1, mean: 1, m2: 0, min: 1, max: 1 } })], { valueUnit: null, colour: true })!;
  assert.equal(colour.values, null);
  assert.equal(measureSegment([slice(0, null)], { valueUnit: null, colour: false }), null, 'no pixels: nothing to measure');
});

test('statistics over the slices, in HU for CT', () => {
  const a = rect(0, 0, 2, 1);
  const stack = [slice(0, a, { sums: valueSums([1, 1], [10, 20], 1, 0) }), slice(2.5, a, { sums: valueSums([1, 1], [30, 40], 1, 0) })];
  const f = measureSegment(stack, { valueUnit: 'HU', colour: false })!;
  // 10, 20, 30, 40: mean 25, population variance (225 + 25 + 25 + 225) / 4 = 125.
  assert.equal(f.values!.unit, 'HU');
  close(f.values!.mean, 25);
  close(f.values!.sd, Math.sqrt(125));
  assert.deepEqual([f.values!.min, f.values!.max, f.values!.count], [10, 40, 4]);
});

test('the summary and the CSV carry units; CSV fields are quoted', () => {
  const f = measureSegment([slice(0, rect(0, 0, 8, 1), { spacing: null, sums: valueSums(rect(0, 0, 8, 1), new Array(W * H).fill(7), 1, 0) })], { valueUnit: null, colour: false })!;
  const m: SegmentMeasurement = { imageId: 1, labelId: 2, instance: 1, name: 'lesion, "A"', label: 'lesion', seriesKey: 'image:1', ...f };
  const text = measurementSummary(m, 'CT 1');
  assert.match(text, /^lesion, "A" \(lesion\), CT 1\n/);
  assert.match(text, /Long axis 8 px, short axis 1 px/);
  assert.match(text, /Volume: 8 voxels/);
  assert.match(text, /Value mean 7, SD 0/);
  assert.doesNotMatch(text, /mm/);
  const csv = measurementsCsv([m]).split('\r\n');
  assert.match(csv[0]!, /^segment,label,label_id,instance,/);
  assert.ok(csv[1]!.startsWith('"lesion, ""A""",lesion,2,1,1,1,1,1,px,8,1,8,px,8,voxels,value,7,0,7,7,8,,,,'), csv[1]);
});

test('CSV cells a spreadsheet would run as a formula get a leading quote; negative numbers stay numbers', () => {
  const f = measureSegment([slice(0, rect(0, 0, 8, 1), { spacing: null, sums: valueSums(rect(0, 0, 8, 1), new Array(W * H).fill(-7), 1, 0) })], { valueUnit: null, colour: false })!;
  const row = (name: string, label: string) => measurementsCsv([{ imageId: 1, labelId: 2, instance: 1, name, label, seriesKey: 'image:1', ...f }]).split('\r\n')[1]!;
  const link = row('=HYPERLINK("http://x","y")', '+cmd');
  assert.ok(link.startsWith(`"'=HYPERLINK(""http://x"",""y"")",'+cmd,2,1,`), link);
  assert.ok(row('-2+3', '@SUM(A1)').startsWith("'-2+3,'@SUM(A1),2,"), row('-2+3', '@SUM(A1)'));
  assert.ok(row('\tx', '\rx').startsWith(`'\tx,"'\rx",2,`), JSON.stringify(row('\tx', '\rx')));
  assert.ok(row('lesion = 1', 'a-b').startsWith('lesion = 1,a-b,2,'), 'only a leading sign counts');
  assert.match(row('x', 'y'), /,value,-7,0,-7,-7,8,/, 'a negative mean is a number, not text');
});

/** A mask on a w x h slice with the pixels whose centres fall inside the ellipse (cx, cy, rx, ry) set. */
function ellipse(w: number, h: number, cx: number, cy: number, rx: number, ry: number): Uint8Array {
  const m = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (((x + 0.5 - cx) / rx) ** 2 + ((y + 0.5 - cy) / ry) ** 2 <= 1) m[y * w + x] = 1;
  return m;
}

test('RECIST: the longest diameter over every slice, not on the slice of largest area; equal diameters go to the larger area', () => {
  const [w, h] = [48, 40];
  const at = (z: number, mask: Uint8Array, imageId: number) => slice(z, mask, { imageId, width: w, height: h });
  const disc = ellipse(w, h, 24, 20, 9, 9); // about 254 px, 18 px across
  const thin = ellipse(w, h, 24, 20, 15, 2.5); // about 118 px, 30 px across
  const small = ellipse(w, h, 24, 20, 5, 5);
  const count = (m: Uint8Array) => m.reduce((a, v) => a + v, 0);
  assert.ok(count(disc) > 2 * count(thin), 'the disc has the larger area');
  const f = measureSegment([at(0, small, 1), at(2.5, disc, 2), at(5, thin, 3), at(7.5, small, 4)], { valueUnit: null, colour: false })!;
  assert.equal(f.largest.imageId, 3, "the thin ellipse's slice");
  assert.equal(f.largest.index, 2);
  assert.equal(f.largest.pixels, count(thin));
  // Its outline from x = 9 to 39 (pixel sides), 0.5 mm pixels: 30 px = 15 mm, give or take the corners.
  assert.ok(Math.abs(f.longAxis.value - 15) <= 0.5, `long axis ${f.longAxis.value}`);
  assert.ok(f.shortAxis.value >= 2 && f.shortAxis.value <= 3, `short axis ${f.shortAxis.value}`);
  // The calipers lie on the ellipse (image coordinates, the crop undone) and are as long as the figure.
  for (const p of [f.longAxis.from, f.longAxis.to]) assert.ok(p[0] >= 9 && p[0] <= 39 && p[1] >= 17 && p[1] <= 23, `end ${p}`);
  close(Math.hypot(f.longAxis.to[0] - f.longAxis.from[0], f.longAxis.to[1] - f.longAxis.from[1]) * 0.5, f.longAxis.value);
  assert.equal(f.geometry.pixelSpacing?.join(), '0.5,0.5');
  // The same diameter on two slices (a row of 8, and the row with one pixel more above its middle): the larger area.
  const row = rect(2, 5, 10, 6);
  const bump = rect(2, 5, 10, 6);
  bump[4 * W + 6] = 1;
  const tie = measureSegment([slice(0, row, { imageId: 1 }), slice(2.5, bump, { imageId: 2 }), slice(5, row, { imageId: 3 })], { valueUnit: null, colour: false })!;
  close(tie.longAxis.value, 4);
  assert.equal(tie.largest.imageId, 2);
  // A longer diameter on a slice of equal area still wins: the first slice is longer.
  const diag = measureSegment([slice(0, rect(0, 0, 9, 1), { imageId: 1 }), slice(2.5, rect(0, 0, 3, 3), { imageId: 2 })], { valueUnit: null, colour: false })!;
  assert.equal(diag.largest.imageId, 1);
  close(diag.longAxis.value, 4.5);
});

test('the summary and the CSV give the area on every slice, the axes\' slice marked', () => {
  // Slices at 2.5, 0, -2.5 mm (stack order); 0.5 mm pixels: 4, 8 and 4 mm².
  const stack = [slice(2.5, rect(2, 2, 6, 6), { imageId: 3 }), slice(0, rect(2, 2, 10, 6), { imageId: 2 }), slice(-2.5, rect(2, 2, 6, 6), { imageId: 1 })];
  const f = measureSegment(stack, { valueUnit: null, colour: false })!;
  const m: SegmentMeasurement = { imageId: 1, labelId: 2, instance: 1, name: '=lesion', label: 'lesion', seriesKey: 'image:1', ...f };
  const text = measurementSummary(m).split('\n');
  const from = text.indexOf('Area per slice:');
  assert.ok(from > 0, text.join('\n'));
  assert.deepEqual(text.slice(from + 1), ['  slice 1 at 2.5 mm: 4 mm²', '  slice 2 at 0 mm: 8 mm² (RECIST axes)', '  slice 3 at -2.5 mm: 4 mm²']);
  // The segments' CSV: one table, nothing after its rows (a second table would garble pandas or R).
  const csv = measurementsCsv([m]).split('\r\n');
  assert.equal(csv.length, 3);
  assert.equal(csv[2], '');
  assert.ok(csv[1]!.startsWith("'=lesion,lesion,2,1,3,1,3,2,mm,"), csv[1]);
  // The slices' CSV, a file of its own (a leading sign quoted, a negative position a number).
  const slices = sliceAreasCsv([m]).split('\r\n');
  assert.equal(slices[0], 'segment,label,label_id,instance,slice,position_mm,area,area_unit,pixels,recist_axes');
  assert.deepEqual(slices.slice(1), ["'=lesion,lesion,2,1,1,2.5,4,mm2,16,", "'=lesion,lesion,2,1,2,0,8,mm2,32,yes", "'=lesion,lesion,2,1,3,-2.5,4,mm2,16,", '']);
  // Without spacing or positions: pixels, and no position.
  const px = measureSegment([slice(null, rect(0, 0, 8, 1), { spacing: null })], { valueUnit: null, colour: false })!;
  const pm: SegmentMeasurement = { imageId: 1, labelId: 2, instance: 1, name: 'a', label: 'b', seriesKey: 'image:1', ...px };
  assert.match(measurementSummary(pm), /\nArea per slice:\n {2}slice 1: 8 px \(RECIST axes\)$/);
  assert.equal(sliceAreasCsv([pm]).split('\r\n')[1], 'a,b,2,1,1,,8,px,8,yes');
});
