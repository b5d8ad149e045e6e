import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SliceMasks, UNDO_LIMIT } from '../../renderer/src/lib/masks.ts';
import { UndoStack } from '../../renderer/src/lib/undo.ts';
import { paintDisc, countSet } from '../../renderer/src/lib/raster.ts';

const K = { labelId: 1, instance: 1 };

function stroke(s: SliceMasks, x: number, y: number, r = 3, value: 0 | 1 = 1) {
  const m = s.begin(K);
  return s.commit(paintDisc(m, s.width, s.height, x, y, r, value), value ? 'brush' : 'eraser');
}

test('undo restores the mask before an edit and redo re-applies it', () => {
  const s = new SliceMasks(7, 0, 64, 48);
  stroke(s, 10, 10);
  const afterFirst = s.layer(K)!.slice();
  stroke(s, 30, 20);
  const afterSecond = s.layer(K)!.slice();
  assert.ok(countSet(afterSecond) > countSet(afterFirst));
  const e = s.undo();
  assert.equal(e?.labelId, 1);
  assert.deepEqual(s.layer(K), afterFirst);
  s.redo();
  assert.deepEqual(s.layer(K), afterSecond);
  s.undo();
  s.undo();
  assert.equal(countSet(s.layer(K)!), 0);
  assert.equal(s.undo(), null, 'nothing left to undo');
});

test('at least 50 undo steps are kept', () => {
  assert.ok(UNDO_LIMIT >= 50);
  const s = new SliceMasks(1, 0, 200, 200);
  for (let i = 0; i < 60; i++) stroke(s, 5 + i * 3, 100, 1);
  let n = 0;
  while (s.undo()) n++;
  assert.equal(n, 60);
  assert.equal(countSet(s.layer(K)!), 0);
});

test('a new edit clears redo, and an edit that changes nothing is not recorded', () => {
  const s = new SliceMasks(1, 0, 32, 32);
  stroke(s, 10, 10);
  s.undo();
  assert.ok(s.history.canRedo);
  stroke(s, 20, 20);
  assert.ok(!s.history.canRedo);
  const depth = s.history.undoDepth;
  assert.equal(stroke(s, 20, 20), null, 'painting the same disc again changes nothing');
  assert.equal(s.history.undoDepth, depth);
});

test('UndoStack drops the oldest entries past its limit', () => {
  const u = new UndoStack<number>(3);
  for (let i = 1; i <= 5; i++) u.push(i);
  assert.deepEqual([u.undo(), u.undo(), u.undo(), u.undo()], [5, 4, 3, undefined]);
  assert.throws(() => new UndoStack(0), /positive integer/);
});

test('setLayer rejects a mask of the wrong size, naming the layer', () => {
  const s = new SliceMasks(1, 0, 10, 10);
  assert.throws(() => s.setLayer(K, new Uint8Array(50)), /label 1 instance 1 has 50 pixels, slice has 10x10/);
});
