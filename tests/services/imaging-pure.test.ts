import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeDicomRle, packBits } from '../../electron/services/imaging/dicom-rle.js';
import { LruCache } from '../../electron/services/imaging/frame-cache.js';
import { convertSamples, planarToInterleaved } from '../../electron/services/imaging/pixel-convert.js';
import { pixelEncoding, transferSyntaxName } from '../../electron/services/imaging/transfer-syntax.js';
import { applyWindow, windowPresets } from '../../electron/services/imaging/windowing.js';

const layout = { rows: 1, columns: 4, samplesPerPixel: 1, planarConfiguration: 0, photometric: 'MONOCHROME2' };

test('12-bit signed samples are sign-extended from BitsStored', () => {
  // raw words: 0x0FFF (-1 in 12 bits), 0x0800 (-2048), 0x07FF (2047), 0xF005 (junk high bits + 5)
  const raw = new Uint8Array(new Uint16Array([0x0fff, 0x0800, 0x07ff, 0xf005]).buffer);
  const c = convertSamples(raw, { ...layout, bitsAllocated: 16, bitsStored: 12, highBit: 11, signed: true });
  assert.equal(c.dtype, 'int16');
  assert.deepEqual([...c.pixels], [-1, -2048, 2047, 5]);
});

test('unsigned samples are masked to BitsStored and shifted by HighBit', () => {
  const raw = new Uint8Array(new Uint16Array([0xf123, 0x0fff]).buffer);
  const c = convertSamples(raw, { ...layout, columns: 2, bitsAllocated: 16, bitsStored: 12, highBit: 11, signed: false });
  assert.deepEqual([...c.pixels], [0x123, 0xfff]);
  // HighBit 15 with BitsStored 12: the value sits in the top 12 bits
  const shifted = convertSamples(new Uint8Array(new Uint16Array([0x1230]).buffer), { ...layout, columns: 1, bitsAllocated: 16, bitsStored: 12, highBit: 15, signed: false });
  assert.deepEqual([...shifted.pixels], [0x123]);
});

test('big-endian 16-bit samples are swapped', () => {
  const c = convertSamples(Uint8Array.from([0x01, 0x02]), { ...layout, columns: 1, bitsAllocated: 16, bitsStored: 16, highBit: 15, signed: false }, { bigEndian: true });
  assert.deepEqual([...c.pixels], [0x0102]);
});

test('planar colour becomes interleaved; YBR_FULL becomes RGB', () => {
  assert.deepEqual([...planarToInterleaved(Uint8Array.from([1, 2, 10, 20, 100, 200]), 2)], [1, 10, 100, 2, 20, 200]);
  const ybr = convertSamples(Uint8Array.from([128, 128, 128]), { ...layout, columns: 1, samplesPerPixel: 3, bitsAllocated: 8, bitsStored: 8, highBit: 7, signed: false, photometric: 'YBR_FULL' });
  assert.equal(ybr.photometric, 'RGB');
  assert.deepEqual([...ybr.pixels], [128, 128, 128]);
});

test('DICOM RLE: PackBits round trip, 16-bit segments MSB first', () => {
  const plane = Uint8Array.from([5, 5, 5, 5, 1, 2, 3, 9, 9, 0, ...new Array(300).fill(7), 4]);
  const pixels = plane.length;
  const seg = packBits(plane);
  const frame = new Uint8Array(64 + seg.length);
  const v = new DataView(frame.buffer);
  v.setUint32(0, 1, true);
  v.setUint32(4, 64, true);
  frame.set(seg, 64);
  assert.deepEqual(decodeDicomRle(frame, { rows: 1, columns: pixels, samplesPerPixel: 1, bitsAllocated: 8 }), plane);
  assert.throws(() => decodeDicomRle(frame, { rows: 1, columns: pixels, samplesPerPixel: 1, bitsAllocated: 16 }), /1 segments, expected 2/);
});

test('window presets pair multi-valued tags; applyWindow follows the DICOM linear function', () => {
  assert.deepEqual(windowPresets([40, -600], [400, 1500], ['SOFT', 'LUNG']), [
    { center: 40, width: 400, explanation: 'SOFT' },
    { center: -600, width: 1500, explanation: 'LUNG' },
  ]);
  assert.deepEqual(windowPresets([40], [0], []), []);
  const out = applyWindow([0, 1024, 1064, 1300], 1, -1024, { center: 40, width: 400 }, false);
  assert.equal(out[0], 0); // -1024 HU: below the window
  assert.ok(Math.abs(out[2]! - 128) <= 1); // centre
  assert.equal(out[3], 255);
  assert.equal(applyWindow([1300], 1, -1024, { center: 40, width: 400 }, true)[0], 0); // MONOCHROME1 inverts
});

test('transfer syntaxes: supported ones map to a decoder, others are named', () => {
  for (const uid of ['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.1.99', '1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.57', '1.2.840.10008.1.2.4.70', '1.2.840.10008.1.2.4.80', '1.2.840.10008.1.2.4.81', '1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.4.91', '1.2.840.10008.1.2.5']) {
    assert.notEqual(pixelEncoding(uid), null, uid);
  }
  assert.equal(pixelEncoding('1.2.840.10008.1.2.4.100'), null);
  assert.match(transferSyntaxName('1.2.840.10008.1.2.4.100'), /MPEG2/);
});

test('LRU cache evicts the least recently used entry by bytes', () => {
  const c = new LruCache<string>(10, (v) => v.length);
  c.set('a', 'xxxx');
  c.set('b', 'xxxx');
  assert.equal(c.get('a'), 'xxxx'); // a is now most recent
  c.set('c', 'xxxx'); // 12 > 10: evicts b
  assert.equal(c.get('b'), undefined);
  assert.equal(c.get('a'), 'xxxx');
  assert.equal(c.bytes, 8);
});
