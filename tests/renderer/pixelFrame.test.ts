import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convertFrame } from '../../renderer/src/viewer/pixelFrame.ts';
import type { PixelFrame } from '../../electron/contract/api.ts';

function frame(p: Partial<PixelFrame> & Pick<PixelFrame, 'data' | 'dtype'>): PixelFrame {
  return { width: 2, height: 2, samplesPerPixel: 1, photometric: 'MONOCHROME2', rescaleSlope: 1, rescaleIntercept: 0, minValue: 0, maxValue: 0, ...p };
}

test('int16 CT frame keeps stored values and rescale', () => {
  const px = new Int16Array([-1000, 0, 40, 3000]);
  const c = convertFrame(frame({ dtype: 'int16', data: new Uint8Array(px.buffer), minValue: -1000, maxValue: 3000, rescaleIntercept: -1024 }));
  assert.ok(c.pixels instanceof Int16Array);
  assert.deepEqual([...c.pixels], [-1000, 0, 40, 3000]);
  assert.equal(c.intercept, -1024);
  assert.equal(c.minPixelValue, -1000);
  assert.equal(c.color, false);
});

test('unaligned bytes are copied, MONOCHROME1 sets invert', () => {
  const buf = new Uint8Array(9);
  new DataView(buf.buffer).setUint16(1, 513, true);
  const c = convertFrame(frame({ dtype: 'uint16', width: 1, height: 1, data: buf.subarray(1, 3), maxValue: 513, photometric: 'MONOCHROME1' }));
  assert.equal(c.pixels[0], 513);
  assert.equal(c.invert, true);
});

test('RGB becomes RGBA bytes', () => {
  const c = convertFrame(frame({ dtype: 'uint8', width: 2, height: 1, samplesPerPixel: 3, photometric: 'RGB', data: new Uint8Array([1, 2, 3, 4, 5, 6]), maxValue: 6 }));
  assert.equal(c.color, true);
  assert.deepEqual([...c.pixels], [1, 2, 3, 255, 4, 5, 6, 255]);
});

test('float32 is re-quantised with a rescale that preserves modality values', () => {
  const f = new Float32Array([-0.5, 0, 0.25, 1.5]);
  const c = convertFrame(frame({ dtype: 'float32', data: new Uint8Array(f.buffer), minValue: -0.5, maxValue: 1.5 }));
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(c.pixels[i]! * c.slope + c.intercept - f[i]!) < 1e-4);
});

test('short data is rejected with the sizes', () => {
  assert.throws(() => convertFrame(frame({ dtype: 'uint16', data: new Uint8Array(3) })), /too short: 3 bytes for 2x2x1 uint16/);
});
