/**
 * Two app processes on one project (issue 9, finding 9): the project lock lets one in and
 * tells the other "open elsewhere"; underneath it, the database stays safe anyway: a first
 * open that migrates a new database, read-then-write transactions and imports of the same
 * files, from several processes at once, all succeed (no "table meta already exists", no
 * "database is locked", no media file deleted under a row).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openProjectDatabase } from '../../electron/services/store/project-database.js';
import { latestSchemaVersion } from '../../electron/services/store/migrations.js';
import { newProject, removeDir, sharedCorpus, tempDir } from './helpers.js';

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'two-apps.child.ts');
const dirs: string[] = [];
after(() => dirs.forEach(removeDir));

function run(mode: string, target: string, start: number, ...extra: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child, mode, target, String(start), ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d));
    p.stderr.on('data', (d: Buffer) => (out += d));
    p.on('exit', (code) => resolve({ code, out }));
  });
}

/** Children load tsx first (about a second); they start together at a shared moment after that. */
const together = () => Date.now() + 2500;

test('a new database opened by three processes at once is migrated once, and all three open it', { timeout: 120_000 }, async () => {
  for (let round = 0; round < 3; round++) {
    const dir = tempDir('migrate');
    dirs.push(dir);
    const file = path.join(dir, 'project.sqlite');
    const at = together();
    const results = await Promise.all([run('migrate', file, at), run('migrate', file, at), run('migrate', file, at)]);
    for (const r of results) assert.equal(r.code, 0, r.out);
    const db = openProjectDatabase(file, { create: false });
    assert.equal(db.pragma('user_version', { simple: true }), latestSchemaVersion);
    db.close();
  }
});

test('read-then-write transactions from two processes at once: none fails, none is lost', { timeout: 120_000 }, async () => {
  const { s, dir } = newProject();
  s.close();
  dirs.push(path.dirname(dir));
  const file = path.join(dir, 'project.sqlite');
  const at = together();
  const results = await Promise.all([run('saves', file, at), run('saves', file, at)]);
  for (const r of results) assert.equal(r.code, 0, r.out);
  const db = openProjectDatabase(file, { create: false });
  assert.equal(db.prepare("SELECT value FROM meta WHERE key = 'counter'").pluck().get(), '400', 'every increment of both processes counted');
  db.close();
});

test('two processes importing the same files into one project at once: no failure, every row keeps its media file', { timeout: 180_000 }, async () => {
  const { s, dir } = newProject();
  s.close();
  dirs.push(path.dirname(dir));
  const { dir: corpus } = await sharedCorpus();
  const at = together();
  const results = await Promise.all([run('import', dir, at, path.join(corpus, 'ct')), run('import', dir, at, path.join(corpus, 'ct'))]);
  const reports = results.map((r) => {
    assert.equal(r.code, 0, r.out);
    return JSON.parse(r.out.trim().split('\n').at(-1)!) as { imported: number; duplicates: number; failed: unknown[] };
  });
  assert.deepEqual(reports.flatMap((r) => r.failed), [], 'no save failed ("database is locked")');
  assert.equal(reports[0]!.imported + reports[1]!.imported, 20, 'each file stored once');
  const db = openProjectDatabase(path.join(dir, 'project.sqlite'), { create: false });
  const rows = db.prepare('SELECT media_path AS m FROM images').all() as { m: string }[];
  db.close();
  assert.equal(rows.length, 20);
  for (const r of rows) assert.ok(existsSync(path.join(dir, r.m)), `${r.m} exists: the loser's rollback deleted nothing the winner committed`);
});

test('two apps opening one project at once: one gets it, the other is told it is open elsewhere', { timeout: 120_000 }, async () => {
  const { s, dir } = newProject();
  s.close();
  dirs.push(path.dirname(dir));
  const at = together();
  const results = await Promise.all([run('open', dir, at), run('open', dir, at)]);
  const codes = results.map((r) => r.code).sort();
  assert.ok(codes[0] === 0 && (codes[1] === 3 || codes[1] === 0), results.map((r) => `${r.code}: ${r.out}`).join(' | '));
  const refused = results.find((r) => r.code === 3);
  if (refused) assert.match(refused.out, /open in another Delineate \(process \d+/);
});
