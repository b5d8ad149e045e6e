/**
 * Folder imports as jobs (images.importStart): progress through jobs.get, Cancel through
 * jobs.cancel (what was read is stored, the rest counted as cancelled), an import that was
 * running when the project closed reads as interrupted, and re-importing finishes the rest.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { JobInfo } from '../../electron/contract/training.js';
import { JobsRepository } from '../../electron/services/jobs/jobs.repository.js';
import { createServices, PROJECT_DB, type Services } from '../../electron/services/index.js';
import { openProjectDatabase } from '../../electron/services/store/project-database.js';
import { generateBenchSeries } from '../fixtures/generate-corpus.js';
import { removeDir, tempDir } from './helpers.js';

let root: string;
let series: string;
let s: Services;
const N = 600;

before(() => {
  root = tempDir('import-jobs');
  series = path.join(root, 'series');
  generateBenchSeries(series, N, 256);
  s = createServices({ user: 'tester', transport: 'browser', version: 'test' });
});
after(async () => {
  await s.close();
  removeDir(root);
});

async function until(jobId: string, done: (j: JobInfo) => boolean, ms = 60_000): Promise<JobInfo[]> {
  const seen: JobInfo[] = [];
  const t0 = Date.now();
  for (;;) {
    const j = await s['jobs.get']({ jobId });
    seen.push(j);
    if (done(j)) return seen;
    assert.ok(Date.now() - t0 < ms, `job ${jobId} still ${j.state} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a folder import runs as a job: progress by files, the report at the end, listed with the other jobs', { timeout: 120_000 }, async () => {
  await s['project.create']({ path: path.join(root, 'p1') });
  const { jobId } = await s['images.importStart']({ paths: [series] });
  const seen = await until(jobId, (j) => j.state !== 'running');
  const last = seen.at(-1)!;
  assert.equal(last.kind, 'import');
  assert.equal(last.state, 'succeeded');
  assert.equal(last.steps, N);
  assert.equal(last.importReport!.imported.length, N);
  assert.equal(last.importReport!.cancelled, 0);
  assert.equal(last.resumable, false);
  assert.ok(seen.some((j) => j.state === 'running' && (j.step ?? 0) > 0 && (j.step ?? 0) < N), 'progress was visible while it ran');
  assert.equal((await s['images.list']({})).length, N);
  assert.ok((await s['jobs.list']({})).some((j) => j.id === jobId && j.kind === 'import'));
  await s['project.close']({});
});

test('Cancel stops an import after the current file; what was read is stored; importing again finishes it', { timeout: 120_000 }, async () => {
  await s['project.create']({ path: path.join(root, 'p2') });
  const { jobId } = await s['images.importStart']({ paths: [series] });
  await until(jobId, (j) => (j.step ?? 0) >= 1 || j.state !== 'running');
  const asked = await s['jobs.cancel']({ jobId });
  assert.ok(asked.state === 'cancelling' || asked.state === 'succeeded', asked.state);
  const end = (await until(jobId, (j) => j.state !== 'running' && j.state !== 'cancelling')).at(-1)!;
  assert.equal(end.state, 'cancelled');
  const r = end.importReport!;
  assert.ok(r.cancelled > 0 && r.imported.length > 0, `${r.imported.length} imported, ${r.cancelled} cancelled`);
  assert.equal(r.imported.length + r.duplicates.length + r.failed.length + r.cancelled, N, 'every file accounted for');
  assert.match(end.detail, /not imported \(cancelled\)/);
  assert.equal((await s['images.list']({})).length, r.imported.length, 'the database holds exactly what the report says');
  const again = await s['images.importPaths']({ paths: [series] });
  assert.equal(again.duplicates.length, r.imported.length);
  assert.equal(again.imported.length, N - r.imported.length);
  await s['project.close']({});
});

test('an import running when its project closes reads as interrupted when the project opens again', { timeout: 120_000 }, async () => {
  const dir = path.join(root, 'p3');
  await s['project.create']({ path: dir });
  const { jobId } = await s['images.importStart']({ paths: [series] });
  await until(jobId, (j) => (j.step ?? 0) >= 5 || j.state !== 'running');
  await s['project.close']({});
  await new Promise((r) => setTimeout(r, 300));
  await s['project.open']({ path: dir });
  const j = await s['jobs.get']({ jobId });
  assert.ok(j.state === 'interrupted' || j.state === 'succeeded', j.state);
  if (j.state === 'interrupted') assert.match(j.error?.message ?? '', /import the folder again/);
  const stored = (await s['images.list']({})).length;
  assert.ok(stored < N || j.state === 'succeeded');
  await s['project.close']({});
});

test('a PACS retrieval and a folder import cut short by a close each say how to finish', async () => {
  const dir = path.join(root, 'interrupted');
  const p = { s: createServices({ user: 'tester', transport: 'browser', version: 'test' }), dir };
  p.s['project.create']({ path: dir });
  p.s['project.close']({});
  const db = openProjectDatabase(path.join(p.dir, PROJECT_DB), { create: false });
  const jobs = new JobsRepository(db, () => new Date().toISOString());
  jobs.createImport({ id: 'import-a', paths: ['/data/ct'], author: 'tester' });
  jobs.createRetrieve({ id: 'import-b', destinationId: 'pacs', studyUids: ['1.2.3'], author: 'tester' });
  db.close();
  p.s['project.open']({ path: p.dir });
  const byId = new Map((await p.s['jobs.list']({})).map((j) => [j.id, j]));
  assert.equal(byId.get('import-a')!.state, 'interrupted');
  assert.match(byId.get('import-a')!.error!.message, /import the folder again/);
  assert.equal(byId.get('import-b')!.state, 'interrupted');
  assert.match(byId.get('import-b')!.error!.message, /^The retrieval stopped .* retrieve the studies again/);
  await p.s.close();
});
