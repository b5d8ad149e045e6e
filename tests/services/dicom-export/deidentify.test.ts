/**
 * The de-identified copy (issue 11): PS3.15 Basic Application Level Confidentiality Profile,
 * through createServices as the app calls it (export.deidentifiedStart, a job), on a CT study
 * full of identifying data (patient name/ID/birth date, institution, physicians, operators,
 * station, serial number, descriptions, comments, nested sequences, a private block) made by
 * deid_check.py. The copy of a series and of the whole study is checked by deid_check.py:
 * no element the profile lists as D/Z/X (or a combination) keeps its original value at any
 * depth, no identifying text or original UID is left anywhere in the bytes, UIDs are mapped
 * the same way across files (and across two copies), and each SEG's references (series,
 * instances, every frame's source image) lead to the copied images. Every copy passes
 * dciodvfy with 0 errors. An image marked BurnedInAnnotation YES is refused by name.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { methods } from '../../../electron/contract/api.js';
import { encodeRle } from '../../../electron/contract/rle.js';
import { dicomLock } from '../../../electron/services/dicom-export/export.service.js';
import { createServices, type Services } from '../../../electron/services/index.js';
import { findPython, runtimeEnv } from '../../../electron/services/runtime/python-path.node.js';
import { jobEnded } from '../helpers.js';
import { ellipse } from './sources.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const W = 64;
const H = 48;
let s: Services;
let dir: string;
let python: string;
let sources: string[];
let ids: Record<string, number>;

const helper = (...args: string[]) =>
  execFileSync(python, [path.join(here, 'deid_check.py'), ...args], { env: { ...process.env, ...runtimeEnv() }, encoding: 'utf8', maxBuffer: 1 << 24 }).trim().split('\n').at(-1)!;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'deidentify-'));
  python = await findPython({ lock: dicomLock() });
  sources = JSON.parse(helper('make', path.join(dir, 'src'))) as string[];
  s = createServices({ user: 'Jane Doe', transport: 'browser', version: 'test', configDir: path.join(dir, 'config') });
  await s['project.create']({ path: path.join(dir, 'proj'), name: 'Deid' });
  const report = await s['images.importFiles']({ files: sources.map((f) => ({ name: path.basename(f), bytes: new Uint8Array(readFileSync(f)) })) });
  assert.equal(report.imported.length, sources.length, JSON.stringify(report.failed));
  ids = Object.fromEntries(report.imported.map((r) => [r.file.replace(/\.dcm$/, ''), r.imageId]));
  const lesion = (await s['labels.list']({})).find((l) => l.name === 'lesion')!.id;
  await s['masks.save']({ imageId: ids['s1-1']!, frame: 0, labelId: lesion, instance: 1, rle: encodeRle(ellipse(30, 20, 9, 7), H, W), source: 'brush' });
  await s['masks.save']({ imageId: ids['s2-0']!, frame: 0, labelId: lesion, instance: 1, rle: encodeRle(ellipse(20, 25, 6, 8), H, W), source: 'brush' });
});

after(async () => {
  await s?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Every file under a folder, relative to it. */
function listed(folder: string): string[] {
  return readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(folder, path.join(e.parentPath, e.name)))
    .sort();
}

async function copy(imageId: number, scope: 'series' | 'study', folder: string) {
  const j = await jobEnded(s, (await s['export.deidentifiedStart']({ imageId, scope, folder })).jobId);
  return j;
}

/** The SEG the project holds for a series (export.segStart reuses the recorded export of unchanged masks). */
async function projectSeg(imageId: number): Promise<string> {
  const j = await jobEnded(s, (await s['export.segStart']({ imageId })).jobId);
  assert.equal(j.state, 'succeeded', j.detail);
  assert.equal(j.exported!.reused, true, 'the copy exported (or reused) this very SEG');
  return path.join(dir, 'proj', j.exported!.file);
}

interface CheckReport { pairs: number; segs: number; checked: number; uids_mapped: number; identifying_values: number; errors: string[] }
function check(originals: string[], copies: string[]): CheckReport {
  const req = path.join(dir, `check-${Date.now()}.json`);
  writeFileSync(req, JSON.stringify({ originals, copies }));
  return JSON.parse(helper('check', req)) as CheckReport;
}

