import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MaskEditor } from '../../renderer/src/lib/maskEditor.ts';
import { SliceMasks } from '../../renderer/src/lib/masks.ts';
import { countSet } from '../../renderer/src/lib/raster.ts';

const L = { labelId: 2, instance: 1 };

test('a stroke is one undoable edit on the slice it started on, even if another slice is shown meanwhile', () => {
  const a = new SliceMasks(1, 0, 64, 64);
  const b = new SliceMasks(2, 0, 64, 64);
  const ed = new MaskEditor();
  ed.startStroke(a, L, { x: 10, y: 10 }, 3, false);
  ed.moveStroke({ x: 40, y: 12 }, 3);
  assert.equal(ed.strokeSlice, a);
  const r = ed.endStroke()!;
  assert.equal(r.slice, a);
  assert.equal(r.source, 'brush');
  assert.ok(r.edit);
  assert.ok(countSet(a.layer(L)!) > 150);
  assert.equal(b.layer(L), undefined, 'nothing spilled onto the other slice');
  a.undo();
  assert.equal(countSet(a.layer(L)!), 0, 'the whole stroke undoes in one step');
});

test('eraser strokes clear and are recorded as eraser edits', () => {
  const a = new SliceMasks(1, 0, 32, 32);
  const ed = new MaskEditor();
  ed.startStroke(a, L, { x: 16, y: 16 }, 8, false);
  ed.endStroke();
  const before = countSet(a.layer(L)!);
  ed.startStroke(a, L, { x: 16, y: 16 }, 3, true);
  const r = ed.endStroke()!;
  assert.equal(r.source, 'eraser');
  assert.ok(countSet(a.layer(L)!) < before);
});

test('polygon: vertices, lasso spacing, close fills; fewer than 3 vertices does nothing', () => {
  const a = new SliceMasks(1, 0, 32, 32);
  const ed = new MaskEditor();
  ed.addVertex(a, { x: 4, y: 4 });
  ed.addVertex(a, { x: 20, y: 4 });
  assert.equal(ed.closePolygon(L, false), null);
  ed.addVertex(a, { x: 4, y: 4 });
  assert.equal(ed.addLassoPoint({ x: 4.5, y: 4 }, 1), false, 'too close to the last point');
  assert.equal(ed.addLassoPoint({ x: 20, y: 4 }, 1), true);
  ed.addVertex(a, { x: 20, y: 20 });
  ed.addVertex(a, { x: 4, y: 20 });
  const r = ed.closePolygon(L, false)!;
  assert.equal(r.source, 'polygon');
  assert.equal(countSet(a.layer(L)!), 16 * 16);
  assert.equal(ed.polygon, null);
});

test('a vertex on another slice starts a new polygon there', () => {
  const a = new SliceMasks(1, 0, 16, 16);
  const b = new SliceMasks(2, 0, 16, 16);
  const ed = new MaskEditor();
  ed.addVertex(a, { x: 1, y: 1 });
  ed.addVertex(a, { x: 5, y: 1 });
  ed.addVertex(b, { x: 2, y: 2 });
  assert.deepEqual(ed.polygon, [{ x: 2, y: 2 }]);
});
