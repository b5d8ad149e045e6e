/**
 * The caliper model (renderer/src/segments/caliperModel.ts): calipers are shown on their
 * segment's largest slice only, a stale hide does not hide newer calipers, listeners hear
 * each change; a caliper's line, end ticks and label land where cornerstone's transform puts
 * its pixel ends (scaled, panned and rotated), with its length in its own unit.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SegmentMeasurement } from '../../electron/contract/measurements.ts';
import { caliperLines, calipersOn, onCalipersChange, showCalipers } from '../../renderer/src/segments/caliperModel.ts';

const measurement = (imageId: number, frame: number): SegmentMeasurement => ({
  imageId,
  labelId: 1,
  instance: 1,
  name: 'lesion 1',
  label: 'lesion',
  seriesKey: 's',
  stackSlices: 3,
  unit: 'mm',
  slices: [],
  volume: null,
  largest: { imageId, frame, index: 1, positionMm: 2.5, area: 10, pixels: 40 },
  longAxis: { value: 12.5, unit: 'mm', from: [1, 2], to: [11, 2] },
  shortAxis: { value: 4, unit: 'mm', from: [6, 0], to: [6, 4] },
  values: null,
  geometry: { pixelSpacing: [1.25, 1.25], sliceSpacing: 2.5, uneven: false, gaps: [] },
  notes: [],
});

test('shown on the largest slice only; a stale hide leaves newer calipers; listeners hear each change', () => {
  let heard = 0;
  const off = onCalipersChange(() => heard++);
  const hideFirst = showCalipers(measurement(7, 0));
  assert.equal(calipersOn(7, 0)?.long.value, 12.5);
  assert.equal(calipersOn(7, 1), null, 'another frame');
  assert.equal(calipersOn(8, 0), null, 'another image');
  const hideSecond = showCalipers(measurement(9, 2));
  hideFirst();
  assert.ok(calipersOn(9, 2), 'the first one hiding does not hide the second');
  hideSecond();
  assert.equal(calipersOn(9, 2), null);
  assert.equal(heard, 3, 'show, show, hide (the stale hide is silent)');
  off();
  showCalipers(null);
  assert.equal(heard, 3, 'unsubscribed');
});

test('lines, ticks and labels follow the image->canvas transform', () => {
  // Zoomed 2x and panned by (5, 7): pixel (x, y) -> (2x + 5, 2y + 7).
  const l = caliperLines({ value: 10, unit: 'mm', from: [0, 0], to: [10, 0] }, [2, 0, 0, 2, 5, 7]);
  assert.deepEqual([l.from, l.to], [
    { x: 5, y: 7 },
    { x: 25, y: 7 },
  ]);
  assert.deepEqual(l.ticks[1], [
    { x: 25, y: 2 },
    { x: 25, y: 12 },
  ]);
  assert.deepEqual(l.label, { x: 33, y: 7 });
  assert.equal(l.text, '10 mm');
  // Rotated a quarter turn clockwise on screen: pixel (x, y) -> (-y, x) + (100, 0); a row runs down the screen.
  const r = caliperLines({ value: 8, unit: 'px', from: [0, 0], to: [8, 0] }, [0, 1, -1, 0, 100, 0]);
  assert.deepEqual([r.from, r.to], [
    { x: 100, y: 0 },
    { x: 100, y: 8 },
  ]);
  assert.deepEqual(r.ticks[0]!.map((p) => ({ x: Math.round(p.x), y: Math.round(p.y) })), [
    { x: 105, y: 0 },
    { x: 95, y: 0 },
  ]);
  assert.equal(r.text, '8 px', 'pixels say so');
});
