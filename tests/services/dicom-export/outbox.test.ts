/**
 * The PACS outbox (issue 11) through createServices, against real Orthanc instances:
 * destinations kept in the app's settings (secrets never listed), "Test connection", Send
 * series -> queued -> sent, the SEG with the measurement report (SR) that refers to it; a PACS
 * that is down -> failed with the reason, then delivered by the retries once it is up; a
 * rejected AE title says why; an item survives an app restart.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { ApiError } from '../../../electron/contract/api.js';
import type { OutboxItem } from '../../../electron/contract/pacs.js';
import { encodeRle } from '../../../electron/contract/rle.js';
import { createServices, type Services } from '../../../electron/services/index.js';
import { exportDepsFor } from '../../../electron/services/dicom-export/export-writer.node.js';
import { exportSegWithSr } from '../../../electron/services/dicom-export/sr-export.node.js';
import type { SegmentMeasurement } from '../../../electron/contract/measurements.js';
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

/** Every ReferencedSOPInstanceUID anywhere in a simplified-tags tree (sequences are arrays). */
function referenced(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) for (const x of v) referenced(x, out);
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k === 'ReferencedSOPInstanceUID' && typeof x === 'string') out.push(x);
      else referenced(x, out);
    }
  }
  return out;
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

test('Send series: the SEG and its measurement report exported, queued, sent; Orthanc has both, the report referring to that SEG; sending again makes no duplicate', { timeout: 180_000 }, async () => {
  const dest = (await s['pacs.destinations']({})).find((d) => d.name === 'Orthanc DIMSE')!;
  const [item, report, ...more] = await s['pacs.sendSeries']({ imageId: ids[0]!, destinationId: dest.id });
  assert.ok(item && report && more.length === 0, 'two items: the SEG, then its report');
  assert.match(item.description, /^SEG v1/);
  assert.match(report.description, /^Measurement report \(SR v1\)( of .+)?: 1 segment, refers to SEG v1$/);
  assert.deepEqual([item.afterId, report.afterId], [null, item.id], 'the report waits for its SEG');
  const sent = await until(item, (i) => i.state === 'sent');
  assert.equal(sent.attempts, 1);
  assert.ok(sent.sentAt);
  assert.equal((await until(report, (i) => i.state === 'sent')).attempts, 1);
  assert.ok((await inOrthanc(orthanc)).includes(item.sopInstanceUid));
  // The report arrived as a Comprehensive 3D SR (TID 1500) whose findings and evidence name the SEG sent with it.
  const sr = (await orthanc.rest<{ ID: string; MainDicomTags: { SOPInstanceUID: string } }[]>('/instances?expand')).find((i) => i.MainDicomTags.SOPInstanceUID === report.sopInstanceUid);
  assert.ok(sr, 'the measurement report is in Orthanc');
  const tags = await orthanc.rest<{ SOPClassUID: string; Modality: string; ContentSequence: unknown; CurrentRequestedProcedureEvidenceSequence: unknown }>(`/instances/${sr.ID}/simplified-tags`);
  assert.equal(tags.SOPClassUID, '1.2.840.10008.5.1.4.1.1.88.34');
  assert.equal(tags.Modality, 'SR');
  assert.ok(referenced(tags.ContentSequence).includes(item.sopInstanceUid), 'a finding refers to a segment of the SEG sent');
  assert.ok(referenced(tags.CurrentRequestedProcedureEvidenceSequence).includes(item.sopInstanceUid), 'the SEG is in its evidence');
  const before = (await inOrthanc(orthanc)).length;
  const again = await s['pacs.sendSeries']({ imageId: ids[2]!, destinationId: dest.id });
  assert.deepEqual(again.map((i) => i.id), [item.id, report.id], 'the same objects to the same destination keep their outbox rows');
  await Promise.all(again.map((x) => until(x, (i) => i.state === 'sent' && i.attempts === 2)));
  assert.equal((await inOrthanc(orthanc)).length, before, 'no duplicate in the PACS');
  // Over DICOMweb too.
  const web = (await s['pacs.destinations']({})).find((d) => d.kind === 'dicomweb')!;
  const viaWeb = await s['pacs.sendSeries']({ imageId: ids[0]!, destinationId: web.id });
  assert.equal(viaWeb.length, 2);
  for (const x of viaWeb) assert.equal((await until(x, (i) => i.state === 'sent')).lastError, null);
  // A rejected association fails with its reason.
  const wrong = (await s['pacs.destinations']({})).find((d) => d.name === 'Wrong AE')!;
  const [badSeg, badReport] = await s['pacs.sendSeries']({ imageId: ids[0]!, destinationId: wrong.id });
  const bad = await until(badSeg!, (i) => i.state === 'failed');
  assert.match(bad.lastError ?? '', /rejected the association/);
  assert.ok(bad.nextAttemptAt, 'it will be tried again');
  const waiting = (await s['pacs.outbox']({})).find((i) => i.id === badReport!.id)!;
  assert.deepEqual([waiting.state, waiting.attempts], ['queued', 0], 'the report is never sent to a PACS that has not stored its SEG');

  // Each send is a job too: listed, its state following the outbox item's.
  const jobs = await s['jobs.list']({});
  const job = (id: number) => jobs.find((j) => j.id === `send-${id}`)!;
  assert.equal(job(item.id).kind, 'send');
  assert.equal(job(item.id).state, 'succeeded');
  assert.match(job(item.id).detail, /^Sent SEG v1( of .+)? to Orthanc DIMSE$/);
  assert.match(job(report.id).detail, /^Sent Measurement report \(SR v1\)( of .+)?: 1 segment, refers to SEG v1 to Orthanc DIMSE$/);
  assert.deepEqual([job(bad.id).state, job(bad.id).stage], ['running', 'waiting'], 'a failed send with a retry time is still under way');
  assert.match(job(bad.id).detail, /rejected the association.*trying again at/);
  // Cancelling it takes it out of the outbox; a sent one's job has ended and stays as it was.
  // (It keeps being retried: a cancel that lands during an attempt is refused, said so, and tried again.)
  const cancel = async (id: number) => {
    let cancelled: Awaited<ReturnType<Services['jobs.cancel']>> | null = null;
    for (let k = 0; k < 100 && !cancelled; k++) {
      cancelled = await Promise.resolve(s['jobs.cancel']({ jobId: `send-${id}` })).catch((e: unknown) => {
        if (!(e instanceof ApiError && /is being sent to Wrong AE right now/.test(e.message))) throw e;
        return new Promise<null>((r) => setTimeout(() => r(null), 50));
      });
    }
    assert.ok(cancelled);
    return cancelled;
  };
  const cancelled = await cancel(bad.id);
  assert.equal(cancelled.state, 'cancelled');
  assert.match(cancelled.detail, /^Not sent: SEG v1( of .+)? was taken out of the outbox for Wrong AE$/);
  const reportJob = (await s['jobs.list']({})).find((j) => j.id === `send-${badReport!.id}`)!;
  assert.equal(reportJob.state, 'cancelled', 'its report is taken out with it');
  assert.match(reportJob.detail, /^Not sent: Measurement report .* was taken out of the outbox for Wrong AE with SEG v1/);
  assert.ok(!(await s['pacs.outbox']({})).some((i) => i.id === bad.id || i.id === badReport!.id), 'gone from the outbox');
  assert.equal((await s['jobs.cancel']({ jobId: `send-${item.id}` })).state, 'succeeded');
  assert.equal((await s['pacs.outbox']({})).find((i) => i.id === item.id)?.state, 'sent');
});

