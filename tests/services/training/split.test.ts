import assert from 'node:assert/strict';
import { test } from 'node:test';
import { splitByGroup, type SplitItem } from '../../../electron/services/training/split.js';

const item = (key: string, over: Partial<SplitItem> = {}): SplitItem => ({
  key, patientId: null, studyUid: null, seriesUid: null, folder: '', order: 0, pinned: false, ...over,
});

/** 6 patients, 2 studies each, 5 slices each. */
function scans(): SplitItem[] {
  const out: SplitItem[] = [];
  for (let p = 0; p < 6; p++) for (let s = 0; s < 2; s++) for (let k = 0; k < 5; k++) {
    out.push(item(`${p}-${s}-${k}`, { patientId: `P${p}`, studyUid: `S${p}.${s}`, seriesUid: `S${p}.${s}.1`, order: k }));
  }
  return out;
}

test('no patient or study has slices on both sides; about a fifth goes to validation', () => {
  const items = scans();
  const split = splitByGroup(items);
  assert.equal(split.groupBy, 'patient');
  assert.equal(split.groups, 6);
  const sides = new Map<string, Set<string>>();
  for (const i of items) {
    for (const g of [`p:${i.patientId}`, `s:${i.studyUid}`]) {
      if (!sides.has(g)) sides.set(g, new Set());
      sides.get(g)!.add(split.side.get(i.key)!);
    }
  }
  for (const [g, s] of sides) assert.equal(s.size, 1, `${g} is split across train and validation`);
  assert.ok(split.val >= 10 && split.val <= 20, `val ${split.val}`);
  assert.equal(split.train + split.val, items.length);
  assert.deepEqual(splitByGroup(items).side, split.side, 'deterministic');
});

test('a pinned image pulls its whole patient into validation', () => {
  const items = scans();
  const trainSide = [...splitByGroup(items).side].find(([, s]) => s === 'train')![0];
  const pinnedPatient = trainSide.split('-')[0];
  const pinned = items.map((i) => (i.key === trainSide ? { ...i, pinned: true } : i));
  const split = splitByGroup(pinned);
  for (const i of pinned) if (i.key.startsWith(`${pinnedPatient}-`)) assert.equal(split.side.get(i.key), 'val');
  assert.equal(split.pinned, 1);
  assert.ok(split.train > 0, 'training keeps at least one group');
});

test('without patient ids it groups by study, then series, then folder', () => {
  const byStudy = [item('a', { studyUid: 'A' }), item('b', { studyUid: 'A' }), item('c', { studyUid: 'B' })];
  const s = splitByGroup(byStudy);
  assert.equal(s.groupBy, 'study');
  assert.equal(s.side.get('a'), s.side.get('b'));
  assert.notEqual(s.side.get('a'), s.side.get('c'));
  assert.equal(splitByGroup([item('x', { folder: 'f1' }), item('y', { folder: 'f2' })]).groupBy, 'folder');
});

test('a single scan splits into contiguous slabs, so validation slices are not interleaved with training ones', () => {
  const items = Array.from({ length: 20 }, (_, k) => item(`k${k}`, { patientId: 'P', studyUid: 'S', seriesUid: 'S1', order: (k * 7) % 20 }));
  const s = splitByGroup(items);
  assert.equal(s.groupBy, 'slab');
  const val = items.filter((i) => s.side.get(i.key) === 'val').map((i) => i.order).sort((a, b) => a - b);
  assert.equal(val.length, 4);
  assert.equal(val.at(-1)! - val[0]!, val.length - 1, `validation slices are contiguous: ${val}`);
});
