import { test } from 'node:test';
import assert from 'node:assert/strict';
import { autoWindow, CT_PRESETS, dragWindow, formatWindow, modalityRange, shownWindowOf } from '../../renderer/src/lib/windowing.ts';

test('CT presets carry the usual values', () => {
  const byId = Object.fromEntries(CT_PRESETS.map((p) => [p.id, [p.center, p.width]]));
  assert.deepEqual(byId, { soft: [40, 400], lung: [-600, 1500], bone: [400, 1800], brain: [40, 80] });
});

test('auto window takes the first valid stored window', () => {
  assert.deepEqual(autoWindow([{ center: 0, width: 0 }, { center: 50, width: 350 }, { center: 1, width: 2 }], 0, 4095, 1, -1024), { center: 50, width: 350 });
});

test('auto window falls back to the modality range (rescale applied, negative slope handled)', () => {
  assert.deepEqual(autoWindow([], 0, 4095, 1, -1024), { center: 1023.5, width: 4095 });
  assert.deepEqual(modalityRange(0, 100, -2, 50), [-150, 50]);
  assert.deepEqual(autoWindow([], 7, 7, 1, 0), { center: 7, width: 1 }, 'a constant image still gets a positive width');
});

test('dragging right widens, dragging down raises the centre, width never below 1', () => {
  const w = dragWindow({ center: 40, width: 400 }, 100, 50, 4096);
  assert.ok(w.width > 400);
  assert.ok(w.center > 40);
  assert.equal(dragWindow({ center: 40, width: 400 }, -100000, 0, 4096).width, 1);
});

test('formatWindow', () => {
  assert.equal(formatWindow({ center: -600, width: 1500 }), 'W 1500 L -600');
  assert.equal(formatWindow({ center: 0.25, width: 1.5 }), 'W 1.5 L 0.3');
});

test('the shown window: colour images as stored, greyscale through the viewer window (one rule for masks and SAM)', () => {
  assert.equal(shownWindowOf(true, { center: 40, width: 400 }), null);
  assert.equal(shownWindowOf(false, null), null);
  assert.deepEqual(shownWindowOf(false, { center: 40, width: 400 }), { center: 40, width: 400 });
});
