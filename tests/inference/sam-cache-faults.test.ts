/**
 * The SAM service over a damaged, full or deleted embedding cache, with the tiny blob model
 * (issue 9, finding 12): a corrupt entry (flipped header bit, a folder, a `null` header, the
 * wrong shape) never makes a SAM call fail, not even after a restart; a full disk (a real
 * tmpfs under the project's cache folder) still gives a prepared image and working clicks,
 * logs why nothing was cached and leaves no temp file; a deleted cache folder is recreated.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { decodeRle } from '../../electron/contract/rle.js';
import { SamService } from '../../electron/services/inference/sam.service.js';
import { ModelsService } from '../../electron/services/models/models.service.js';
import { ProjectService } from '../../electron/services/project.service.js';
import { RuntimeLauncher } from '../../electron/services/runtime/runtime-launcher.node.js';
import { lesionDicom } from './lesion-dicom.js';
import { maskIoU } from './synthetic-lesion.js';
import { tinyBlobBundle } from './test-models.js';

const W = 200;
const H = 150;
const { bytes: dicom, slice } = lesionDicom(W, H);
const window = { center: 40, width: 400 };
const click = { imageId: 0, frame: 0, window, points: [{ ...slice.lesionCenter, label: 1 as const }], box: null, maskInput: null, multimask: true };

let root: string;
let projectDir: string;
let imageId: number;
const mounts: string[] = [];
/** Services still open: `after` closes them, so a test that times out cannot keep the inference worker (and CI) alive. */
const opened = new Set<() => Promise<void>>();

/** The services SAM needs, opened on the test project as the app does at start (a "restart" is close + open). */
async function open(create = false) {
  const logs: string[] = [];
  const project = new ProjectService({ user: 'tester', transport: 'browser', version: 'test' });
  const runtime = new RuntimeLauncher();
  const models = new ModelsService(project, runtime);
  const sam = new SamService(project, () => models.manager(), { threads: 1, log: (m) => logs.push(m) });
  if (create) await project['project.create']({ path: projectDir, name: 'cache faults' });
  else await project['project.open']({ path: projectDir });
  const close = async (): Promise<void> => {
    opened.delete(close);
    await sam.close();
    project.close();
    await runtime.close();
  };
  opened.add(close);
  return { project, models, sam, logs, close };
}

before(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'sam-cache-faults-'));
  projectDir = path.join(root, 'proj');
  const s = await open(true);
  const report = await s.project['images.importFiles']({ files: [{ name: 'lesion.dcm', bytes: new Uint8Array(dicom) }] });
  assert.equal(report.imported.length, 1, JSON.stringify(report.failed));
  imageId = report.imported[0]!.imageId;
  click.imageId = imageId;
  await s.models['models.import']({ kind: 'bundle', path: tinyBlobBundle() });
  await s.close();
});

after(async () => {
  for (const close of [...opened]) await close();
  for (const m of mounts) execFileSync('umount', [m]);
  rmSync(root, { recursive: true, force: true });
});

const cacheDir = (): string => path.join(projectDir, 'cache', 'embeddings');
const entries = (): string[] => (existsSync(cacheDir()) ? readdirSync(cacheDir()).filter((n) => n.endsWith('.emb')) : []);

/** The one entry on disk and its header (the format: magic, u32 LE header length, header JSON, ...). */
function theEntry(): { file: string; bytes: Buffer; header: { key: string; dims: number[]; origHeight: number; origWidth: number } } {
  const names = entries();
  assert.equal(names.length, 1, `one entry on disk: ${names.join(', ')}`);
  const file = path.join(cacheDir(), names[0]!);
  const bytes = readFileSync(file);
  const hlen = bytes.readUInt32LE(7);
  return { file, bytes, header: JSON.parse(bytes.subarray(11, 11 + hlen).toString()) as ReturnType<typeof theEntry>['header'] };
}

/** A v2 entry with any header and payload, with a valid checksum: what a buggy writer could leave. */
function v2(header: string, payload: Uint8Array): Buffer {
  let h = Buffer.from(header);
  h = Buffer.concat([h, Buffer.alloc((4 - ((11 + h.length) % 4)) % 4, 0x20)]);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(h.length);
  const body = Buffer.concat([Buffer.from('DLEMB2\n'), len, h, payload]);
  return Buffer.concat([body, createHash('sha256').update(body).digest()]);
}

