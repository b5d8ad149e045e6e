import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeMessage, encodeMessage, WireFormatError } from '../../electron/host/wire.js';

test('round trip keeps JSON values and every Uint8Array, nested', () => {
  const a = new Uint8Array([1, 2, 3]);
  const b = new Uint8Array(1000).map((_, i) => i % 251);
  const value = { n: 1.5, s: 'é€', none: null, list: [a, { deep: b }], empty: new Uint8Array(0) };
  const out = decodeMessage(encodeMessage(value)) as typeof value;
  assert.equal(out.n, 1.5);
  assert.equal(out.s, 'é€');
  assert.equal(out.none, null);
  assert.ok(out.list[0] instanceof Uint8Array);
  assert.deepEqual([...(out.list[0] as Uint8Array)], [1, 2, 3]);
  assert.deepEqual(Buffer.from((out.list[1] as { deep: Uint8Array }).deep), Buffer.from(b));
  assert.equal(out.empty.byteLength, 0);
});

test('blobs are 8-byte aligned so they can be viewed as Int16Array/Float32Array without a copy', () => {
  const values = new Int16Array([-1024, 0, 3071, -2000, 7]);
  const floats = new Float32Array([0.5, -1.25]);
  for (const label of ['x', 'xx', 'xxx', 'a much longer label to shift the JSON length']) {
    const msg = encodeMessage({ label, odd: new Uint8Array(3), data: new Uint8Array(values.buffer), f: new Uint8Array(floats.buffer) });
    const out = decodeMessage(msg) as { data: Uint8Array; f: Uint8Array };
    assert.equal(out.data.byteOffset % 8, 0);
    assert.equal(out.data.buffer, msg.buffer, 'aligned input is viewed, not copied');
    assert.deepEqual([...new Int16Array(out.data.buffer, out.data.byteOffset, out.data.byteLength / 2)], [...values]);
    assert.deepEqual([...new Float32Array(out.f.buffer, out.f.byteOffset, 2)], [...floats]);
  }
});

test('an unaligned input is copied once and still decodes to aligned views', () => {
  const msg = encodeMessage({ data: new Uint8Array(new Int16Array([1, -2, 3]).buffer) });
  const shifted = new Uint8Array(msg.byteLength + 1);
  shifted.set(msg, 1);
  const out = decodeMessage(shifted.subarray(1)) as { data: Uint8Array };
  assert.equal(out.data.byteOffset % 8, 0);
  assert.deepEqual([...new Int16Array(out.data.buffer, out.data.byteOffset, 3)], [1, -2, 3]);
});

test('malformed messages are refused with WireFormatError', () => {
  assert.throws(() => decodeMessage(new TextEncoder().encode('{"a":1}')), WireFormatError);
  const good = encodeMessage({ data: new Uint8Array(64) });
  assert.throws(() => decodeMessage(good.subarray(0, good.byteLength - 10)), /blob runs past the end/);
  const lying = good.slice();
  new DataView(lying.buffer).setUint32(4, 1_000_000, true);
  assert.throws(() => decodeMessage(lying), /JSON runs past the end/);
  const badJson = encodeMessage({ a: 1 });
  badJson[9] = 0x7b; // corrupt the JSON
  badJson[10] = 0x7b;
  assert.throws(() => decodeMessage(badJson), /malformed/);
  const negRef = new TextEncoder().encode('{"x":{"$bytes":[-8,4]}}');
  const forged = new Uint8Array(8 + negRef.byteLength);
  forged.set([0x44, 0x4c, 0x4e, 0x31]);
  new DataView(forged.buffer).setUint32(4, negRef.byteLength, true);
  forged.set(negRef, 8);
  assert.throws(() => decodeMessage(forged), /Malformed blob reference/);
});

test('other typed arrays and the reserved key are refused at encode time', () => {
  assert.throws(() => encodeMessage({ data: new Int16Array(2) }), /Only Uint8Array/);
  assert.throws(() => encodeMessage({ $bytes: 1 }), /reserved/);
});

test('a "__proto__" key decodes as an own property (so strict schemas can reject it)', () => {
  const json = new TextEncoder().encode('{"__proto__":{"polluted":true}}');
  const msg = new Uint8Array(8 + json.byteLength);
  msg.set([0x44, 0x4c, 0x4e, 0x31]);
  new DataView(msg.buffer).setUint32(4, json.byteLength, true);
  msg.set(json, 8);
  const out = decodeMessage(msg) as Record<string, unknown>;
  assert.ok(Object.prototype.hasOwnProperty.call(out, '__proto__'));
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
});
