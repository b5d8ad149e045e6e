/**
 * COCO's compressed RLE strings (contract/rle.ts, coco-rle.ts) against vectors that pycocotools 2.0.11 wrote
 * (mask.encode / toBbox / area on the masks below), both ways, and round trips of random
 * masks through encode -> string -> decode.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countsFromString as rleFromString, countsToString as rleToString, decodeRle, encodeRle, rleArea } from '../../../electron/contract/rle.js';
import { cocoBbox, toCocoRle } from '../../../electron/services/dicom-export/coco-rle.js';

const maskBbox = (mask: Uint8Array, h: number, w: number) => cocoBbox(encodeRle(mask, h, w));

/** Rows of 0/1 -> a row-major mask. */
const grid = (rows: string[]) => Uint8Array.from(rows.join(''), (c) => (c === '1' ? 1 : 0));

const vectors: { rows: string[]; counts: string; bbox: number[]; area: number }[] = [
  { rows: ['00000', '01110', '01110', '00000'], counts: '5220003', bbox: [1, 1, 3, 2], area: 6 },
  { rows: ['1000000', '0000000', '0011110', '0010110', '0000000', '0000001'], counts: '01=1GO11O03O', bbox: [0, 0, 7, 6], area: 9 },
  {
    rows: ['11001001011', '00000100110', '11000010110', '01010010000', '00010101010', '10101100001', '01000000111', '11011000010', '01010000010'],
    counts: '011010O00001113N11L12NM01001300ON021NOO2ON033NN',
    bbox: [0, 0, 11, 9],
    area: 38,
  },
  { rows: ['111', '111', '111'], counts: '09', bbox: [0, 0, 3, 3], area: 9 },
];

test('compressed RLE strings, bbox and area equal pycocotools', () => {
  for (const v of vectors) {
    const h = v.rows.length;
    const w = v.rows[0]!.length;
    const mask = grid(v.rows);
    const rle = encodeRle(mask, h, w);
    assert.deepEqual(toCocoRle(rle), { size: [h, w], counts: v.counts });
    assert.deepEqual(rleFromString(v.counts), rle.counts);
    assert.deepEqual(maskBbox(mask, h, w), v.bbox);
    assert.equal(rleArea(rle), v.area);
  }
});

test('a large mask with a hole: the string pycocotools wrote for it', () => {
  // 300 x 200, rows 10..289 and columns 5..149 set, rows 100..119 x columns 50..59 cleared.
  const h = 300;
  const w = 200;
  const m = new Uint8Array(h * w);
  for (let y = 10; y < 290; y++) for (let x = 5; x < 150; x++) m[y * w + x] = y >= 100 && y < 120 && x >= 50 && x < 60 ? 0 : 1;
  const s = rleToString(encodeRle(m, h, w).counts);
  const expected =
    'V_1h8d00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000RJ0`20`M0`20`M0`20`M0`20`M0`20`M0`20`M0`20`M0`20`M0`20`M0`20^30000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000^d>';
  assert.equal(s, expected);
  assert.deepEqual(maskBbox(m, h, w), [5, 10, 145, 280]);
  assert.deepEqual(decodeRle({ size: [h, w], counts: rleFromString(s) }), m);
});

test('random masks round-trip through the string form', () => {
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let k = 0; k < 200; k++) {
    const h = 1 + Math.floor(rand() * 40);
    const w = 1 + Math.floor(rand() * 40);
    const p = rand();
    const m = Uint8Array.from({ length: h * w }, () => (rand() < p ? 1 : 0));
    const rle = encodeRle(m, h, w);
    assert.deepEqual(rleFromString(rleToString(rle.counts)), rle.counts);
  }
  assert.throws(() => rleFromString('5 2'), /invalid character at 1/);
  assert.throws(() => rleFromString('0o'), /ends inside a count/);
});
