/**
 * The embedding cache under faults, with real files (issue 9, finding 12): whatever is on
 * disk (a flipped bit anywhere, a folder, a `null` header, a truncated file, the wrong dtype
 * or shape), the cache reports a miss, removes the entry and logs it, also across restarts;
 * several processes share one folder without deleting each other's temp files or overshooting
 * the size limit; a full disk (a real small tmpfs) leaves no temp file and no failed call; a
 * deleted folder is recreated. The same faults met through the SAM service: sam-cache-faults.test.ts.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { tempName } from '../../electron/services/embedding-cache/cache-policy.js';
import { EmbeddingCache, embeddingKey } from '../../electron/services/embedding-cache/embedding-cache.node.js';
import { repoRoot } from './test-models.js';

const dirs: string[] = [];
const mounts: string[] = [];
after(() => {
  for (const m of mounts) execFileSync('umount', [m]);
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});
function tmp(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'emb-faults-'));
  dirs.push(d);
  return d;
}

const key = (sha: string): string => embeddingKey({ modelKey: 'tiny:fp32', imageSha256: sha, frame: 0, window: { center: 40, width: 400 } });
function emb(k: string, dims = [1, 4, 4, 4]) {
  const n = dims.reduce((a, b) => a * b, 1);
  return { key: k, data: new Float32Array(n).map((_, i) => Math.sin(i + 1)), dims, origHeight: 120, origWidth: 176 };
}

function cacheWithLog(dir: string, limit = 1 << 20) {
  const logs: string[] = [];
  return { cache: new EmbeddingCache(dir, limit, { log: (m) => logs.push(m) }), logs };
}

const sha256hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** An entry in either on-disk format, with any header text: what a buggy or older writer could leave. */
function craft(version: 1 | 2, header: string, payload: Uint8Array): Uint8Array {
  const magic = Buffer.from(version === 2 ? 'DLEMB2\n' : 'DLEMB1\n');
  let h = Buffer.from(header);
  const pad = (4 - ((magic.length + 4 + h.length) % 4)) % 4;
  h = Buffer.concat([h, Buffer.alloc(pad, 0x20)]);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(h.length);
  const body = Buffer.concat([magic, len, h, payload]);
  return version === 2 ? Buffer.concat([body, Buffer.from(sha256hex(body), 'hex')]) : body;
}
const payloadOf = (e: { data: Float32Array }): Uint8Array => new Uint8Array(e.data.buffer, e.data.byteOffset, e.data.byteLength);
/** What the previous version (DLEMB1) wrote: the payload's sha256 in the header, nothing over the header. */
function legacyEntry(e: ReturnType<typeof emb>): Uint8Array {
  const p = payloadOf(e);
  return craft(1, JSON.stringify({ key: e.key, dims: e.dims, origHeight: e.origHeight, origWidth: e.origWidth, sha256: sha256hex(p) }), p);
}

/** Flip every bit of `original` in turn; each flipped file must be a miss, removed and logged. */
function everyBitFlipIsAMiss(dir: string, k: string, original: Uint8Array, expect?: { origHeight: number; origWidth: number }): number {
  const { cache, logs } = cacheWithLog(dir);
  const file = cache.fileOf(k);
  let flips = 0;
  for (let byte = 0; byte < original.length; byte++) {
    for (let bit = 0; bit < 8; bit++) {
      const b = Uint8Array.from(original);
      b[byte]! ^= 1 << bit;
      writeFileSync(file, b);
      const got = cache.get(k, expect);
      assert.equal(got, null, `bit ${bit} of byte ${byte} flipped: still a hit`);
      assert.equal(existsSync(file), false, `bit ${bit} of byte ${byte} flipped: entry left on disk`);
      flips++;
    }
  }
  assert.equal(logs.length, flips, 'every discarded entry is logged');
  assert.equal(cache.stats().corrupt, flips);
  return flips;
}

test('a one-bit flip anywhere in an entry (header, payload, checksum) is a miss, removed and logged', { timeout: 60_000 }, (t) => {
  const dir = tmp();
  const { cache } = cacheWithLog(dir);
  const e = emb(key('a'));
  assert.equal(cache.put(e).stored, true);
  const original = readFileSync(cache.fileOf(e.key));
  assert.ok(cache.get(e.key), 'the intact entry is a hit');
  // No expectation passed: the checksum alone must catch every flip.
  const flips = everyBitFlipIsAMiss(dir, e.key, original);
  t.diagnostic(`${flips} single-bit flips over a ${original.length}-byte entry, all discarded`);
  assert.equal(cache.put(e).stored, true, 'recomputed and stored again');
  assert.deepEqual([...cache.get(e.key)!.data], [...e.data]);
});

test('entries of the previous format stay readable; a flip anywhere in one is still a miss', { timeout: 60_000 }, () => {
  const dir = tmp();
  const { cache } = cacheWithLog(dir);
  const e = emb(key('v1'));
  const original = legacyEntry(e);
  writeFileSync(cache.fileOf(e.key), original);
  const hit = cache.get(e.key, { origHeight: 120, origWidth: 176 });
  assert.ok(hit, 'a v1 entry is a hit');
  assert.deepEqual([...hit.data], [...e.data]);
  // v1 has no checksum over its header: the image size is checked against the caller's image.
  everyBitFlipIsAMiss(dir, e.key, original, { origHeight: 120, origWidth: 176 });
});

