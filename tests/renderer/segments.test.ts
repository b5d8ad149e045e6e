/** The segment list's renderer rules: next free instance, where SAM's Enter goes, locks, the overlay view, the words shown. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SliceMasks, layerKey } from '../../renderer/src/lib/masks.js';
import { overlayView } from '../../renderer/src/segments/segmentLayers.js';
import { lockedEditRefusal, nextFreeInstance, samAcceptTarget } from '../../renderer/src/segments/segmentTarget.js';
import { ORIGIN_TEXT, spanText } from '../../renderer/src/segments/segmentText.js';

test('next free instance: the smallest number nothing uses', () => {
  assert.equal(nextFreeInstance([]), 1);
  assert.equal(nextFreeInstance([1, 2, 3]), 4);
  assert.equal(nextFreeInstance([1, 3]), 2);
  assert.equal(nextFreeInstance(new Set([2, 5])), 1);
});

test('SAM accept: a new segment by default; into the selected one only with "add to", never into a locked one', () => {
  const selected = { labelId: 4, instance: 1 };
  assert.deepEqual(samAcceptTarget({ addTo: false, selected, used: [1, 2], lockedName: null }), { layer: { labelId: 4, instance: 3 }, isNew: true });
  // The old bug: accepting while a painted segment was selected merged into it. Not any more, locked or not.
  assert.deepEqual(samAcceptTarget({ addTo: false, selected, used: [1], lockedName: 'Liver 1' }), { layer: { labelId: 4, instance: 2 }, isNew: true });
  assert.deepEqual(samAcceptTarget({ addTo: true, selected, used: [1], lockedName: null }), { layer: selected, isNew: false });
  const refused = samAcceptTarget({ addTo: true, selected, used: [1], lockedName: 'Liver 1' });
  assert.ok('refused' in refused && /"Liver 1" is locked/.test(refused.refused));
  const none = samAcceptTarget({ addTo: false, selected: null, used: [], lockedName: null });
  assert.ok('refused' in none && /Add a label class/.test(none.refused));
  assert.equal(lockedEditRefusal(null), null);
  assert.match(lockedEditRefusal('Met 2') ?? '', /^"Met 2" is locked: unlock it in the segment list/);
});

test('overlay view: each visible layer under its own id and colour, sharing pixels; hidden and unknown left out; active marked', () => {
  const s = new SliceMasks(1, 0, 4, 2);
  const a = s.ensureLayer({ labelId: 7, instance: 1 });
  const b = s.ensureLayer({ labelId: 7, instance: 2 });
  s.ensureLayer({ labelId: 7, instance: 3 });
  s.ensureLayer({ labelId: 99, instance: 1 });
  a[0] = 1;
  b[5] = 1;
  const styles: Record<string, { color: string; hidden: boolean }> = {
    '7:1': { color: '#ff0000', hidden: false },
    '7:2': { color: '#00ff80', hidden: false },
    '7:3': { color: '#0000ff', hidden: true },
  };
  const v = overlayView(s, (k) => styles[layerKey(k)], { labelId: 7, instance: 2 });
  assert.equal(v.view.layers.size, 2, 'hidden (7:3) and unknown-label (99:1) layers are not drawn');
  const ids = [...v.view.layers.keys()];
  assert.equal(v.view.layers.get(ids[0]!), a, 'the same pixel array, not a copy');
  assert.equal(v.view.layers.get(ids[1]!), b);
  assert.deepEqual([...v.colors.values()], [[255, 0, 0], [0, 255, 128]]);
  assert.equal(v.active, ids[1]);
  assert.equal(overlayView(s, (k) => styles[layerKey(k)], { labelId: 7, instance: 3 }).active, null, 'a hidden active layer is not drawn');
});

test('span and origin words', () => {
  assert.equal(spanText([]), 'no slices');
  assert.equal(spanText([3]), 'slice 3');
  assert.equal(spanText([4, 2, 3]), 'slices 2–4');
  assert.equal(spanText([2, 3, 4, 7, 7]), 'slices 2–4, 7');
  assert.equal(spanText([1, 3, 5, 7, 9]), 'slices 1, 3, 5 +2 more');
  assert.equal(ORIGIN_TEXT.propagated, 'Propagated');
  assert.equal(ORIGIN_TEXT.mixed, 'Mixed');
});
