/**
 * The on-disk embedding cache: a hit returns the exact floats, the size cap evicts the least
 * recently used entry, and a corrupt (bit-flipped or truncated) entry is discarded and
 * reported as a miss so the caller recomputes it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { EmbeddingCache, embeddingKey } from '../../electron/services/embedding-cache/embedding-cache.node.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tmp(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'emb-cache-'));
  dirs.push(d);
  return d;
}

function emb(key: string, seed: number, n = 1000) {
  const data = new Float32Array(n).map((_, i) => Math.sin(i * seed));
  return { key, data, dims: [1, 10, 10, n / 100], origHeight: 120, origWidth: 176 };
}

const k = (sha: string, window: { center: number; width: number } | null = { center: 40, width: 400 }) =>
  embeddingKey({ modelKey: 'tiny:fp32', imageSha256: sha, frame: 0, window });

test('keys differ by model, image, frame and window; window float noise is ignored', () => {
  assert.notEqual(k('a'), k('b'));
  assert.notEqual(k('a'), k('a', { center: 40, width: 401 }));
  assert.equal(k('a', { center: 40.0000001, width: 400 }), k('a'));
  assert.notEqual(k('a'), embeddingKey({ modelKey: 'tiny:int8', imageSha256: 'a', frame: 0, window: { center: 40, width: 400 } }));
});

test('a hit returns the same floats, also from a fresh cache over the same folder', () => {
  const dir = tmp();
  const c = new EmbeddingCache(dir, 1 << 20);
  assert.equal(c.get(k('a')), null);
  const e = emb(k('a'), 3);
  c.put(e);
  const hit = new EmbeddingCache(dir, 1 << 20).get(k('a'));
  assert.ok(hit);
  assert.deepEqual(hit.dims, e.dims);
  assert.deepEqual([...hit.data], [...e.data]);
  assert.equal(c.stats().misses, 1);
});

test('the size cap evicts the least recently used entry', async () => {
  const dir = tmp();
  const one = emb(k('x'), 1).data.byteLength + 400; // payload + header, roughly
  const c = new EmbeddingCache(dir, Math.floor(one * 2.5));
  c.put(emb(k('a'), 1));
  await new Promise((r) => setTimeout(r, 20));
  c.put(emb(k('b'), 2));
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(c.get(k('a'))); // a is now more recent than b
  await new Promise((r) => setTimeout(r, 20));
  c.put(emb(k('c'), 3));
  assert.equal(c.has(k('b')), false, 'b was least recently used');
  assert.ok(c.has(k('a')) && c.has(k('c')));
  assert.ok(c.stats().bytes <= c.limitBytes);
  assert.equal(c.stats().evicted, 1);
});

test('a corrupt entry is discarded and reported as a miss, then recomputed', () => {
  const dir = tmp();
  const c = new EmbeddingCache(dir, 1 << 20);
  c.put(emb(k('a'), 1));
  const file = c.fileOf(k('a'));
  const bytes = readFileSync(file);
  bytes[bytes.length - 7]! ^= 0xff; // flip bits inside the payload
  writeFileSync(file, bytes);
  assert.equal(c.get(k('a')), null);
  assert.equal(c.has(k('a')), false);
  assert.equal(c.stats().corrupt, 1);
  c.put(emb(k('a'), 1)); // the caller recomputes and stores again
  assert.ok(c.get(k('a')));
  c.put(emb(k('t'), 2));
  truncateSync(c.fileOf(k('t')), 300);
  assert.equal(c.get(k('t')), null);
  assert.equal(c.stats().corrupt, 2);
});
