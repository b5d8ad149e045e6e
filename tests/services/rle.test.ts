import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkRle, countsFromString, countsToString, decodeRle, encodeRle, rleArea, rleBbox } from '../../electron/contract/rle.js';
import { countsFromBlob, countsToBlob } from '../../electron/services/store/counts-blob.js';

/** Deterministic PRNG (mulberry32) so a failure reproduces. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomMask(r: () => number, h: number, w: number): Uint8Array {
  const m = new Uint8Array(h * w);
  const style = Math.floor(r() * 4);
  if (style === 0) for (let i = 0; i < m.length; i++) m[i] = r() < 0.5 ? 1 : 0; // noise
  if (style === 1) {
    // blobs
    for (let b = 0; b < 3; b++) {
      const cx = r() * w, cy = r() * h, rad = r() * Math.min(h, w) * 0.4;
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= rad * rad) m[y * w + x] = 1;
    }
  }
  if (style === 2) m.fill(1);
  // style 3: empty
  return m;
}

test('RLE round-trips random masks of random sizes (column-major, COCO conventions)', () => {
  const r = rng(42);
  for (let n = 0; n < 300; n++) {
    const h = 1 + Math.floor(r() * 40);
    const w = 1 + Math.floor(r() * 40);
    const m = randomMask(r, h, w);
    const rle = encodeRle(m, h, w);
    assert.deepEqual(rle.size, [h, w]);
    assert.equal(rle.counts.reduce((a, b) => a + b, 0), h * w);
    checkRle(rle);
    assert.deepEqual(decodeRle(rle), m, `mask ${n} (${h}x${w})`);
    assert.equal(rleArea(rle), m.reduce((a, b) => a + b, 0));
    assert.deepEqual(countsFromString(countsToString(rle.counts)), rle.counts);
    assert.deepEqual(countsFromBlob(countsToBlob(rle.counts)), rle.counts);
  }
});

test('RLE counts are column-major and start with a zero run', () => {
  // 2x3 mask, row-major: [0 1 0; 0 1 1] -> column-major 0,0 | 1,1 | 0,1
  const rle = encodeRle([0, 1, 0, 0, 1, 1], 2, 3);
  assert.deepEqual(rle.counts, [2, 2, 1, 1]);
  assert.deepEqual(encodeRle([1, 1], 1, 2).counts, [0, 2]);
  assert.deepEqual(rleBbox(rle), [1, 0, 2, 2]);
  assert.equal(rleBbox(encodeRle([0, 0], 1, 2)), null);
});

test('COCO string form matches pycocotools on a known example', () => {
  // pycocotools: mask.encode of a 4x4 array with a 2x2 square at rows 1-2, cols 1-2 -> counts b'52203'
  const m = new Uint8Array(16);
  for (const [y, x] of [[1, 1], [1, 2], [2, 1], [2, 2]] as const) m[y * 4 + x] = 1;
  const rle = encodeRle(m, 4, 4);
  assert.deepEqual(rle.counts, [5, 2, 2, 2, 5]);
  assert.equal(countsToString(rle.counts), '52203');
});

test('checkRle rejects runs that do not cover the image', () => {
  assert.throws(() => checkRle({ size: [2, 2], counts: [1, 2] }), /sum to 3, expected 2x2=4/);
  assert.throws(() => decodeRle({ size: [2, 2], counts: [5] }), /sum to 5/);
  assert.throws(() => encodeRle([1, 0, 1], 2, 2), /expected 2x2/);
});

test('large counts survive the varint blob', () => {
  const counts = [0, 2 ** 31 + 5, 127, 128, 16383, 16384, 1];
  assert.deepEqual(countsFromBlob(countsToBlob(counts)), counts);
  assert.throws(() => countsFromBlob(Uint8Array.from([0x80])), /ends inside a varint/);
});