test('Send study: one SEG (and its measurement report) per series of the study that has masks, sent together', { timeout: 180_000 }, async () => {
  // A second series in the same study, one slice labelled; a third without masks.
  const r = await s['images.importFiles']({ files: [0, 1].map((i) => ({ name: `second${i}.dcm`, bytes: new Uint8Array(ctSlice(i, 6)) })).concat([{ name: 'third.dcm', bytes: new Uint8Array(ctSlice(0, 7)) }]) });
  const second = r.imported.filter((x) => x.file.startsWith('second')).map((x) => x.imageId);
  const labelId = (await s['labels.list']({})).find((l) => l.name === 'lesion')!.id;
  await s['masks.save']({ imageId: second[1]!, frame: 0, labelId, instance: 1, rle: encodeRle(ellipse(20, 30, 6, 6), H, W), source: 'brush' });
  const dest = (await s['pacs.destinations']({})).find((d) => d.name === 'Orthanc DICOMweb')!;
  const items = await s['pacs.sendStudy']({ imageId: ids[0]!, destinationId: dest.id });
  assert.deepEqual(
    items.map((i) => i.description.replace(/( of [^:]*)?(: .*)?$/, '')),
    ['SEG v1', 'Measurement report (SR v1)', 'SEG v1', 'Measurement report (SR v1)'],
    'the two series with masks, not the third: each SEG followed by its report',
  );
  const sent = await Promise.all(items.map((i) => until(i, (x) => x.state === 'sent')));
  const there = await inOrthanc(orthanc);
  for (const i of sent) assert.ok(there.includes(i.sopInstanceUid));
  assert.equal(new Set(sent.map((i) => i.sopInstanceUid)).size, 4);
});

