/**
 * Outbox faults (issue 11) against a real Orthanc: the PACS is killed (SIGKILL) in the middle
 * of a multi-instance C-STORE and started again on the same ports and storage; every item
 * ends sent, each SOP Instance UID is in Orthanc exactly once, the failures were recorded
 * (attempts, lastError) and no second SEG or report was written or queued for unchanged masks. Wrong
 * DICOMweb credentials fail an item with a sentence that says so.
 *
 * Orthanc stores slowly here (a Lua filter that waits 0.4 s per instance), so that the kill
 * lands between two instances of one association rather than before or after it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { OutboxItem } from '../../../electron/contract/pacs.js';
import { encodeRle } from '../../../electron/contract/rle.js';
import { createServices, type Services } from '../../../electron/services/index.js';
import { startOrthanc, type RunningOrthanc } from '../../fixtures/orthanc.js';
import { ctSlice, ellipse, H, W } from './sources.js';

const SERIES = [2, 3, 4];
let orthanc: RunningOrthanc;
let s: Services;
let dir: string;
let firstImage: number;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'outbox-faults-'));
  const lua = path.join(dir, 'slow-store.lua');
  writeFileSync(lua, 'function ReceivedInstanceFilter(dicom, origin, info)\n  local t = os.clock()\n  while os.clock() - t < 0.4 do end\n  return true\nend\n');
  orthanc = await startOrthanc({ config: { LuaScripts: [lua] } });
  s = createServices({ user: 'Jane Doe', transport: 'browser', version: 'test', configDir: path.join(dir, 'config'), outboxRetryBaseMs: 200 });
  await s['project.create']({ path: path.join(dir, 'proj'), name: 'Faults' });
  // One study, three series of two slices, a mask on each series' second slice: three SEGs, each with its measurement report (six instances).
  const files = SERIES.flatMap((series) => [0, 1].map((i) => ({ name: `s${series}-${i}.dcm`, bytes: new Uint8Array(ctSlice(i, series)) })));
  const report = await s['images.importFiles']({ files });
  assert.equal(report.imported.length, files.length, JSON.stringify(report.failed));
  const labelId = (await s['labels.list']({})).find((l) => l.name === 'lesion')!.id;
  for (const r of report.imported.filter((x) => x.file.endsWith('-1.dcm'))) {
    await s['masks.save']({ imageId: r.imageId, frame: 0, labelId, instance: 1, rle: encodeRle(ellipse(30, 20, 9, 7), H, W), source: 'brush' });
  }
  firstImage = report.imported[0]!.imageId;
});

after(async () => {
  await s?.close();
  await orthanc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const outbox = async (ids: number[]) => (await s['pacs.outbox']({})).filter((i) => ids.includes(i.id));
async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 60_000, everyMs = 50): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
const sopUids = async () => (await orthanc.rest<{ MainDicomTags: { SOPInstanceUID: string } }[]>('/instances?expand')).map((i) => i.MainDicomTags.SOPInstanceUID);

test('Orthanc killed in the middle of a multi-instance send: retried after it restarts, nothing lost, no duplicates', { timeout: 180_000 }, async (t) => {
  const dest = await s['pacs.saveDestination']({ name: 'Orthanc', kind: 'dimse', aeTitle: orthanc.aeTitle, host: '127.0.0.1', port: orthanc.dicomPort, callingAeTitle: 'DELINEATE' });
  const items = await s['pacs.sendStudy']({ imageId: firstImage, destinationId: dest.id });
  assert.deepEqual(
    items.map((i) => i.description.replace(/( of [^:]*)?(: .*)?$/, '')),
    SERIES.flatMap(() => ['SEG v1', 'Measurement report (SR v1)']),
    'one SEG per series and its report, queued together',
  );
  const ids = items.map((i) => i.id);
  const uids = items.map((i) => i.sopInstanceUid);
  assert.equal(new Set(uids).size, uids.length);

  // Kill it once two of the six have been stored: the third is on its way.
  await until('two instances stored', async () => (await sopUids()).length >= 2, 60_000, 20);
  await orthanc.kill();
  const afterKill = await until('the interrupted pass to end', async () => {
    const now = await outbox(ids);
    // A report still queued is one waiting for its SEG, which failed: never sent before it.
    const waits = (i: OutboxItem) => i.state === 'queued' && i.afterId !== null && now.find((x) => x.id === i.afterId)?.state === 'failed';
    return now.every((i) => i.state !== 'sending' && (i.state !== 'queued' || waits(i))) && now.some((i) => i.state === 'failed') ? now : null;
  });
  for (const r of afterKill.filter((i) => i.afterId !== null)) {
    const seg = afterKill.find((x) => x.id === r.afterId)!;
    assert.ok(seg.state === 'sent' || r.attempts === 0, `${r.description}: not sent before its SEG`);
  }
  const failedFirst = afterKill.filter((i) => i.state === 'failed');
  const sentFirst = afterKill.filter((i) => i.state === 'sent');
  t.diagnostic(`after the kill: ${sentFirst.length} sent, ${failedFirst.length} failed: ${failedFirst.map((i) => i.lastError).join(' | ')}`);
  assert.ok(sentFirst.length >= 2 && failedFirst.length >= 1, 'the kill landed in the middle of the association');
  for (const i of failedFirst) {
    assert.match(i.lastError ?? '', /did not answer|stopped answering before|aborted the association|nothing listening/, 'each failure says what happened');
    assert.ok(i.nextAttemptAt, 'and when it will be tried again');
    assert.ok(i.attempts >= 1);
  }

  await orthanc.restart();
  const done = await until('every item sent', async () => {
    const now = await outbox(ids);
    return now.every((i) => i.state === 'sent') ? now : null;
  });
  for (const i of done) {
    assert.equal(i.lastError, null);
    const wasFailed = failedFirst.some((f) => f.id === i.id);
    assert.ok(wasFailed ? i.attempts >= 2 : i.attempts === 1, `${i.description}: ${i.attempts} attempts`);
  }
  const there = await sopUids();
  assert.deepEqual([...there].sort(), [...uids].sort(), 'each SOP Instance UID exactly once, nothing else');

  // Send study again: the same objects and outbox rows (unchanged masks write no new SEG); still one copy each.
  const again = await s['pacs.sendStudy']({ imageId: firstImage, destinationId: dest.id });
  assert.deepEqual(again.map((i) => [i.id, i.sopInstanceUid]), items.map((i) => [i.id, i.sopInstanceUid]));
  assert.match(again[0]!.description, /^SEG v1/);
  await until('the resend', async () => ((await outbox(ids)).every((i) => i.state === 'sent' && i.attempts >= 2) ? true : null));
  assert.equal((await s['pacs.outbox']({})).length, 2 * SERIES.length, 'no second row');
  assert.deepEqual([...(await sopUids())].sort(), [...uids].sort(), 'no duplicate after the resend');
});

test('wrong DICOMweb credentials: the item fails with a sentence saying so, and Test connection says the same', { timeout: 120_000 }, async () => {
  const base = `http://127.0.0.1:${orthanc.httpPort}/dicom-web`;
  const web = await s['pacs.saveDestination']({ name: 'Orthanc web, wrong password', kind: 'dicomweb', baseUrl: base, auth: { kind: 'basic', user: orthanc.user, password: 'wrong' } });
  assert.deepEqual(await s['pacs.test']({ id: web.id }), { ok: false, detail: `${base} refused the credentials (HTTP 401)` });
  const [item] = await s['pacs.sendStudy']({ imageId: firstImage, destinationId: web.id });
  const failed = await until('the item to fail', async () => (await outbox([item!.id])).find((i) => i.state === 'failed'));
  assert.equal(failed.lastError, `${base} refused the credentials (HTTP 401)`);
  assert.ok(failed.nextAttemptAt);
  // With the right password (kept when the form leaves it out later), Retry delivers it.
  await s['pacs.saveDestination']({ id: web.id, name: web.name, kind: 'dicomweb', baseUrl: base, auth: { kind: 'basic', user: orthanc.user, password: orthanc.password } });
  await s['pacs.retry']({ itemId: item!.id });
  const sent: OutboxItem = await until('the retry', async () => (await outbox([item!.id])).find((i) => i.state === 'sent'));
  assert.ok(sent.attempts >= 2);
});
