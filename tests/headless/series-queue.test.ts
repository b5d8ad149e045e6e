/**
 * The node's queue on a real SQLite file: a series is due only after its idle time, is
 * claimed by one worker at a time, survives a reopen (a crash) with a running series queued
 * again, is reopened by a new instance after it was processed but not by a repeated one, and
 * goes back to receiving when an instance arrived while it ran (even in the claim's
 * millisecond); a series the node keeps dying on is left failed; a SOP Instance UID reused in
 * another series is kept there and reported; a corrected re-send reopens a finished series;
 * retention deletes what expired (with a clock passed in), and nothing else; a series still
 * receiving when the node stopped gets one idle time of grace at the next start; a job sees an
 * instance that arrived while it ran; a genuine failure while the node drains counts as one,
 * an abort does not; old unpacked package copies are removed, the one in use kept.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import type { NodeLog } from '../../electron/headless/node-log.js';
import { pruneExpired, pruneUnpackedPackages } from '../../electron/headless/retention.node.js';
import { SeriesQueue, settleRunError } from '../../electron/headless/series-queue.node.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'series-queue-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const inst = (series: string, sop: string, sha256 = `sha-of-${sop}`) => ({ sopUid: sop, seriesUid: series, studyUid: '1.2', modality: 'CT', callingAe: 'PACS', file: `/spool/${series}/${sop}.dcm`, sha256 });
const NEW = { kind: 'new', otherSeries: [] };

test('due after idle, claimed once, finished with a latency from the last instance', () => {
  const q = new SeriesQueue(path.join(dir, 'a.sqlite'));
  assert.deepEqual(q.recordInstance(inst('1.1', '1.1.1'), 1000), NEW);
  assert.deepEqual(q.recordInstance(inst('1.1', '1.1.2'), 2000), NEW);
  assert.equal(q.recordInstance(inst('1.1', '1.1.2'), 2500).kind, 'repeated', 'a repeated instance is not new');
  assert.equal(q.claim(1999, 3000), null, 'not idle long enough');
  assert.equal(q.nextDue(1000), 3000);
  const row = q.claim(2000, 3000)!;
  assert.equal(row.seriesUid, '1.1');
  assert.equal(row.instances, 2);
  assert.equal(row.attempts, 1);
  assert.equal(q.claim(5000, 5000), null, 'a running series is not claimed twice');
  assert.equal(q.finish('1.1', { state: 'done', segSopUid: '2.25.1' }, 4500), 'done');
  assert.equal(q.series('1.1')!.latencyMs, 2500);
  assert.deepEqual(q.stats().latenciesMs, [2500]);
  q.close();
});

test('a reopen after a crash queues the running series again; nothing is lost', () => {
  const file = path.join(dir, 'b.sqlite');
  let q = new SeriesQueue(file);
  q.recordInstance(inst('2.1', '2.1.1'), 1000);
  q.recordInstance(inst('2.2', '2.2.1'), 1000);
  q.claim(1000, 2000);
  q.close(); // the process dies here
  q = new SeriesQueue(file);
  assert.deepEqual(q.requeueRunning(3, 2500), { requeued: ['2.1'], failed: [] });
  assert.equal(q.series('2.1')!.state, 'queued');
  assert.equal(q.stats().instances, 2);
  assert.equal(q.claim(1000, 2000)!.seriesUid, '2.1', 'the interrupted one first (oldest)');
  q.close();
});

test('new instance during a run or after it reopens the series; failures retry then stay failed', () => {
  const q = new SeriesQueue(path.join(dir, 'c.sqlite'));
  q.recordInstance(inst('3.1', '3.1.1'), 1000);
  q.claim(1000, 2000);
  q.recordInstance(inst('3.1', '3.1.2'), 2500);
  assert.equal(q.finish('3.1', { state: 'done', segSopUid: 'x' }, 3000), 'receiving', 'the result covered half the series');
  q.claim(2500, 4000);
  assert.equal(q.finish('3.1', { state: 'done', segSopUid: 'y' }, 5000), 'done');
  q.recordInstance(inst('3.1', '3.1.2'), 6000);
  assert.equal(q.series('3.1')!.state, 'done', 'a repeated instance does not reopen');
  q.recordInstance(inst('3.1', '3.1.3'), 6000);
  assert.equal(q.series('3.1')!.state, 'receiving', 'a new one does');
  q.claim(6000, 7000);
  assert.equal(q.finish('3.1', { state: 'failed', error: 'PACS down', retryAt: 9000 }, 7000), 'queued');
  assert.equal(q.claim(7000, 8000), null, 'not before its retry time');
  assert.equal(q.claim(7000, 9000)!.attempts, 2);
  assert.equal(q.finish('3.1', { state: 'failed', error: 'PACS down', retryAt: null }, 9500), 'failed');
  assert.equal(q.series('3.1')!.error, 'PACS down');
  q.close();
});

test('a series the node stopped --attempts times while processing it is left failed, not claimed at every start', () => {
  const file = path.join(dir, 'd.sqlite');
  let q = new SeriesQueue(file);
  q.recordInstance(inst('4.1', '4.1.1'), 1000);
  q.close();
  const claims: number[] = [];
  for (let boot = 0; boot < 6; boot++) {
    q = new SeriesQueue(file);
    const left = q.requeueRunning(3, 10_000 + boot);
    if (boot === 3) assert.deepEqual(left, { requeued: [], failed: [{ seriesUid: '4.1', attempts: 3 }] });
    const r = q.claim(1e12, 1e12);
    if (r) claims.push(r.attempts);
    q.close(); // OOM-killed while processing it
  }
  assert.deepEqual(claims, [1, 2, 3], 'claimed three times, then never again');
  q = new SeriesQueue(file);
  const s = q.series('4.1')!;
  assert.equal(s.state, 'failed');
  assert.equal(s.error, 'the node stopped 3 times while processing it');
  assert.equal(s.finishedAt, 10_003);
  q.recordInstance(inst('4.1', '4.1.2'), 20_000);
  assert.deepEqual([q.series('4.1')!.state, q.series('4.1')!.attempts], ['receiving', 0], 'a new instance gives it a fresh start');
  // A run the node interrupted itself (shutdown) is not counted.
  q.claim(1e12, 1e12);
  q.interrupted('4.1');
  assert.deepEqual([q.series('4.1')!.state, q.series('4.1')!.attempts], ['queued', 0]);
  q.close();
});

test('an instance recorded in the same millisecond as the claim, or with the clock stepped back, is not lost', () => {
  const q = new SeriesQueue(path.join(dir, 'e.sqlite'));
  q.recordInstance(inst('5.1', '5.1.1'), 1000);
  assert.equal(q.claim(1000, 2000)!.instances, 1);
  q.recordInstance(inst('5.1', '5.1.2'), 2000); // the claim's own millisecond
  assert.equal(q.finish('5.1', { state: 'done', segSopUid: 'x' }, 3000), 'receiving', 'the run missed 5.1.2');
  assert.equal(q.claim(1e12, 1e12)!.instances, 2);
  q.recordInstance(inst('5.1', '5.1.3'), 500); // NTP stepped the clock back
  assert.equal(q.finish('5.1', { state: 'done', segSopUid: 'y' }, 3500), 'receiving', 'the run missed 5.1.3');
  assert.equal(q.series('5.1')!.lastReceivedAt, 2000, 'the idle clock does not go backwards');
  assert.equal(q.claim(1e12, 1e12)!.instances, 3);
  assert.equal(q.finish('5.1', { state: 'done', segSopUid: 'z' }, 4000), 'done');
  q.close();
});

test('a SOP Instance UID reused in another series is kept there and reported; a corrected re-send reopens a finished series', () => {
  const q = new SeriesQueue(path.join(dir, 'f.sqlite'));
  q.recordInstance(inst('6.1', '6.1.1'), 1000);
  q.claim(1000, 2000);
  q.finish('6.1', { state: 'done', segSopUid: 'seg-a' }, 3000);
  assert.deepEqual(q.recordInstance(inst('6.2', '6.1.1', 'other-bytes'), 4000), { kind: 'new', otherSeries: ['6.1'] });
  assert.deepEqual(q.instances('6.2').map((i) => i.file), ['/spool/6.2/6.1.1.dcm'], 'segmented with its own series');
  assert.equal(q.series('6.2')!.state, 'receiving');
  assert.equal(q.series('6.1')!.state, 'done', 'the first series is untouched');
  assert.equal(q.recordInstance(inst('6.1', '6.1.1'), 5000).kind, 'repeated', 'the same bytes again: a repeat');
  assert.equal(q.series('6.1')!.state, 'done');
  assert.deepEqual(q.recordInstance(inst('6.1', '6.1.1', 'corrected'), 6000), { kind: 'changed', otherSeries: ['6.2'] });
  assert.deepEqual([q.series('6.1')!.state, q.series('6.1')!.instances], ['receiving', 1], 'reopened, still one instance');
  q.close();
});

test('retention deletes the instances and SEG of series processed more than keepDays ago, then forgets them', () => {
  const root = path.join(dir, 'retention');
  const spool = path.join(root, 'incoming');
  const segDir = path.join(root, 'seg');
  mkdirSync(segDir, { recursive: true });
  const q = new SeriesQueue(path.join(dir, 'g.sqlite'));
  const DAY = 86_400_000;
  const t0 = Date.UTC(2026, 0, 1);
  const put = (series: string, sop: string, at: number) => {
    const file = path.join(spool, series, `${sop}.dcm`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, sop);
    q.recordInstance({ ...inst(series, sop), file }, at);
    return file;
  };
  const old = [put('7.1', '7.1.1', t0), put('7.1', '7.1.2', t0)];
  const seg = path.join(segDir, 'seg-7.1.dcm');
  writeFileSync(seg, 'seg');
  q.claim(t0, t0);
  q.finish('7.1', { state: 'done', segSopUid: 'seg-7.1' }, t0 + 1000);
  const recent = put('7.2', '7.2.1', t0 + 5 * DAY);
  q.claim(t0 + 5 * DAY, t0 + 5 * DAY);
  q.finish('7.2', { state: 'skipped', error: 'MR' }, t0 + 5 * DAY);
  const waiting = put('7.3', '7.3.1', t0);
  const lines: string[] = [];
  const log: NodeLog = (event, fields) => lines.push(`${event} ${JSON.stringify(fields)}`);

  assert.deepEqual(pruneExpired(q, { keepDays: 7, segDir, now: t0 + 6 * DAY }, log), { series: 0, files: 0 }, 'nothing is 7 days old yet');
  assert.deepEqual(pruneExpired(q, { keepDays: 0, segDir, now: t0 + 100 * DAY }, log), { series: 0, files: 0 }, '0: kept forever');
  assert.deepEqual(pruneExpired(q, { keepDays: 7, segDir, now: t0 + 8 * DAY }, log), { series: 1, files: 3 });
  assert.deepEqual([...old, seg].map(existsSync), [false, false, false], 'its instances and its SEG are gone');
  assert.equal(existsSync(path.join(spool, '7.1')), false, 'and its emptied folder');
  assert.equal(q.series('7.1'), null);
  assert.deepEqual(q.instances('7.1'), []);
  assert.deepEqual([recent, waiting].map(existsSync), [true, true], 'a recent series and one not processed yet are kept');
  assert.match(lines.join('\n'), /retention_pruned .*"series":1/);
  q.close();
});

test('at start, a series the node stopped in the middle of receiving gets one idle time of grace (no SEG of half a series)', () => {
  const file = path.join(dir, 'h.sqlite');
  const IDLE = 30_000;
  let q = new SeriesQueue(file);
  q.recordInstance(inst('8.1', '8.1.1'), 1000); // half the series, then the node is killed
  q.recordInstance(inst('8.2', '8.2.1'), 1000);
  q.claim(1000, 2000); // 8.1 (oldest) was being processed: requeued, not graced
  q.close();
  const start = 600_000; // restarted ten minutes later: 8.2's last instance is far older than --idle
  q = new SeriesQueue(file);
  assert.deepEqual(q.requeueRunning(3, start).requeued, ['8.1']);
  assert.deepEqual(q.graceReceiving(start), ['8.2']);
  assert.equal(q.series('8.2')!.lastReceivedAt, start);
  assert.equal(q.claim(start - IDLE, start)!.seriesUid, '8.1', 'the requeued one is due at once');
  assert.equal(q.claim(start - IDLE, start), null, 'the half-received one is not claimed at start');
  assert.equal(q.nextDue(IDLE), start + IDLE);
  q.recordInstance(inst('8.2', '8.2.2'), start + 5000); // the sender resumes
  assert.equal(q.claim(start + 5000 + IDLE - 1 - IDLE, start + 5000 + IDLE - 1), null);
  const row = q.claim(start + 5000, start + 5000 + IDLE)!;
  assert.deepEqual([row.seriesUid, row.instances], ['8.2', 2], 'processed once, whole');
  assert.deepEqual(q.graceReceiving(start + 1), [], 'a later instance is not moved back');
  q.close();
});

test('a series that grew after its claim and was then cut off (crash, or shutdown past --drain-s) waits as receiving and gets the grace too', () => {
  const file = path.join(dir, 'g.sqlite');
  const IDLE = 30_000;
  let q = new SeriesQueue(file);
  q.recordInstance(inst('11.1', '11.1.1'), 1000);
  q.recordInstance(inst('11.2', '11.2.1'), 1000);
  q.recordInstance(inst('11.3', '11.3.1'), 1000);
  q.claim(1000, 2000); // 11.1
  q.claim(1000, 2000); // 11.2
  q.claim(1000, 2000); // 11.3
  q.recordInstance(inst('11.1', '11.1.2'), 2500); // the senders resumed while the runs went on
  q.recordInstance(inst('11.2', '11.2.2'), 2500);
  q.interrupted('11.2'); // the drain ran out
  assert.equal(q.series('11.2')!.state, 'receiving');
  q.close(); // 11.1 and 11.3 still running: the node crashed
  const start = 600_000;
  q = new SeriesQueue(file);
  assert.deepEqual(q.requeueRunning(3, start).requeued, ['11.1', '11.3']);
  assert.deepEqual([q.series('11.1')!.state, q.series('11.3')!.state], ['receiving', 'queued'], 'only the one that grew waits');
  assert.deepEqual(q.graceReceiving(start), ['11.1', '11.2']);
  assert.equal(q.claim(start - IDLE, start)!.seriesUid, '11.3', 'the unchanged one is due at once');
  assert.equal(q.claim(start - IDLE, start), null, 'the grown ones are not claimed before the senders could resume');
  q.close();
});

test('a job sees an instance that arrived since its claim (it then sends nothing, and the series goes back to receiving)', () => {
  const q = new SeriesQueue(path.join(dir, 'i.sqlite'));
  q.recordInstance(inst('9.1', '9.1.1'), 1000);
  assert.equal(q.changedSinceClaim('9.1'), false, 'not running');
  q.claim(1000, 2000);
  assert.equal(q.changedSinceClaim('9.1'), false);
  q.recordInstance(inst('9.1', '9.1.1'), 2100);
  assert.equal(q.changedSinceClaim('9.1'), false, 'a repeat changes nothing');
  q.recordInstance(inst('9.1', '9.1.2'), 2200);
  assert.equal(q.changedSinceClaim('9.1'), true);
  assert.equal(q.finish('9.1', { state: 'done' }, 2300), 'receiving');
  q.close();
});

test('a run that throws: a genuine failure (also while draining at shutdown) counts, one cut off by the abort does not', () => {
  const q = new SeriesQueue(path.join(dir, 'j.sqlite'));
  q.recordInstance(inst('10.1', '10.1.1'), 1000);
  let row = q.claim(1000, 2000)!;
  // Draining (SIGTERM received, the abort not fired yet): the PACS refused the SEG.
  assert.deepEqual(settleRunError(q, row, 'PACS down', { aborted: false, maxAttempts: 3, now: 3000 }), { kind: 'failed', state: 'queued', retryAt: 63_000 });
  assert.deepEqual([q.series('10.1')!.state, q.series('10.1')!.attempts, q.series('10.1')!.error], ['queued', 1, 'PACS down']);
  row = q.claim(63_000, 63_000)!;
  assert.equal(row.attempts, 2);
  // --drain-s ran out: the job's signal fired and it threw because of it.
  assert.deepEqual(settleRunError(q, row, 'Sending failed: cancelled', { aborted: true, maxAttempts: 3, now: 64_000 }), { kind: 'interrupted' });
  assert.deepEqual([q.series('10.1')!.state, q.series('10.1')!.attempts, q.series('10.1')!.nextAttemptAt], ['queued', 1, null], 'queued for the next start, the attempt refunded');
  row = q.claim(64_000, 64_000)!;
  row = { ...row, attempts: 3 };
  assert.deepEqual(settleRunError(q, row, 'PACS down', { aborted: false, maxAttempts: 3, now: 65_000 }), { kind: 'failed', state: 'failed', retryAt: null }, 'the last attempt: left failed');
  q.close();
});

test('unpacked package copies: older ones are removed, the one in use kept', () => {
  const scratch = path.join(dir, 'package');
  for (const d of ['model-1.0.0', 'model-1.1.0', 'model-2.0.0']) mkdirSync(path.join(scratch, d, 'model'), { recursive: true });
  writeFileSync(path.join(scratch, 'model-2.0.0', 'model', 'x.onnx'), 'x');
  writeFileSync(path.join(scratch, 'stray.txt'), 'x');
  const removed = pruneUnpackedPackages(scratch, path.join(scratch, 'model-2.0.0'));
  assert.deepEqual(removed.map((r) => path.basename(r)).sort(), ['model-1.0.0', 'model-1.1.0', 'stray.txt']);
  assert.deepEqual([existsSync(path.join(scratch, 'model-2.0.0', 'model', 'x.onnx')), existsSync(path.join(scratch, 'model-1.0.0'))], [true, false]);
  assert.deepEqual(pruneUnpackedPackages(path.join(dir, 'no-such-folder'), '/x'), []);
});