test('a series with nothing to measure in mm gets its SEG alone, and nothing fails', { timeout: 60_000 }, async () => {
  // What a send does per series, with the figures stubbed: none, or in pixels (no Pixel Spacing).
  const proj = path.join(dir, 'proj');
  const db = new Database(path.join(proj, 'project.sqlite'));
  try {
    const deps = exportDepsFor({ dir: proj, db }, { user: 'Jane Doe', appVersion: 'test' }, () => Promise.reject(new Error('the recorded SEG is reused: no Python')));
    const srs = () => db.prepare("SELECT COUNT(*) FROM exports WHERE kind = 'sr'").pluck().get();
    const before = srs();
    const sent = (await s['pacs.outbox']({})).find((i) => i.description.startsWith('SEG v1') && i.destinationName === 'Orthanc DIMSE')!;
    const none = await exportSegWithSr(ids[0]!, { ...deps, measure: async () => [] });
    assert.deepEqual([none.sr, none.seg.sopInstanceUid], [null, sent.sopInstanceUid]);
    assert.match(none.why ?? '', /no accepted masks to measure/);
    const inPixels = { unit: 'px' } as unknown as SegmentMeasurement;
    const px = await exportSegWithSr(ids[0]!, { ...deps, measure: async () => [inPixels] });
    assert.equal(px.sr, null);
    assert.match(px.why ?? '', /no Pixel Spacing/);
    assert.equal(srs(), before, 'no report written');
    // A report that cannot be written does not hold the SEG back: it goes alone, and says why.
    const broken = await exportSegWithSr(ids[0]!, { ...deps, measure: async () => Promise.reject(new Error('disk on fire')) });
    assert.deepEqual([broken.sr, broken.srFailed, broken.seg.sopInstanceUid], [null, true, sent.sopInstanceUid]);
    assert.match(broken.why ?? '', /measurement report was not written: disk on fire/);
  } finally {
    db.close();
  }
});

test('a PACS that is down: queued, failed with the reason, delivered by the retries once it is up, also across an app restart', { timeout: 240_000 }, async () => {
  const port = await freePort();
  const dest = await s['pacs.saveDestination']({ name: 'Later PACS', kind: 'dimse', aeTitle: 'LATER', host: '127.0.0.1', port, callingAeTitle: 'DELINEATE' });
  const [item, report] = await s['pacs.sendSeries']({ imageId: ids[0]!, destinationId: dest.id });
  const failed = await until(item!, (i) => i.state === 'failed' && i.attempts >= 1);
  assert.match(failed.lastError ?? '', new RegExp(`nothing listening on 127\\.0\\.0\\.1:${port}`));
  // The app closes with the item still failing; the PACS comes up; the app opens the project again.
  await s.close();
  const later = await startOrthanc({ aeTitle: 'LATER', dicomPort: port });
  try {
    s = services();
    await s['project.open']({ path: path.join(dir, 'proj') });
    const sent = await until(item!, (i) => i.state === 'sent', 120_000);
    assert.ok(sent.attempts >= 2);
    await until(report!, (i) => i.state === 'sent', 120_000);
    assert.ok((await inOrthanc(later)).includes(item!.sopInstanceUid), 'delivered after the restart');
    assert.ok((await inOrthanc(later)).includes(report!.sopInstanceUid), 'its report too');
  } finally {
    await later.stop();
  }
});
