/**
 * The PACS outbox (issue 11) through createServices, against real Orthanc instances:
 * destinations kept in the app's settings (secrets never listed), "Test connection", Send
 * series -> queued -> sent; a PACS that is down -> failed with the reason, then delivered by
 * the retries once it is up; a rejected AE title says why; an item survives an app restart.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ApiError } from '../../../electron/contract/api.js';
import type { OutboxItem } from '../../../electron/contract/pacs.js';
import { encodeRle } from '../../../electron/contract/rle.js';
import { createServices, type Services } from '../../../electron/services/index.js';
import { freePort, startOrthanc, type RunningOrthanc } from '../../fixtures/orthanc.js';
import { ctSlice, ellipse, H, projectWithLesion, W } from './sources.js';

let orthanc: RunningOrthanc;
let s: Services;
let dir: string;
let configDir: string;
let ids: number[];

const services = () => createServices({ user: 'Jane Doe', transport: 'browser', version: 'test', configDir, outboxRetryBaseMs: 300 });

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'outbox-'));
  configDir = path.join(dir, 'config');
  orthanc = await startOrthanc();
  s = services();
  ids = await projectWithLesion(s, dir, 'Outbox', 3);
});

after(async () => {
  await s?.close();
  await orthanc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function until(item: OutboxItem, done: (i: OutboxItem) => boolean, timeoutMs = 60_000): Promise<OutboxItem> {
  const t0 = Date.now();
  for (;;) {
    const now = (await s['pacs.outbox']({})).find((x) => x.id === item.id)!;
    if (done(now)) return now;
    if (Date.now() - t0 > timeoutMs) throw new Error(`outbox item still ${now.state}: ${JSON.stringify(now)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const inOrthanc = async (o: RunningOrthanc) => (await o.rest<{ MainDicomTags: { SOPInstanceUID: string } }[]>('/instances?expand')).map((i) => i.MainDicomTags.SOPInstanceUID);

test('destinations live in the app settings; secrets are kept but never listed; Test connection answers', { timeout: 120_000 }, async () => {
  const dimse = await s['pacs.saveDestination']({ name: 'Orthanc DIMSE', kind: 'dimse', aeTitle: orthanc.aeTitle, host: '127.0.0.1', port: orthanc.dicomPort, callingAeTitle: 'DELINEATE' });
  const web = await s['pacs.saveDestination']({ name: 'Orthanc web', kind: 'dicomweb', baseUrl: `http://127.0.0.1:${orthanc.httpPort}/dicom-web`, auth: { kind: 'basic', user: orthanc.user, password: orthanc.password } });
  assert.deepEqual(web.kind === 'dicomweb' && web.auth, { kind: 'basic', user: orthanc.user, hasSecret: true });
  assert.ok(!JSON.stringify(await s['pacs.destinations']({})).includes(orthanc.password), 'the password is never listed');
  const file = path.join(configDir, 'destinations.json');
  assert.equal(statSync(file).mode & 0o777, 0o600, 'the settings file is the user\'s only');
  assert.ok(readFileSync(file, 'utf8').includes(orthanc.password));
  // Changing the name without resending the password keeps it.
  await s['pacs.saveDestination']({ id: web.id, name: 'Orthanc DICOMweb', kind: 'dicomweb', baseUrl: `http://127.0.0.1:${orthanc.httpPort}/dicom-web`, auth: { kind: 'basic', user: orthanc.user } });
  assert.deepEqual(await s['pacs.test']({ id: web.id }), { ok: true, detail: `QIDO-RS at http://127.0.0.1:${orthanc.httpPort}/dicom-web answered` });
  assert.equal((await s['pacs.test']({ id: dimse.id })).ok, true);
  const wrong = await s['pacs.saveDestination']({ name: 'Wrong AE', kind: 'dimse', aeTitle: 'NOBODY', host: '127.0.0.1', port: orthanc.dicomPort, callingAeTitle: 'DELINEATE' });
  const t = await s['pacs.test']({ id: wrong.id });
  assert.equal(t.ok, false);
  assert.match(t.detail, /NOBODY@127\.0\.0\.1:\d+ rejected the association: its AE title \(called AE title\) is not recognised/);
  await assert.rejects(Promise.resolve().then(() => s['pacs.saveDestination']({ name: 'Orthanc DIMSE', kind: 'dimse', aeTitle: 'X', host: 'h', port: 1, callingAeTitle: 'Y' })), /exists already/);
});

test('Send series: exported, queued, sent; Orthanc has it; sending again makes no duplicate', { timeout: 180_000 }, async () => {
  const dest = (await s['pacs.destinations']({})).find((d) => d.name === 'Orthanc DIMSE')!;
  const item = await s['pacs.sendSeries']({ imageId: ids[0]!, destinationId: dest.id });
  assert.match(item.description, /^SEG v1/);
  const sent = await until(item, (i) => i.state === 'sent');
  assert.equal(sent.attempts, 1);
  assert.ok(sent.sentAt);
  assert.ok((await inOrthanc(orthanc)).includes(item.sopInstanceUid));
  const before = (await inOrthanc(orthanc)).length;
  const again = await s['pacs.sendSeries']({ imageId: ids[2]!, destinationId: dest.id });
  assert.equal(again.id, item.id, 'the same object to the same destination keeps its outbox row');
  await until(again, (i) => i.state === 'sent' && i.attempts === 2);
  assert.equal((await inOrthanc(orthanc)).length, before, 'no duplicate in the PACS');
  // Over DICOMweb too.
  const web = (await s['pacs.destinations']({})).find((d) => d.kind === 'dicomweb')!;
  const viaWeb = await s['pacs.sendSeries']({ imageId: ids[0]!, destinationId: web.id });
  assert.equal((await until(viaWeb, (i) => i.state === 'sent')).lastError, null);
  // A rejected association fails with its reason.
  const wrong = (await s['pacs.destinations']({})).find((d) => d.name === 'Wrong AE')!;
  const bad = await until(await s['pacs.sendSeries']({ imageId: ids[0]!, destinationId: wrong.id }), (i) => i.state === 'failed');
  assert.match(bad.lastError ?? '', /rejected the association/);
  assert.ok(bad.nextAttemptAt, 'it will be tried again');

  // Each send is a job too: listed, its state following the outbox item's.
  const jobs = await s['jobs.list']({});
  const job = (id: number) => jobs.find((j) => j.id === `send-${id}`)!;
  assert.equal(job(item.id).kind, 'send');
  assert.equal(job(item.id).state, 'succeeded');
  assert.match(job(item.id).detail, /^Sent SEG v1( of .+)? to Orthanc DIMSE$/);
  assert.deepEqual([job(bad.id).state, job(bad.id).stage], ['running', 'waiting'], 'a failed send with a retry time is still under way');
  assert.match(job(bad.id).detail, /rejected the association.*trying again at/);
  // Cancelling it takes it out of the outbox; a sent one's job has ended and stays as it was.
  // (It keeps being retried: a cancel that lands during an attempt is refused, said so, and tried again.)
  let cancelled: Awaited<ReturnType<Services['jobs.cancel']>> | null = null;
  for (let k = 0; k < 100 && !cancelled; k++) {
    cancelled = await Promise.resolve(s['jobs.cancel']({ jobId: `send-${bad.id}` })).catch((e: unknown) => {
      if (!(e instanceof ApiError && /is being sent to Wrong AE right now/.test(e.message))) throw e;
      return new Promise<null>((r) => setTimeout(() => r(null), 50));
    });
  }
  assert.ok(cancelled);
  assert.equal(cancelled.state, 'cancelled');
  assert.match(cancelled.detail, /^Not sent: SEG v1( of .+)? was taken out of the outbox for Wrong AE$/);
  assert.ok(!(await s['pacs.outbox']({})).some((i) => i.id === bad.id), 'gone from the outbox');
  assert.equal((await s['jobs.cancel']({ jobId: `send-${item.id}` })).state, 'succeeded');
  assert.equal((await s['pacs.outbox']({})).find((i) => i.id === item.id)?.state, 'sent');
});

test('Send study: one SEG per series of the study that has masks, sent together', { timeout: 180_000 }, async () => {
  // A second series in the same study, one slice labelled; a third without masks.
  const r = await s['images.importFiles']({ files: [0, 1].map((i) => ({ name: `second${i}.dcm`, bytes: new Uint8Array(ctSlice(i, 6)) })).concat([{ name: 'third.dcm', bytes: new Uint8Array(ctSlice(0, 7)) }]) });
  const second = r.imported.filter((x) => x.file.startsWith('second')).map((x) => x.imageId);
  const labelId = (await s['labels.list']({})).find((l) => l.name === 'lesion')!.id;
  await s['masks.save']({ imageId: second[1]!, frame: 0, labelId, instance: 1, rle: encodeRle(ellipse(20, 30, 6, 6), H, W), source: 'brush' });
  const dest = (await s['pacs.destinations']({})).find((d) => d.name === 'Orthanc DICOMweb')!;
  const items = await s['pacs.sendStudy']({ imageId: ids[0]!, destinationId: dest.id });
  assert.equal(items.length, 2, 'the two series with masks, not the third');
  const sent = await Promise.all(items.map((i) => until(i, (x) => x.state === 'sent')));
  const there = await inOrthanc(orthanc);
  for (const i of sent) assert.ok(there.includes(i.sopInstanceUid));
  assert.equal(new Set(sent.map((i) => i.sopInstanceUid)).size, 2);
});

test('a PACS that is down: queued, failed with the reason, delivered by the retries once it is up, also across an app restart', { timeout: 240_000 }, async () => {
  const port = await freePort();
  const dest = await s['pacs.saveDestination']({ name: 'Later PACS', kind: 'dimse', aeTitle: 'LATER', host: '127.0.0.1', port, callingAeTitle: 'DELINEATE' });
  const item = await s['pacs.sendSeries']({ imageId: ids[0]!, destinationId: dest.id });
  const failed = await until(item, (i) => i.state === 'failed' && i.attempts >= 1);
  assert.match(failed.lastError ?? '', new RegExp(`nothing listening on 127\\.0\\.0\\.1:${port}`));
  // The app closes with the item still failing; the PACS comes up; the app opens the project again.
  await s.close();
  const later = await startOrthanc({ aeTitle: 'LATER', dicomPort: port });
  try {
    s = services();
    await s['project.open']({ path: path.join(dir, 'proj') });
    const sent = await until(item, (i) => i.state === 'sent', 120_000);
    assert.ok(sent.attempts >= 2);
    assert.ok((await inOrthanc(later)).includes(item.sopInstanceUid), 'delivered after the restart');
  } finally {
    await later.stop();
  }
});
