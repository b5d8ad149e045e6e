/**
 * Crash safety: a child process saving masks is killed with SIGKILL mid-stream. The
 * database must pass integrity_check and contain every edit the child acknowledged.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { decodeRle } from '../../electron/contract/rle.js';
import { PROJECT_DB } from '../../electron/services/index.js';
import { newProject, newServices, removeDir, sharedCorpus } from './helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));

test('SIGKILL during mask writes: integrity ok and every acknowledged edit present', async () => {
  const { s, dir } = newProject();
  const { dir: corpus } = await sharedCorpus();
  const imported = await s['images.importPaths']({ paths: [path.join(corpus, 'dicom', 'mono1.dcm')] });
  const imageId = imported.imported[0]!.imageId;
  s.close();
  const [h, w] = [48, 64];

  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'crash-writer.child.ts'), dir, String(imageId), String(h), String(w)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const acked = new Map<number, number>(); // instance -> area (last acknowledged)
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let buffered = '';
  let killedAt = 0;
  // Kill after a pseudo-random number of acks, so the kill lands at different points of a write.
  const killAfter = 150 + Math.floor(Math.random() * 200);
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const [, inst, area] = line.split(' ');
        acked.set(Number(inst), Number(area));
      }
      if (!killedAt && acked.size >= killAfter) {
        killedAt = acked.size;
        child.kill('SIGKILL');
      }
    });
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`child exited ${code}: ${stderr}`))));
  });
  assert.ok(acked.size >= killAfter, `acks: ${acked.size}`);

  const db = new Database(path.join(dir, PROJECT_DB));
  assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
  assert.equal((db.pragma('foreign_key_check') as unknown[]).length, 0);
  db.close();

  const s2 = newServices();
  s2['project.open']({ path: dir });
  const masks = new Map(s2['masks.list']({ imageId }).map((m) => [m.instance, m]));
  for (const [instance, area] of acked) {
    const m = masks.get(instance);
    assert.ok(m, `acknowledged mask ${instance} missing after SIGKILL`);
    if (instance === 1) assert.ok(m.area >= area, `instance 1 rewritten to ${area}, found ${m.area}`);
    else assert.equal(m.area, area, `instance ${instance}`);
    assert.equal(decodeRle(m.rle).reduce((a, b) => a + b, 0), m.area);
  }
  // at most the one in-flight edit can exist beyond the acknowledged ones
  assert.ok(masks.size <= acked.size + 1);
  const audit = s2['audit.list']({ imageId, limit: 10_000 });
  assert.ok(audit.filter((a) => a.entity === 'mask' && a.action === 'create').length >= acked.size);
  s2.close();
  removeDir(path.dirname(dir));
});
