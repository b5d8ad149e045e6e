/**
 * image.pixelsMany, the prefetcher's batch: the same frames as image.pixels one by one, in
 * the order asked; a frame that cannot be read, or would take the batch past its byte
 * budget, is null (and image.pixels alone then gives its pixels or its error).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { PIXELS_BATCH_BYTES, methods } from '../../electron/contract/api.js';
import { ProjectService } from '../../electron/services/index.js';
import { generateBenchSeries } from '../fixtures/generate-corpus.js';
import { removeDir, tempDir } from './helpers.js';

let root: string;
let s: ProjectService;
let small: number[];
let big: number[];

before(async () => {
  root = tempDir('pixels-many');
  generateBenchSeries(path.join(root, 'small'), 3, 256);
  // 2048x2048 16-bit: 8 MiB a frame, so two fill the 16 MiB budget and a third does not fit.
  generateBenchSeries(path.join(root, 'big'), 3, 2048);
  s = new ProjectService({ user: 't', transport: 'browser' });
  s['project.create']({ path: path.join(root, 'project') });
  await s['images.importPaths']({ paths: [path.join(root, 'small'), path.join(root, 'big')] });
  const rows = s['images.list']({});
  const bySize = (w: number) => rows.filter((r) => r.width === w).sort((a, b) => (a.slicePosition ?? 0) - (b.slicePosition ?? 0)).map((r) => r.id);
  small = bySize(256);
  big = bySize(2048);
  assert.equal(small.length, 3);
  assert.equal(big.length, 3);
});
after(() => {
  s.close();
  removeDir(root);
});

test('the frames image.pixels gives one by one, in the order asked', async () => {
  const order = [small[2]!, small[0]!, small[1]!];
  const many = await s['image.pixelsMany']({ items: order.map((imageId) => ({ imageId, frame: 0 })) });
  assert.equal(many.length, 3);
  for (const [k, imageId] of order.entries()) {
    const one = await s['image.pixels']({ imageId, frame: 0 });
    assert.ok(many[k], `frame ${k} delivered`);
    assert.equal(many[k]!.width, 256);
    assert.deepEqual(Buffer.from(many[k]!.data), Buffer.from(one.data), `image ${imageId}`);
  }
});

test('an unreadable frame is null and the others still come; alone, it gives its error', async () => {
  const many = await s['image.pixelsMany']({ items: [{ imageId: small[0]!, frame: 0 }, { imageId: 999_999, frame: 0 }, { imageId: small[1]!, frame: 7 }, { imageId: small[2]!, frame: 0 }] });
  assert.deepEqual(many.map((f) => f !== null), [true, false, false, true]);
  await assert.rejects(s['image.pixels']({ imageId: small[1]!, frame: 7 }), /has 1 frame\(s\); frame 7 does not exist/);
});

test('frames past the byte budget are null, and image.pixels then serves them', async () => {
  const many = await s['image.pixelsMany']({ items: big.map((imageId) => ({ imageId, frame: 0 })) });
  const sizes = many.map((f) => f?.data.byteLength ?? 0);
  assert.deepEqual(sizes.map((b) => b > 0), [true, true, false]);
  assert.ok(sizes[0]! + sizes[1]! <= PIXELS_BATCH_BYTES);
  const third = await s['image.pixels']({ imageId: big[2]!, frame: 0 });
  assert.equal(third.width, 2048);
});

test('the contract bounds a batch: empty or over 8 frames is refused', () => {
  const params = methods['image.pixelsMany'].params;
  assert.equal(params.safeParse({ items: [] }).success, false);
  assert.equal(params.safeParse({ items: Array.from({ length: 9 }, () => ({ imageId: 1, frame: 0 })) }).success, false);
  assert.equal(params.safeParse({ items: [{ imageId: 1, frame: 0, extra: 1 }] }).success, false);
  assert.equal(params.safeParse({ items: [{ imageId: 1, frame: 0 }] }).success, true);
});
