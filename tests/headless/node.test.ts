/**
 * The headless DICOM node (issue 12) against a real Orthanc on loopback, with the node
 * registered in it as a modality: Orthanc receives CT series (C-STORE from a "modality") and
 * forwards them to the node, which segments each complete series with no prompt, using a tiny
 * SAM the runtime's training loop fine-tuned on the lesion phantom (packaged by the app's
 * package writer), and sends a DICOM SEG back into Orthanc.
 *
 *  1. the SEG in Orthanc passes dciodvfy, says AUTOMATIC with the package's name, version and
 *     hash, and its masks reach Dice >= 0.7 against the known lesions; that SEG sent back to
 *     the node (a PACS routing everything) is skipped as not an image; imported into the app
 *     with its series, its masks are drafts to review, labels only once accepted;
 *  2. a node SIGKILLed while a series arrives, and one SIGKILLed while it processes a series,
 *     lose nothing once restarted, and each series has exactly one SEG in Orthanc;
 *  3. a tampered package and one of an unknown newer version are refused at start, by name;
 *     an MR series and a series of 32 x 32 images are skipped with a log line saying why, and
 *     the node keeps serving;
 *  4. 20 series sent in a burst are all processed, and the token-protected metrics show them;
 *  5. a second node sending by STOW-RS (Orthanc's DICOMweb, basic auth) instead of C-STORE,
 *     which stops gracefully on SIGTERM.
 *
 * One Orthanc and one node (2 workers) serve all tests; each test sends series of its own.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { PackageManifest } from '../../electron/contract/model-package.js';
import { dicomLock } from '../../electron/services/dicom-export/export.service.js';
import { createServices, PROJECT_DB } from '../../electron/services/index.js';
import { MasksRepository } from '../../electron/services/store/masks.repository.js';
import Database from 'better-sqlite3';
import { findPython } from '../../electron/services/runtime/python-path.node.js';
import { startOrthanc, type RunningOrthanc } from '../fixtures/orthanc.js';
import { lesionAutoBundle } from './lesion-model.js';
import {
  algorithmParameters,
  cStore,
  NODE_AE,
  dciodvfyErrors,
  diceAgainst,
  forwardToNode,
  freePort,
  NodeProcess,
  orthancConfigFor,
  readSeg,
  saveOrthancFile,
  segsInOrthanc,
  storeIntoOrthanc,
  TOKEN,
  waitForSeg,
  writeTestPackage,
  type LogEvent,
} from './node-harness.js';
import { writeSeries } from './series-fixture.js';

let root: string;
let python: string;
let orthanc: RunningOrthanc;
let node: NodeProcess;
let nodePort: number;
let pkg: { folder: string; archive: string; manifest: PackageManifest };
let pkgSha: string;
const state = () => path.join(root, 'state');

function startNode(): NodeProcess {
  return new NodeProcess({ pkg: pkg.archive, state: state(), port: nodePort, orthanc, workers: 2, idle: 2, httpPort: 0 });
}

before(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'dicom-node-'));
  const bundle = lesionAutoBundle();
  pkg = await writeTestPackage(bundle, path.join(root, 'packages'));
  const { createHash } = await import('node:crypto');
  pkgSha = createHash('sha256').update(readFileSync(path.join(pkg.folder, 'delineate-package.json'))).digest('hex');
  python = await findPython({ lock: dicomLock() });
  nodePort = await freePort();
  orthanc = await startOrthanc({ config: orthancConfigFor(nodePort) });
  node = startNode();
  await node.ready();
});

after(async () => {
  await node?.kill('SIGTERM');
  await orthanc?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

const forSeries = (uid: string, event: string) => (e: LogEvent) => e.event === event && e.series === uid;

test('a CT series routed by Orthanc comes back as a valid AUTOMATIC SEG with Dice >= 0.7', { timeout: 300_000 }, async () => {
  const series = writeSeries(root, 1, 6);
  await storeIntoOrthanc(python, orthanc, series.files);
  await forwardToNode(orthanc, series.seriesUid);
  const segId = await waitForSeg(orthanc, series.studyUid);
  const file = await saveOrthancFile(orthanc, segId, path.join(root, 'seg1.dcm'));
  assert.deepEqual(dciodvfyErrors(file), [], 'dciodvfy errors');
  const seg = readSeg(python, file);
  assert.deepEqual(seg.referenced_series, [series.seriesUid]);
  assert.equal(seg.segments.length, 1);
  const s = seg.segments[0]!;
  assert.equal(s.algorithm_type, 'AUTOMATIC');
  assert.equal(s.algorithm_name, 'Lesion auto');
  assert.equal(s.algorithm_version, 'test-1');
  assert.equal(s.label, 'lesion');
  assert.match(algorithmParameters(python, file), new RegExp(`package_sha256=${pkgSha}`));
  const dice = diceAgainst(seg, series);
  assert.ok(dice >= 0.7, `Dice ${dice.toFixed(3)} against the known lesions`);
  process.stderr.write(`SEG from Orthanc: Dice ${dice.toFixed(3)} against the phantom's lesions\n`);
  const done = node.events().filter(forSeries(series.seriesUid, 'series_done'));
  assert.equal(done.length, 1);
  assert.equal(done[0]!.seg_sop, seg.sop_instance_uid);

  // A PACS that routes everything sends the node its own SEG: acknowledged, never segmented.
  await cStore(python, { aeTitle: NODE_AE, port: nodePort }, [file]);
  const back = await node.waitFor((e) => e.event === 'instance_received' && e.sop === seg.sop_instance_uid, 30_000, 'the SEG received');
  const skipped = await node.waitFor(forSeries(String(back.series), 'series_skipped'), 30_000, 'the SEG series skipped');
  assert.match(String(skipped.reason), /is a Segmentation \(1\.2\.840\.10008\.5\.1\.4\.1\.1\.66\.4\), not an image/);
  assert.equal((await segsInOrthanc(orthanc, series.studyUid)).length, 1, 'no SEG of the SEG');

  // In the app: the series and the node's SEG imported, its masks are drafts to review, not
  // labels; accepted (or edited) they train the next retrain, still marked automatic until edited.
  const app = createServices({ user: 'radiologist', transport: 'browser', version: 'test' });
  try {
    await app['project.create']({ path: path.join(root, 'review-project'), name: 'Review' });
    const imported = await app['images.importPaths']({ paths: [...series.files, file] });
    const attach = imported.segmentations![0]!;
    assert.deepEqual([attach.outcome, attach.source], ['attached', 'automatic']);
    const first = imported.imported[0]!.imageId;
    const drafted = await app['segments.drafts']({ imageId: first });
    assert.equal(drafted.length, attach.written, 'every mask of the SEG is a draft');
    assert.ok(drafted.length > 0 && drafted.every((d) => d.source === 'automatic'));
    const db = () => new Database(path.join(root, 'review-project', PROJECT_DB), { readonly: true });
    const trainingRows = () => {
      const d = db();
      try {
        return new MasksRepository(d).forTraining().length;
      } finally {
        d.close();
      }
    };
    assert.equal(trainingRows(), 0, "the node's unreviewed output is not a label");
    const { labelId, instance } = drafted[0]!;
    assert.equal((await app['segments.acceptDrafts']({ imageId: first, labelId, instance })).accepted, drafted.length);
    assert.equal(trainingRows(), drafted.length, 'reviewed, they are labels');
    const segs = await app['segments.list']({ imageId: first });
    assert.equal(segs.segments.find((g) => g.labelId === labelId && g.instance === instance)?.origin, 'automatic', 'accepted unchanged: still automatic');
  } finally {
    await app.close();
  }
});

test('SIGKILL while a series arrives and while one is processed: nothing lost, one SEG each', { timeout: 300_000 }, async () => {
  // (a) Killed half-way through receiving: the first half was acknowledged, so it must be kept.
  const a = writeSeries(root, 2, 8);
  await storeIntoOrthanc(python, orthanc, a.files);
  const sops = [...a.truth.keys()];
  await forwardToNode(orthanc, a.seriesUid, sops.slice(0, 4));
  await node.waitFor(() => node.events().filter(forSeries(a.seriesUid, 'instance_received')).length >= 4, 30_000, '4 instances received');
  await node.kill('SIGKILL');
  node = startNode();
  await node.ready();
  await forwardToNode(orthanc, a.seriesUid, sops.slice(4));
  await node.waitFor(forSeries(a.seriesUid, 'series_done'), 120_000, `series ${a.seriesUid} done`);

  // (b) Killed while processing: the series is queued again at restart and done once.
  const b = writeSeries(root, 3, 6);
  await storeIntoOrthanc(python, orthanc, b.files);
  await forwardToNode(orthanc, b.seriesUid);
  await node.waitFor(forSeries(b.seriesUid, 'series_started'), 60_000, `series ${b.seriesUid} started`);
  await node.kill('SIGKILL');
  const doneBeforeKill = node.events().filter(forSeries(b.seriesUid, 'series_done')).length;
  node = startNode();
  await node.ready();
  assert.ok(node.events().some(forSeries(b.seriesUid, 'series_requeued')), 'the interrupted series is queued again at start');
  await node.waitFor(forSeries(b.seriesUid, 'series_done'), 120_000, `series ${b.seriesUid} done`);

  for (const [s, n] of [[a, 8], [b, 6]] as const) {
    await waitForSeg(orthanc, s.studyUid);
    const segs = await segsInOrthanc(orthanc, s.studyUid);
    assert.equal(segs.length, 1, `one SEG in Orthanc for ${s.seriesUid}`);
    const seg = readSeg(python, await saveOrthancFile(orthanc, segs[0]!, path.join(root, `seg-${n}.dcm`)));
    assert.deepEqual(new Set(seg.frames.map((f) => f.sop)), new Set(s.truth.keys()), 'every instance is in the SEG: nothing was lost');
    assert.ok(diceAgainst(seg, s) >= 0.7);
  }
  assert.equal(node.events().filter(forSeries(a.seriesUid, 'series_done')).length, 1, 'series a processed once');
  // The log spans both processes: the killed run never finished the series, the restarted one did, once.
  assert.equal(doneBeforeKill, 0);
  assert.equal(node.events().filter(forSeries(b.seriesUid, 'series_done')).length, 1, 'series b processed once');
});

test('refused: a tampered package, an unknown package version; skipped: an MR series, 32 x 32 images; the node keeps serving', { timeout: 300_000 }, async () => {
  const tampered = path.join(root, 'tampered', path.basename(pkg.folder));
  cpSync(pkg.folder, tampered, { recursive: true });
  appendFileSync(path.join(tampered, 'model', 'decoder.onnx'), Buffer.from([0]));
  const newer = path.join(root, 'newer', path.basename(pkg.folder));
  cpSync(pkg.folder, newer, { recursive: true });
  const m = JSON.parse(readFileSync(path.join(newer, 'delineate-package.json'), 'utf8')) as PackageManifest;
  writeFileSync(path.join(newer, 'delineate-package.json'), JSON.stringify({ ...m, package_version: 99 }));
  for (const [where, why] of [[tampered, /model\/decoder\.onnx: does not match the package's hash/], [newer, /package version 99 is newer than this Delineate reads/]] as const) {
    const p = new NodeProcess({ pkg: where, state: path.join(root, `state-${path.basename(path.dirname(where))}`), port: await freePort(), orthanc });
    assert.equal(await p.exited, 2, 'exit code 2: refused');
    const refused = p.events().find((e) => e.event === 'package_refused');
    assert.ok(refused, `a package_refused line: ${p.log}`);
    assert.match(String(refused.message), why);
    assert.ok(!p.events().some((e) => e.event === 'listening'), 'a refused package is never served');
  }

  const mr = writeSeries(root, 4, 3, { kind: 'mr' });
  const small = writeSeries(root, 5, 3, { kind: 'small' });
  for (const s of [mr, small]) {
    await storeIntoOrthanc(python, orthanc, s.files);
    await forwardToNode(orthanc, s.seriesUid);
  }
  const skippedMr = await node.waitFor(forSeries(mr.seriesUid, 'series_skipped'), 60_000, 'the MR series skipped');
  assert.match(String(skippedMr.reason), /modality MR: this package segments CT images/);
  const skippedSmall = await node.waitFor(forSeries(small.seriesUid, 'series_skipped'), 60_000, 'the 32 x 32 series skipped');
  assert.match(String(skippedSmall.reason), /images of 32 x 32: rows outside the accepted 64-4096/);
  for (const s of [mr, small]) assert.deepEqual(await segsInOrthanc(orthanc, s.studyUid), [], 'no SEG for a skipped series');

  // Still serving: a good series afterwards gets its SEG.
  const good = writeSeries(root, 6, 3);
  await storeIntoOrthanc(python, orthanc, good.files);
  await forwardToNode(orthanc, good.seriesUid);
  await waitForSeg(orthanc, good.studyUid);
  assert.equal(node.child.exitCode, null, 'the node is still running');
});

test('load: 20 series in a burst are all processed; the metrics endpoint shows them, with its token only', { timeout: 600_000 }, async () => {
  const burst = Array.from({ length: 20 }, (_, i) => writeSeries(root, 100 + i, 2));
  await storeIntoOrthanc(python, orthanc, burst.flatMap((s) => s.files));
  const t0 = Date.now();
  await Promise.all(burst.map((s) => forwardToNode(orthanc, s.seriesUid)));
  const uids = new Set(burst.map((s) => s.seriesUid));
  await node.waitFor(() => node.events().filter((e) => e.event === 'series_done' && uids.has(String(e.series))).length === 20, 400_000, '20 series done');
  const seconds = (Date.now() - t0) / 1000;
  for (const s of burst) assert.equal((await segsInOrthanc(orthanc, s.studyUid)).length, 1, `one SEG for ${s.seriesUid}`);

  const httpPort = Number(node.events().filter((e) => e.event === 'http_listening').at(-1)!.port);
  const url = `http://127.0.0.1:${httpPort}/metrics`;
  assert.equal((await fetch(url)).status, 401, 'no token, no metrics');
  assert.equal((await fetch(url, { headers: { Authorization: 'Bearer wrong-token-0123456789' } })).status, 401);
  const metrics = (await (await fetch(url, { headers: { Authorization: `Bearer ${TOKEN}` } })).json()) as {
    queue_length: number;
    series: { processed: number; failed: number };
    latency_s: { count: number; p50: number | null };
    processed_series: { series_uid: string; latency_s: number | null }[];
  };
  const listed = metrics.processed_series.filter((p) => uids.has(p.series_uid));
  assert.equal(listed.length, 20, 'every burst series in the metrics');
  assert.ok(listed.every((p) => typeof p.latency_s === 'number' && p.latency_s > 0), 'a latency per series');
  assert.ok(metrics.series.processed >= 20);
  assert.equal(metrics.queue_length, 0);
  assert.equal(metrics.series.failed, 0);
  const health = (await (await fetch(`http://127.0.0.1:${httpPort}/health`, { headers: { Authorization: `Bearer ${TOKEN}` } })).json()) as { ok: boolean };
  assert.equal(health.ok, true);
  process.stderr.write(`load: 20 series of 2 slices in ${seconds.toFixed(1)} s, latency p50 ${metrics.latency_s.p50} s\n`);
});

test('STOW-RS: a node whose destination is a DICOMweb base URL stores its SEG there', { timeout: 300_000 }, async () => {
  const port = await freePort();
  const stow = new NodeProcess({
    pkg: pkg.folder,
    state: path.join(root, 'state-stow'),
    port,
    orthanc,
    ae: 'DLSTOW',
    sendTo: `http://127.0.0.1:${orthanc.httpPort}/dicom-web/`,
    extra: ['--dicomweb-user', orthanc.user],
    env: { DELINEATE_NODE_DICOMWEB_PASSWORD: orthanc.password },
  });
  try {
    await stow.ready();
    const s = writeSeries(root, 7, 3);
    // Straight to the node this time, as a modality or a PACS routing rule would send it.
    await cStore(python, { aeTitle: 'DLSTOW', port }, s.files);
    const done = await stow.waitFor(forSeries(s.seriesUid, 'series_done'), 120_000, 'the series done');
    assert.equal(done.sent_to, `http://127.0.0.1:${orthanc.httpPort}/dicom-web`);
    const segId = await waitForSeg(orthanc, s.studyUid);
    const seg = readSeg(python, await saveOrthancFile(orthanc, segId, path.join(root, 'seg-stow.dcm')));
    assert.equal(seg.sop_instance_uid, done.seg_sop);
    assert.ok(diceAgainst(seg, s) >= 0.7);
    // SIGTERM: a graceful stop, exit code 0.
    assert.equal(await stow.kill('SIGTERM'), 0);
    assert.ok(stow.events().some((e) => e.event === 'stopped'), 'a stopped line');
  } finally {
    await stow.kill('SIGKILL');
  }
});
