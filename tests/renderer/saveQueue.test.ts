import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SaveQueue, type SaveState } from '../../renderer/src/lib/saveQueue.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a burst of edits to one layer becomes one save, within the max wait', async () => {
  const saves: string[] = [];
  const q = new SaveQueue(undefined, 50, 200);
  const t0 = Date.now();
  let doneAt = 0;
  for (let i = 0; i < 8; i++) {
    q.mark({ key: 'a', run: async () => { saves.push(`a${i}`); doneAt = Date.now(); } });
    await sleep(30); // keeps resetting the quiet timer
  }
  await sleep(120);
  assert.ok(saves.length >= 1 && saves.length <= 2, `saves: ${saves}`);
  assert.equal(saves.at(-1), 'a7', 'the newest state is what gets saved');
  assert.ok(doneAt - t0 < 400, 'continuous edits still saved before the max wait plus slack');
});

test('errors are reported and the job retried on the next flush', async () => {
  const states: SaveState['kind'][] = [];
  let fail = true;
  let runs = 0;
  const q = new SaveQueue((s) => states.push(s.kind), 10, 50, 60_000);
  q.mark({ key: 'x', run: async () => { runs++; if (fail) throw new Error('disk full'); } });
  await q.flush();
  assert.equal(q.state.kind, 'error');
  assert.equal((q.state as { message: string }).message, 'disk full');
  assert.equal(q.pendingCount, 1);
  fail = false;
  await q.flush();
  assert.equal(q.state.kind, 'saved');
  assert.equal(runs, 2);
  assert.ok(states.includes('saving'));
});

test('a failed save is retried by itself after retryMs', async () => {
  let fail = true;
  let runs = 0;
  const q = new SaveQueue(undefined, 5, 20, 60);
  q.mark({ key: 'x', run: async () => { runs++; if (fail) throw new Error('locked'); } });
  await sleep(40);
  assert.equal(q.state.kind, 'error');
  fail = false;
  await sleep(120);
  assert.equal(q.state.kind, 'saved');
  assert.equal(runs, 2);
});