test('a folder, a null header, a truncated file, another dtype or shape: a miss, removed, gone after a restart', () => {
  const dir = tmp();
  const e = emb(key('b'));
  const p = payloadOf(e);
  const good = { key: e.key, dims: e.dims, origHeight: 120, origWidth: 176 };
  const expect = { origHeight: 120, origWidth: 176, grid: 4 };
  const cases: [string, (file: string) => void][] = [
    ['a folder in its place', (f) => mkdirSync(path.join(f, 'inner'), { recursive: true })],
    ['a v1 header of null', (f) => writeFileSync(f, craft(1, 'null', p))],
    ['a v2 header of null with a valid checksum', (f) => writeFileSync(f, craft(2, 'null', p))],
    ['a header that is an array', (f) => writeFileSync(f, craft(2, '[1,2]', p))],
    ['dims that are not numbers', (f) => writeFileSync(f, craft(2, JSON.stringify({ ...good, dtype: 'float32', dims: ['1', 4, 4, 4] }), p))],
    ['float16 data', (f) => writeFileSync(f, craft(2, JSON.stringify({ ...good, dtype: 'float16' }), p))],
    ['a grid the model does not have', (f) => writeFileSync(f, craft(2, JSON.stringify({ ...good, dtype: 'float32', dims: [1, 16, 2, 2] }), p))],
    ['another image size', (f) => writeFileSync(f, craft(2, JSON.stringify({ ...good, dtype: 'float32', origHeight: 121 }), p))],
    ['a truncated file', (f) => {
      writeFileSync(f, craft(2, JSON.stringify({ ...good, dtype: 'float32' }), p));
      truncateSync(f, 40);
    }],
    ['an empty file', (f) => writeFileSync(f, new Uint8Array(0))],
  ];
  for (const [what, spoil] of cases) {
    const { cache, logs } = cacheWithLog(dir);
    const file = cache.fileOf(e.key);
    rmSync(file, { recursive: true, force: true });
    spoil(file);
    if (what === 'a folder in its place') assert.equal(cache.has(e.key), false, 'a folder is not an entry');
    assert.equal(cache.get(e.key, expect), null, what);
    assert.equal(existsSync(file), false, `${what}: removed`);
    assert.equal(logs.length, 1, `${what}: logged`);
    // A restart finds nothing to trip over, and the recomputed entry is stored and read back.
    const restarted = cacheWithLog(dir);
    assert.equal(restarted.cache.get(e.key, expect), null, `${what}: still a plain miss after a restart`);
    assert.equal(restarted.logs.length, 0, `${what}: nothing left to repair after a restart`);
    assert.equal(restarted.cache.put(e).stored, true);
    assert.ok(restarted.cache.get(e.key, expect), `${what}: the recomputed entry is a hit`);
  }
  // A folder squatting on the name does not stop a write either.
  const { cache } = cacheWithLog(dir);
  rmSync(cache.fileOf(e.key), { force: true });
  mkdirSync(path.join(cache.fileOf(e.key), 'x'), { recursive: true });
  assert.equal(cache.put(e).stored, true);
  assert.ok(cache.get(e.key, expect));
});

test("another process's temp file in progress survives; an abandoned one is swept", () => {
  const dir = tmp();
  const { cache } = cacheWithLog(dir);
  const name = path.basename(cache.fileOf(key('x')));
  const live = path.join(dir, tempName(name, 424242, 'aaaa'));
  const stale = path.join(dir, tempName(name, 434343, 'bbbb'));
  writeFileSync(live, 'being written by another process');
  writeFileSync(stale, 'left by a crash');
  const old = new Date(Date.now() - 60 * 60_000);
  utimesSync(stale, old, old);
  // Opening the cache (an app start) and writing (which scans the folder) in this process.
  const other = cacheWithLog(dir).cache;
  assert.equal(other.put(emb(key('y'))).stored, true);
  assert.equal(existsSync(live), true, "a live writer's temp file is not touched");
  assert.equal(existsSync(stale), false, 'a temp file older than the stale age is removed');
  assert.ok(other.get(key('y')));
});

const execFileP = promisify(execFile);

