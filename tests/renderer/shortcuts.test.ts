import { test } from 'node:test';
import assert from 'node:assert/strict';
import { actionFor, SHORTCUTS } from '../../renderer/src/lib/shortcuts.ts';

const k = (key: string, m: Partial<{ ctrlKey: boolean; metaKey: boolean; shiftKey: boolean; altKey: boolean }> = {}) => ({ key, ctrlKey: false, metaKey: false, shiftKey: false, altKey: false, ...m });

test('undo and redo keys', () => {
  assert.equal(actionFor(k('z', { ctrlKey: true })), 'undo');
  assert.equal(actionFor(k('Z', { ctrlKey: true, shiftKey: true })), 'redo');
  assert.equal(actionFor(k('y', { ctrlKey: true })), 'redo');
  assert.equal(actionFor(k('z')), 'tool.zoom', 'plain z picks the zoom tool, not undo');
});

test('brush size, slices, help', () => {
  assert.equal(actionFor(k('[')), 'brush.smaller');
  assert.equal(actionFor(k(']')), 'brush.larger');
  assert.equal(actionFor(k('PageDown')), 'slice.next10');
  assert.equal(actionFor(k('ArrowUp')), 'slice.prev');
  assert.equal(actionFor(k('?', { shiftKey: true })), 'help');
  assert.equal(actionFor(k('q')), null);
});

test('every action has exactly one entry in the help table', () => {
  const actions = SHORTCUTS.map((s) => s.action);
  assert.equal(new Set(actions).size, actions.length);
});

test('view and navigation keys: rotate, flip, invert, cine, next image', () => {
  assert.equal(actionFor(k('r')), 'view.rotate');
  assert.equal(actionFor(k('R', { shiftKey: true })), 'training.retrain', 'Shift+R stays retraining');
  assert.equal(actionFor(k('x')), 'view.flipH');
  assert.equal(actionFor(k('y')), 'view.flipV');
  assert.equal(actionFor(k('y', { ctrlKey: true })), 'redo', 'Ctrl+Y stays redo');
  assert.equal(actionFor(k('i')), 'view.invert');
  assert.equal(actionFor(k(' ')), 'cine.toggle');
  assert.equal(actionFor(k('ArrowDown', { shiftKey: true })), 'image.next');
  assert.equal(actionFor(k('ArrowUp', { shiftKey: true })), 'image.prev');
  assert.equal(actionFor(k('ArrowDown')), 'slice.next', 'plain arrows still step slices');
  // Each is listed in the help overlay (it is generated from the same table).
  for (const a of ['view.rotate', 'view.flipH', 'view.flipV', 'view.invert', 'cine.toggle', 'image.next', 'image.prev']) {
    assert.ok(SHORTCUTS.some((s) => s.action === a && s.label && s.description), a);
  }
});
