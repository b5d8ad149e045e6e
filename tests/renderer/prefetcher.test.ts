import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prefetcher } from '../../renderer/src/lib/prefetcher.ts';

/** A source whose loads finish when the test says so. */
function source() {
  const requested = new Set<number>();
  const started: number[] = [];
  const finish = new Map<number, () => void>();
  return {
    requested,
    started,
    done(i: number) {
      finish.get(i)!();
    },
    load(i: number): Promise<unknown> {
      requested.add(i);
      started.push(i);
      return new Promise<void>((r) => finish.set(i, r));
    },
    isRequested: (i: number) => requested.has(i),
  };
}

const stack = Array.from({ length: 100 }, (_, i) => i);
const tick = () => new Promise((r) => setImmediate(r));

test('while scrolling only slices ahead are fetched, nearest first, a few at a time', () => {
  const s = source();
  const p = new Prefetcher(s, { concurrency: 3, ahead: 10, behind: 5 });
  p.around(stack, 50, 1, true);
  assert.deepEqual(s.started, [51, 52, 53]);
  p.reset();
});

test('scrolling the other way looks the other way', () => {
  const s = source();
  const p = new Prefetcher(s, { concurrency: 2, ahead: 10, behind: 5 });
  p.around(stack, 50, -1, true);
  assert.deepEqual(s.started, [49, 48]);
  p.reset();
});

test('a slice change re-plans at once: what is already requested is skipped, the new nearest come next', async () => {
  const s = source();
  const p = new Prefetcher(s, { concurrency: 2, ahead: 10, behind: 5 });
  p.around(stack, 50, 1, true);
  p.around(stack, 52, 1, true); // the user moved on before anything arrived
  s.done(51);
  await tick();
  assert.deepEqual(s.started, [51, 52, 53], '52 was in flight; 53 is the nearest ahead of 52');
  assert.equal(p.inFlight, 2);
  p.reset();
});

test('when the scroll settles, the slices behind are filled in too', async () => {
  const s = source();
  const p = new Prefetcher(s, { concurrency: 10, ahead: 4, behind: 2, settleMs: 20 });
  p.around(stack, 50, 1, true);
  assert.deepEqual(s.started, [51, 52, 53, 54]);
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(s.started, [51, 52, 53, 54, 49, 48]);
  p.reset();
});

test('opening or jumping (not scrolling) fetches both ways, two ahead for one behind', () => {
  const s = source();
  const p = new Prefetcher(s, { concurrency: 6, ahead: 4, behind: 2 });
  p.around(stack, 50, 1);
  assert.deepEqual(s.started, [51, 52, 49, 53, 54, 48]);
});

/** The same source, able to load several slices in one request (one entry in `batches` per request). */
function batchingSource() {
  const s = source();
  const batches: number[][] = [];
  return {
    ...s,
    batches,
    loadMany(items: number[]): Promise<unknown> {
      batches.push(items);
      return Promise.all(items.map((i) => s.load(i)));
    },
  };
}

test('with a source that loads many, consecutive slices ahead travel together, requests in flight still bounded', async () => {
  const s = batchingSource();
  const p = new Prefetcher(s, { concurrency: 2, ahead: 12, behind: 0, batch: 4 });
  p.around(stack, 50, 1, true);
  assert.deepEqual(s.batches, [[51, 52, 53, 54], [55, 56, 57, 58]], 'two requests of four, nearest first');
  for (const i of [51, 52, 53, 54]) s.done(i);
  await tick();
  assert.deepEqual(s.batches.at(-1), [59, 60, 61, 62], 'the next four once a request finished');
  assert.equal(p.inFlight, 2);
  p.reset();
});

test('a batch skips slices already requested and never waits to fill up', () => {
  const s = batchingSource();
  s.requested.add(52);
  const p = new Prefetcher(s, { concurrency: 1, ahead: 3, behind: 0, batch: 4 });
  p.around(stack, 50, 1, true);
  assert.deepEqual(s.batches, [[51, 53]]);
  p.reset();
});

test('without loadMany (or batch 1) each slice is its own request', () => {
  const s = source();
  const p = new Prefetcher(s, { concurrency: 2, ahead: 10, behind: 0, batch: 4 });
  p.around(stack, 50, 1, true);
  assert.deepEqual(s.started, [51, 52]);
  p.reset();
});