test('four processes writing at once stay within the limit plus one entry each, and end within the limit', { timeout: 120_000 }, async (t) => {
  const dir = tmp();
  const floats = 16_384; // 64 KiB payload
  // The size of one entry as the children write it (their keys are as long as 'p0|10').
  const probe = cacheWithLog(tmp()).cache;
  probe.put({ ...emb('p0|10', [1, 4, 64, 64]), origHeight: 64, origWidth: 64 });
  const entryBytes = probe.stats().bytes;
  const limit = Math.floor(8.5 * entryBytes);
  const procs = 4;
  const count = 30;
  let peakOutside = 0;
  let sampling = true;
  const sample = async (): Promise<void> => {
    while (sampling) {
      let total = 0;
      for (const n of readdirSync(dir)) {
        try {
          total += statSync(path.join(dir, n)).size;
        } catch {
          /* removed meanwhile */
        }
      }
      peakOutside = Math.max(peakOutside, total);
      await new Promise((r) => setImmediate(r));
    }
  };
  const sampler = sample();
  const child = path.join(repoRoot, 'tests/inference/embedding-cache-writer.child.ts');
  const runs = Array.from({ length: procs }, (_, i) =>
    execFileP(process.execPath, ['--import', 'tsx', child, dir, String(limit), String(floats), String(count), `p${i}`], { cwd: repoRoot, timeout: 90_000 }),
  );
  // allSettled: a failed child must not leave the others writing into a folder `after` removes.
  const settled = await Promise.allSettled(runs).finally(() => (sampling = false));
  await sampler;
  const reports = settled.map((r, i) => {
    assert.equal(r.status, 'fulfilled', `child ${i} failed: ${r.status === 'rejected' ? String(r.reason) : ''}`);
    return JSON.parse(r.value.stdout.trim()) as { stored: number; notStored: number; reasons: string[]; hits: number; peakBytes: number };
  });
  const peakInside = Math.max(...reports.map((r) => r.peakBytes));
  const final = readdirSync(dir).reduce((s, n) => s + statSync(path.join(dir, n)).size, 0);
  t.diagnostic(
    `limit ${limit} B (${(limit / entryBytes).toFixed(1)} entries); peak seen outside ${peakOutside} B = ${(peakOutside / limit).toFixed(3)}x, ` +
      `inside ${peakInside} B = ${(peakInside / limit).toFixed(3)}x; bound ${((limit + procs * entryBytes) / limit).toFixed(3)}x; final ${(final / limit).toFixed(3)}x`,
  );
  for (const r of reports) {
    assert.equal(r.notStored, 0, `no write failed (another process never took a temp file away): ${r.reasons.join('; ')}`);
    assert.equal(r.stored, count);
  }
  assert.ok(peakOutside <= limit + procs * entryBytes, `peak ${peakOutside} > limit + ${procs} entries`);
  assert.ok(peakInside <= limit + procs * entryBytes, `peak ${peakInside} > limit + ${procs} entries`);
  assert.ok(final <= limit, `after the writers finished: ${final} B on disk, limit ${limit}`);
  assert.equal(readdirSync(dir).filter((n) => n.includes('.tmp-')).length, 0, 'no temp file left');
});


/** A real tmpfs of `kb` KiB at `dir` (unmounted in `after`), filled so only `freeBytes` remain. */
function smallDisk(dir: string, kb: number, freeBytes: number): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${kb}k`, 'tmpfs', dir]);
  mounts.push(dir);
  const filler = path.join(dir, 'filler');
  const fd = openSync(filler, 'w');
  let size = 0;
  try {
    for (const chunk = Buffer.alloc(4096, 1); ; size += 4096) writeSync(fd, chunk);
  } catch (e) {
    assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
  }
  ftruncateSync(fd, Math.max(0, size - freeBytes));
  closeSync(fd);
}

test('on a full disk a write is refused cleanly: no throw, no temp file, a reason, then it works again', { timeout: 30_000 }, () => {
  const disk = path.join(tmp(), 'disk');
  smallDisk(disk, 256, 16 * 1024);
  const dir = path.join(disk, 'cache', 'embeddings');
  const { cache, logs } = cacheWithLog(dir);
  const e = emb(key('big'), [1, 4, 64, 64]); // 64 KiB: more than the 16 KiB left
  const r = cache.put(e);
  assert.equal(r.stored, false);
  assert.match(r.stored ? '' : r.reason, /ENOSPC/);
  assert.deepEqual(readdirSync(dir), [], 'the partial temp file is removed');
  assert.equal(cache.get(e.key), null);
  assert.ok(logs.some((m) => /could not store/.test(m) && /ENOSPC/.test(m)), logs.join('\n'));
  assert.equal(cache.stats().notStored, 1);
  rmSync(path.join(disk, 'filler'));
  assert.equal(cache.put(e).stored, true, 'with space again, it is stored');
  assert.ok(cache.get(e.key));
});

test('a cache folder deleted while the app runs is recreated by the next write', () => {
  const root = tmp();
  const dir = path.join(root, 'cache', 'embeddings');
  const { cache } = cacheWithLog(dir);
  assert.equal(cache.put(emb(key('a'))).stored, true);
  rmSync(dir, { recursive: true });
  assert.equal(cache.get(key('a')), null, 'gone with its folder: a plain miss');
  assert.equal(cache.put(emb(key('b'))).stored, true);
  rmSync(path.join(root, 'cache'), { recursive: true }); // the project's whole cache folder
  assert.equal(cache.put(emb(key('c'))).stored, true);
  assert.ok(cache.get(key('c')));
  assert.equal(cache.stats().entries, 1);
});
