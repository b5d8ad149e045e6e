/**
 * Windowed list rows: offsets, the window for a scroll position (hand-computed cases), its
 * spacers always adding up to the whole list, and scrolling a row into view.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rowOffsets, rowWindow, scrollToShow } from '../../renderer/src/lib/virtualRows.ts';

test('offsets are running sums of the heights', () => {
  assert.deepEqual([...rowOffsets([22, 46, 46, 22])], [0, 22, 68, 114, 136]);
  assert.deepEqual([...rowOffsets([])], [0]);
});

test('the window covers the viewport plus overscan, hand-computed', () => {
  // Rows of 10 px: 0..99 px is rows 0..9.
  const o = rowOffsets(new Array(100).fill(10));
  assert.deepEqual(rowWindow(o, 0, 50, 0), { start: 0, end: 6, before: 0, after: 940 });
  // Scrolled to 205: rows 20 (200..210) to 25 (250..260) show; overscan 20 adds two each way.
  assert.deepEqual(rowWindow(o, 205, 50, 20), { start: 18, end: 28, before: 180, after: 720 });
  // Past the end (a list that shrank under the scroll position): the last rows, no after-spacer.
  const w = rowWindow(o, 5000, 50, 0);
  assert.equal(w.end, 100);
  assert.equal(w.after, 0);
  assert.deepEqual(rowWindow(rowOffsets([]), 0, 500, 100), { start: 0, end: 0, before: 0, after: 0 });
});

test('spacers plus rendered rows always add up to the whole list', () => {
  const heights = Array.from({ length: 5000 }, (_, i) => (i % 7 === 0 ? 22 : 46));
  const o = rowOffsets(heights);
  const total = o[heights.length]!;
  for (let scroll = 0; scroll < total; scroll += 997) {
    const w = rowWindow(o, scroll, 800, 300);
    const rendered = heights.slice(w.start, w.end).reduce((a, b) => a + b, 0);
    assert.equal(w.before + rendered + w.after, total);
    // Every pixel of the viewport is inside a rendered row.
    assert.ok(o[w.start]! <= scroll && o[w.end]! >= Math.min(total, scroll + 800), `scroll ${scroll}`);
    assert.ok(w.end - w.start < 60, 'only a screenful (plus overscan) of rows');
  }
});

test('scrolling a row into view moves only as far as needed', () => {
  const o = rowOffsets(new Array(100).fill(10));
  assert.equal(scrollToShow(o, 3, 0, 50), null);
  assert.equal(scrollToShow(o, 10, 0, 50), 60); // its bottom (110) at the viewport's bottom
  assert.equal(scrollToShow(o, 2, 40, 50), 20); // its top at the viewport's top
  assert.equal(scrollToShow(o, 100, 0, 50), null);
});
