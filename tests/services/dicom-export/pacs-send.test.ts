/**
 * Sending to a real PACS (issue 11): Orthanc from Debian's packages on loopback. C-ECHO and
 * a QIDO request test the connection; a SEG and its CT series go by C-STORE, a newer SEG
 * version by STOW-RS; Orthanc's REST API shows what arrived (SOP Instance UIDs, the SEG's
 * referenced series) and that a resend made no duplicate. Faults say what failed: a wrong
 * called AE title, nothing listening, wrong DICOMweb credentials.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { encodeRle } from '../../../electron/contract/rle.js';
import type { JobInfo } from '../../../electron/contract/training.js';
import { jobEnded } from '../helpers.js';
import { dicomLock } from '../../../electron/services/dicom-export/export.service.js';
import { sendFiles, testConnection, type PacsDestination } from '../../../electron/services/dicom-export/pacs.node.js';
import { createServices, type Services } from '../../../electron/services/index.js';
import { findPython } from '../../../electron/services/runtime/python-path.node.js';
import { freePort, startOrthanc, type RunningOrthanc } from '../../fixtures/orthanc.js';
import { ctSlice, ellipse, H, ROOT, W } from './sources.js';

let orthanc: RunningOrthanc;
let s: Services;
let dir: string;
let python: string;
let ids: number[];
let labelId: number;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'pacs-send-'));
  [orthanc, python] = await Promise.all([startOrthanc(), findPython({ lock: dicomLock() })]);
  s = createServices({ user: 'Jane Doe', transport: 'browser', version: 'test' });
  await s['project.create']({ path: path.join(dir, 'proj'), name: 'PACS' });
  const report = await s['images.importFiles']({ files: [0, 1, 2].map((i) => ({ name: `ct${i}.dcm`, bytes: new Uint8Array(ctSlice(i)) })) });
  ids = report.imported.map((r) => r.imageId);
  labelId = (await s['labels.list']({})).find((l) => l.name === 'lesion')!.id;
});

after(async () => {
  await s?.close();
  await orthanc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const dimse = (over: Partial<Extract<PacsDestination, { kind: 'dimse' }>> = {}): PacsDestination => ({
  kind: 'dimse', aeTitle: orthanc.aeTitle, host: '127.0.0.1', port: orthanc.dicomPort, callingAeTitle: 'DELINEATE', timeoutS: 10, ...over,
});
const web = (password = orthanc.password): PacsDestination => ({
  kind: 'dicomweb', baseUrl: `http://127.0.0.1:${orthanc.httpPort}/dicom-web`, auth: { kind: 'basic', user: orthanc.user, password }, timeoutS: 10,
});

async function exported(): Promise<NonNullable<JobInfo['exported']>> {
  const j = await jobEnded(s, (await s['export.segStart']({ imageId: ids[0]! })).jobId);
  assert.equal(j.state, 'succeeded', j.error?.message);
  return j.exported!;
}

interface OrthancInstance { ID: string; MainDicomTags: { SOPInstanceUID: string } }
const instances = () => orthanc.rest<OrthancInstance[]>('/instances?expand');

test('test connection: C-ECHO and QIDO-RS answer; a wrong AE title, a closed port and wrong credentials say what failed', { timeout: 120_000 }, async () => {
  assert.match(await testConnection(python, dimse()), /C-ECHO to ORTHANC@127\.0\.0\.1:\d+ answered/);
  assert.match(await testConnection(python, web()), /QIDO-RS at .* answered/);
  await assert.rejects(testConnection(python, dimse({ aeTitle: 'NOT_ORTHANC' })), /rejected the association: its AE title \(called AE title\) is not recognised/);
  const closed = await freePort();
  await assert.rejects(testConnection(python, dimse({ port: closed })), new RegExp(`no DICOM answer \\(nothing listening on 127\\.0\\.0\\.1:${closed}`));
  await assert.rejects(testConnection(python, web('wrong')), /refused the credentials \(HTTP 401\)/);
});

test('C-STORE: a SEG and its series arrive as sent, referencing the series; a resend makes no duplicate', { timeout: 180_000 }, async () => {
  await s['masks.save']({ imageId: ids[1]!, frame: 0, labelId, instance: 1, rle: encodeRle(ellipse(30, 20, 9, 7), H, W), source: 'brush' });
  const seg = await exported();
  // The series as it was imported (the same bytes as the project's media copies), and the SEG.
  mkdirSync(path.join(dir, 'src'));
  const series = [0, 1, 2].map((i) => {
    const f = path.join(dir, 'src', `ct${i}.dcm`);
    writeFileSync(f, ctSlice(i));
    return f;
  });
  const results = await sendFiles(python, dimse(), [path.join(dir, 'proj', seg.file), ...series]);
  assert.ok(results.every((r) => r.ok), JSON.stringify(results));
  const there = await instances();
  const uids = new Set(there.map((i) => i.MainDicomTags.SOPInstanceUID));
  for (const r of results) assert.ok(uids.has(r.sopInstanceUid), `${r.sopInstanceUid} is in Orthanc`);
  assert.ok(uids.has(seg.sopInstanceUid) && uids.has(`${ROOT}.1.1`) && uids.has(`${ROOT}.1.3`));
  const segInOrthanc = there.find((i) => i.MainDicomTags.SOPInstanceUID === seg.sopInstanceUid)!;
  const tags = await orthanc.rest<Record<string, unknown>>(`/instances/${segInOrthanc.ID}/simplified-tags`);
  assert.equal(tags.Modality, 'SEG');
  assert.equal((tags.ReferencedSeriesSequence as { SeriesInstanceUID: string }[])[0]!.SeriesInstanceUID, `${ROOT}.1.1`);
  // Exported again without changes: the same object; sent again: still one copy.
  const again = await exported();
  assert.equal(again.sopInstanceUid, seg.sopInstanceUid);
  await sendFiles(python, dimse(), [path.join(dir, 'proj', again.file)]);
  assert.equal((await instances()).length, there.length, 'a resend made no duplicate');
});

test('STOW-RS: a new SEG version arrives over DICOMweb with basic auth; wrong credentials are refused', { timeout: 180_000 }, async () => {
  await s['masks.save']({ imageId: ids[2]!, frame: 0, labelId, instance: 1, rle: encodeRle(ellipse(40, 25, 8, 8), H, W), source: 'brush' });
  const v2 = await exported();
  assert.equal(v2.version, 2);
  const file = path.join(dir, 'proj', v2.file);
  await assert.rejects(sendFiles(python, web('wrong'), [file]), /refused the credentials \(HTTP 401\)/);
  const [r] = await sendFiles(python, web(), [file]);
  assert.ok(r!.ok, JSON.stringify(r));
  const uids = (await instances()).map((i) => i.MainDicomTags.SOPInstanceUID);
  assert.ok(uids.includes(v2.sopInstanceUid));
  const found = await orthanc.rest<unknown[]>(`/dicom-web/studies?StudyInstanceUID=${ROOT}.1`);
  assert.equal(found.length, 1, 'QIDO finds the study the SEG belongs to');
});

test('STOW-RS to something that is not a STOW-RS service: a redirect is reported, a 200 without the stored list is not "sent"', { timeout: 120_000 }, async () => {
  const { createServer } = await import('node:http');
  let authSeenAfterRedirect = false;
  const srv = createServer((req, res) => {
    req.resume();
    if (req.url?.startsWith('/redirect/')) {
      res.writeHead(302, { Location: 'http://127.0.0.1:9/elsewhere' }).end();
    } else if (req.url?.startsWith('/elsewhere')) {
      authSeenAfterRedirect = !!req.headers.authorization;
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('[]');
    } else {
      res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html>Please log in</html>'); // a login page
    }
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as import('node:net').AddressInfo).port;
  try {
    const seg = await exported();
    const file = path.join(dir, 'proj', seg.file);
    const at = (p: string): PacsDestination => ({ kind: 'dicomweb', baseUrl: `http://127.0.0.1:${port}/${p}`, auth: { kind: 'basic', user: 'u', password: 'secret' }, timeoutS: 10 });
    await assert.rejects(sendFiles(python, at('redirect'), [file]), /redirects \(HTTP 302\) to http:\/\/127\.0\.0\.1:9\/elsewhere: put that address in the destination/);
    assert.equal(authSeenAfterRedirect, false, 'the credentials did not follow the redirect');
    const [r] = await sendFiles(python, at('login'), [file]);
    assert.equal(r!.ok, false);
    assert.match(r!.error ?? '', /not listed as stored in the response/);
  } finally {
    srv.close();
  }
});
