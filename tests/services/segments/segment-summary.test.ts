/** The segment list's pure rules: origin summary, default names and colours, slices in stack order, largest slice, drafts. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  defaultInstanceColor,
  originOfSource,
  summariseOrigin,
  summariseSegment,
  summariseSegments,
  type SegmentMaskRow,
} from '../../../electron/services/segments/segment-summary.js';

const lesion = { id: 1, name: 'lesion', color: '#e6194b' };
const row = (imageId: number, area: number, source = 'brush', draft = false, instance = 1, labelId = 1): SegmentMaskRow => ({ imageId, frame: 0, labelId, instance, area, source, draft });
const order = new Map([[10, 0], [11, 1], [12, 2], [13, 3]].map(([id, i]) => [`${id}:0`, i!]));

test('origin: each source kind, one kind is itself, several are mixed, unknown reads as manual', () => {
  assert.equal(originOfSource('brush'), 'manual');
  assert.equal(originOfSource('eraser'), 'manual');
  assert.equal(originOfSource('polygon'), 'manual');
  assert.equal(originOfSource('undo'), 'manual');
  assert.equal(originOfSource('sam'), 'sam');
  assert.equal(originOfSource('propagate'), 'propagated');
  assert.equal(originOfSource('interpolate'), 'interpolated');
  assert.equal(originOfSource('automatic'), 'automatic');
  assert.equal(originOfSource('import'), 'imported');
  assert.equal(originOfSource('something-newer'), 'manual');
  assert.equal(summariseOrigin(['sam', 'sam']), 'sam');
  assert.equal(summariseOrigin(['brush', 'polygon', 'redo']), 'manual');
  assert.equal(summariseOrigin(['sam', 'brush']), 'mixed');
  assert.equal(summariseOrigin(['propagate', 'interpolate']), 'mixed');
  assert.equal(summariseOrigin([]), 'manual');
});

test('default colours: instance 1 is the label colour; instances 2..12 distinct from each other and from it; valid hex; stable', () => {
  for (const base of ['#e6194b', '#3cb44b', '#4fb3ff', '#ffd23f', '#808080', '#000000', '#ffffff']) {
    assert.equal(defaultInstanceColor(base, 1), base);
    const colours = Array.from({ length: 12 }, (_, i) => defaultInstanceColor(base, i + 1));
    for (const c of colours) assert.match(c, /^#[0-9a-f]{6}$/);
    assert.equal(new Set(colours).size, 12, `12 distinct colours from ${base}: ${colours.join(' ')}`);
    assert.deepEqual(colours, Array.from({ length: 12 }, (_, i) => defaultInstanceColor(base, i + 1)), 'deterministic');
  }
  // Instance 2 of red turns the hue, it does not just darken: its green or blue channel rises.
  const two = parseInt(defaultInstanceColor('#e6194b', 2).slice(1), 16);
  assert.ok(((two >> 8) & 255) > 0x19 + 40 || (two & 255) > 0x4b + 40, `instance 2 of red is another hue: ${two.toString(16)}`);
  // Greys stay grey (a hue would read as another class).
  for (let i = 2; i <= 6; i++) {
    const g = defaultInstanceColor('#808080', i);
    assert.ok(g.slice(1, 3) === g.slice(3, 5) && g.slice(3, 5) === g.slice(5, 7), `grey stays grey: ${g}`);
  }
});

test('one segment: slices in stack order, largest accepted slice, drafts counted and not used for origin or largest', () => {
  const rows = [row(12, 300, 'sam'), row(10, 120, 'sam'), row(13, 900, 'propagate', true), row(11, 300, 'sam')];
  const s = summariseSegment(lesion, 2, rows, undefined, order);
  assert.deepEqual(s.slices.map((x) => x.imageId), [10, 11, 12, 13]);
  assert.deepEqual(s.largest, { imageId: 11, frame: 0, area: 300 }, 'ties go to the first in stack order; the bigger draft is not it');
  assert.equal(s.draftCount, 1);
  assert.equal(s.origin, 'sam');
  assert.equal(s.name, 'lesion 2');
  assert.equal(s.named, false);
  assert.equal(s.color, defaultInstanceColor('#e6194b', 2));
  assert.equal(s.colored, false);
  assert.equal(s.hidden, false);
  assert.equal(s.locked, false);
});

test('one segment: settings override name and colour; drafts only: described by them; empty segment has no largest', () => {
  const settings = { labelId: 1, instance: 3, name: 'Liver met', color: '#00ff00', hidden: true, locked: true };
  const named = summariseSegment(lesion, 3, [row(10, 5, 'brush', false, 3), row(11, 7, 'sam', false, 3)], settings, order);
  assert.equal(named.name, 'Liver met');
  assert.equal(named.named, true);
  assert.equal(named.color, '#00ff00');
  assert.equal(named.colored, true);
  assert.equal(named.hidden, true);
  assert.equal(named.locked, true);
  assert.equal(named.origin, 'mixed');
  const drafts = summariseSegment(lesion, 4, [row(12, 40, 'propagate', true, 4), row(13, 60, 'propagate', true, 4)], undefined, order);
  assert.equal(drafts.origin, 'propagated');
  assert.deepEqual(drafts.largest, { imageId: 13, frame: 0, area: 60 });
  assert.equal(drafts.draftCount, 2);
  const empty = summariseSegment(lesion, 5, [], { ...settings, instance: 5 }, order);
  assert.equal(empty.largest, null);
  assert.deepEqual(empty.slices, []);
});

test('all segments: grouped per (label, instance), settings-only rows listed, deleted labels left out, sorted', () => {
  const defect = { id: 2, name: 'defect', color: '#3cb44b' };
  const rows = [row(10, 5, 'brush', false, 2), row(11, 5, 'brush', false, 1), row(12, 9, 'sam', false, 1, 2), row(10, 3, 'brush', false, 1, 9)];
  const settings = [{ labelId: 1, instance: 7, name: null, color: null, hidden: true, locked: false }];
  const list = summariseSegments([lesion, defect], rows, settings, order);
  assert.deepEqual(list.map((s) => [s.labelId, s.instance, s.slices.length]), [[1, 1, 1], [1, 2, 1], [1, 7, 0], [2, 1, 1]]);
  assert.equal(list[2]!.hidden, true);
  assert.equal(list[3]!.name, 'defect 1');
  assert.equal(list[3]!.color, '#3cb44b');
});