test('a damaged entry never fails a SAM call: prepare and click recompute it, also right after a restart', { timeout: 180_000 }, async () => {
  let s = await open();
  try {
    const first = await s.sam['sam.prepare']({ imageId, frame: 0, window });
    assert.equal(first.cached, false);
    const { file, bytes, header } = theEntry();
    const payload = bytes.subarray(11 + bytes.readUInt32LE(7), bytes.length - 32);
    const hdrAt = bytes.indexOf(Buffer.from(`"origHeight":${H}`));
    assert.ok(hdrAt > 0);
    const spoils: [string, () => void][] = [
      ['a flipped bit in the image height', () => {
        const b = Buffer.from(bytes);
        b[hdrAt + 14]! ^= 0x01; // "150" -> "140"
        writeFileSync(file, b);
      }],
      ['a folder in its place', () => {
        rmSync(file);
        mkdirSync(path.join(file, 'x'), { recursive: true });
      }],
      ['a header of null', () => writeFileSync(file, v2('null', payload))],
      ['the right size with the wrong shape', () => writeFileSync(file, v2(JSON.stringify({ ...header, dtype: 'float32', dims: [1, 256, 8, 8] }), payload))],
    ];
    for (const [what, spoil] of spoils) {
      s.logs.length = 0;
      spoil();
      // prepare in the running app: reads the entry, discards it, recomputes.
      const again = await s.sam['sam.prepare']({ imageId, frame: 0, window });
      assert.equal(again.cached, false, `${what}: not a hit`);
      assert.ok(s.logs.some((m) => m.includes('removed')), `${what}: logged (${s.logs.join(' | ')})`);
      assert.equal(theEntry().header.origHeight, H, `${what}: a good entry replaced it`);
      // The same damage met by a click right after a restart (the worker holds nothing yet).
      spoil();
      await s.close();
      s = await open();
      const p = await s.sam['sam.predict'](click);
      assert.ok(maskIoU(decodeBest(p), slice.lesion) >= 0.6, `${what}: the click still finds the lesion`);
      assert.equal((await s.sam['sam.prepare']({ imageId, frame: 0, window })).cached, true, `${what}: repaired on disk`);
    }
  } finally {
    await s.close();
  }
});

function decodeBest(p: { masks: { rle: Parameters<typeof decodeRle>[0] | null }[]; best: number }): Uint8Array {
  return decodeRle(p.masks[p.best]!.rle!);
}


test('on a full disk prepare still succeeds, clicks work, nothing half-written is left, the log says why', { timeout: 120_000 }, async () => {
  rmSync(path.join(projectDir, 'cache'), { recursive: true, force: true });
  const disk = path.join(projectDir, 'cache');
  mkdirSync(disk, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', disk]);
  mounts.push(disk);
  // Fill it, then free 16 KiB: the 64 KiB entry gets a temp file and part of its bytes, then ENOSPC.
  const fd = openSync(path.join(disk, 'filler'), 'w');
  let size = 0;
  try {
    for (const chunk = Buffer.alloc(4096, 1); ; size += 4096) writeSync(fd, chunk);
  } catch (e) {
    assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
  }
  ftruncateSync(fd, size - 16 * 1024);
  closeSync(fd);

  const s = await open();
  try {
    const win = { center: 50, width: 350 };
    const r = await s.sam['sam.prepare']({ imageId, frame: 0, window: win });
    assert.equal(r.cached, false);
    assert.ok(r.encodeMs > 0);
    assert.match(r.cacheWarning ?? '', /could not be kept on disk .*ENOSPC.*used from memory/, 'the caller is told');
    assert.ok(s.logs.some((m) => /could not store/.test(m) && /ENOSPC/.test(m)), s.logs.join('\n'));
    assert.deepEqual(readdirSync(cacheDir()), [], 'no entry and no partial temp file');
    const p = await s.sam['sam.predict']({ ...click, window: win });
    assert.ok(maskIoU(decodeBest(p), slice.lesion) >= 0.6, 'the embedding computed in memory is used');
  } finally {
    await s.close();
    execFileSync('umount', [disk]);
    mounts.splice(mounts.indexOf(disk), 1);
  }
});

test('the cache folder deleted while the app runs is recreated by the next prepare', { timeout: 120_000 }, async () => {
  const s = await open();
  try {
    const win = { center: 60, width: 300 };
    await s.sam['sam.prepare']({ imageId, frame: 0, window: win });
    rmSync(path.join(projectDir, 'cache'), { recursive: true, force: true });
    const r = await s.sam['sam.prepare']({ imageId, frame: 0, window: { ...win, width: 320 } });
    assert.equal(r.cached, false);
    assert.equal(entries().length, 1, 'written into a recreated folder');
    assert.equal((await s.sam['sam.prepare']({ imageId, frame: 0, window: { ...win, width: 320 } })).cached, true);
  } finally {
    await s.close();
  }
});