function dciodvfyErrors(file: string): string[] {
  const r = spawnSync('dciodvfy', ['-new', file], { encoding: 'utf8' });
  return `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => /^Error/i.test(l.trim()));
}

test('a series: its images and SEG, de-identified, consistent, still referencing each other, conformant', { timeout: 180_000 }, async (t) => {
  const out = path.join(dir, 'share-series');
  const j = await copy(ids['s1-0']!, 'series', out);
  assert.equal(j.state, 'succeeded', j.error?.message ?? j.detail);
  assert.match(j.detail, /^Wrote a de-identified copy to .*share-series: 3 images and 1 SEG, in 2\.25\.\d+\/$/);
  const files = listed(out);
  assert.equal(files.length, 4, files.join('\n'));
  assert.ok(files.every((f) => /^2\.25\.\d+\/2\.25\.\d+\/2\.25\.\d+\.dcm$/.test(f)), 'study/series/instance folders named by the new UIDs; nothing half-written left');
  const seg = await projectSeg(ids['s1-0']!);
  const r = check([...sources.filter((f) => path.basename(f).startsWith('s1-')), seg], files.map((f) => path.join(out, f)));
  t.diagnostic(`series: ${r.pairs} files paired, ${r.checked} listed elements checked, ${r.uids_mapped} UIDs mapped, ${r.identifying_values} identifying values looked for`);
  assert.deepEqual(r.errors, []);
  assert.equal(r.pairs, 4);
  assert.equal(r.segs, 1);
  assert.ok(r.checked > 150 && r.identifying_values > 20, 'the sources really were full of identifying data');
  for (const f of files) assert.deepEqual(dciodvfyErrors(path.join(out, f)), [], `dciodvfy: ${f}`);
  const audit = (await s['audit.list']({ imageId: ids['s1-0']!, limit: 20 })).find((a) => a.entity === 'deidentified-copy');
  assert.ok(audit, 'the copy is in the audit log');
  assert.equal(JSON.parse(audit.detail).folder, out);
});

test('a study: every series and each SEG, one new study, the same UIDs as the earlier copy of its series', { timeout: 180_000 }, async () => {
  const out = path.join(dir, 'share-study');
  const j = await copy(ids['s2-1']!, 'study', out);
  assert.equal(j.state, 'succeeded', j.error?.message ?? j.detail);
  const files = listed(out);
  assert.equal(files.length, 7, 'five images and two SEGs');
  assert.equal(new Set(files.map((f) => f.split('/')[0])).size, 1, 'one study');
  assert.ok(!files.some((f) => f.includes('burned-in')), 'the other study is not part of it');
  // The same project secret: the series copied before has the same new UIDs now.
  for (const f of listed(path.join(dir, 'share-series'))) assert.ok(files.includes(f), `${f} again under the same UIDs`);
  const segs = [await projectSeg(ids['s1-0']!), await projectSeg(ids['s2-0']!)];
  const r = check([...sources.filter((f) => !f.endsWith('burned-in.dcm')), ...segs], files.map((f) => path.join(out, f)));
  assert.deepEqual(r.errors, []);
  assert.equal(r.pairs, 7);
  assert.equal(r.segs, 2);
  for (const f of files) assert.deepEqual(dciodvfyErrors(path.join(out, f)), [], `dciodvfy: ${f}`);
});

test('an image marked BurnedInAnnotation YES is refused by name and nothing is written; the folder must be absolute', { timeout: 120_000 }, async () => {
  const out = path.join(dir, 'share-burned');
  const j = await copy(ids['burned-in']!, 'series', out);
  assert.equal(j.state, 'failed');
  assert.match(j.error?.message ?? '', /burned-in\.dcm|media\/.*: marked BurnedInAnnotation YES \(its pixels may show who the patient is\)/);
  assert.deepEqual(listed(out), [], 'nothing written, no staging folder left');
  const params = methods['export.deidentifiedStart'].params;
  assert.equal(params.safeParse({ imageId: 1, scope: 'series', folder: 'relative/out' }).success, false);
  assert.equal(params.safeParse({ imageId: 1, scope: 'patient', folder: '/abs' }).success, false);
  assert.equal(params.safeParse({ imageId: 1, scope: 'study', folder: '/abs' }).success, true);
});
