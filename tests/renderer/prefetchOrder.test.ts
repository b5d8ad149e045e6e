import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prefetchOrder } from '../../renderer/src/lib/prefetchOrder.ts';

test('nearest first, two ahead for one behind, in the scroll direction', () => {
  assert.deepEqual(prefetchOrder(100, 50, 1, 4, 2), [51, 52, 49, 53, 54, 48]);
  assert.deepEqual(prefetchOrder(100, 50, -1, 4, 2), [49, 48, 51, 47, 46, 52]);
});

test('clipped at the ends of the stack, no duplicates, never the current slice', () => {
  const o = prefetchOrder(10, 8, 1, 5, 5);
  assert.deepEqual([...o].sort((a, b) => a - b), [3, 4, 5, 6, 7, 9]);
  assert.equal(new Set(o).size, o.length);
  assert.deepEqual(prefetchOrder(1, 0, 1, 10, 10), []);
});
