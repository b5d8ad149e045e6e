/**
 * Compressed and deflated transfer syntaxes, decoded through the same path as imports:
 * frames encoded here with the encoder builds of the same codec libraries (CharLS,
 * OpenJPEG) or node:zlib, wrapped in DICOM with dcmjs, then parsed and decoded.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { test } from 'node:test';
import { decodeDicomFrame, parseDicomFile } from '../../electron/services/imaging/dicom-file.js';
import { FileProblem } from '../../electron/services/imaging/file-problem.js';
import { int16PixelModule, le, writeDicom } from '../fixtures/dicom-writer.js';
import { encodeJpegLossless } from '../fixtures/jpeg-lossless-writer.js';
import { newProject, removeDir, sample } from './helpers.js';

const require = createRequire(import.meta.url);
const W = 64;
const H = 48;
const value = (x: number, y: number) => (x * 97 - y * 53 + ((x * y) % 17)) - 1500; // signed, noisy: lossless must be exact

function pixels(): Int16Array {
  const px = new Int16Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) px[y * W + x] = value(x, y);
  return px;
}

const header = {
  SOPInstanceUID: '1.2.826.0.1.3680043.10.1234.1000.1',
  StudyInstanceUID: '1.2.826.0.1.3680043.10.1234.1000',
  SeriesInstanceUID: '1.2.826.0.1.3680043.10.1234.1000.1.1',
  Modality: 'CT',
  ...int16PixelModule(H, W, 0),
};

interface WasmEncoder {
  getDecodedBuffer(info: { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned: boolean }): Uint8Array;
  encode(): void;
  getEncodedBuffer(): Uint8Array;
  delete(): void;
}

async function encodeWith(spec: string, ctor: string, px: Int16Array): Promise<Uint8Array> {
  const mod = (await (require(spec) as () => Promise<Record<string, new () => WasmEncoder>>)()) as Record<string, new () => WasmEncoder>;
  const enc = new mod[ctor]!();
  try {
    enc.getDecodedBuffer({ width: W, height: H, bitsPerSample: 16, componentCount: 1, isSigned: true }).set(le(px));
    enc.encode();
    return enc.getEncodedBuffer().slice();
  } finally {
    enc.delete();
  }
}

async function assertRoundTrip(transferSyntax: string, frame: Uint8Array) {
  const file = writeDicom(header, { transferSyntax, pixelFrames: [frame] });
  const parsed = parseDicomFile(file);
  assert.equal(parsed.header.transferSyntax, transferSyntax);
  const f = await decodeDicomFrame(parsed, 0);
  assert.equal(f.dtype, 'int16');
  for (let y = 0; y < H; y += 5) for (let x = 0; x < W; x += 3) assert.equal(sample(f, x, y), value(x, y), `${transferSyntax} (${x},${y})`);
}

test('JPEG-LS lossless (1.2.840.10008.1.2.4.80), signed 16-bit, decodes exactly', async () => {
  await assertRoundTrip('1.2.840.10008.1.2.4.80', await encodeWith('@cornerstonejs/codec-charls/wasmjs', 'JpegLSEncoder', pixels()));
});

test('JPEG 2000 lossless (1.2.840.10008.1.2.4.90), signed 16-bit, decodes exactly', async () => {
  await assertRoundTrip('1.2.840.10008.1.2.4.90', await encodeWith('@cornerstonejs/codec-openjpeg/wasmjs', 'J2KEncoder', pixels()));
});

test('JPEG lossless first-order (1.2.840.10008.1.2.4.70), signed 16-bit, decodes exactly', async () => {
  const px = pixels();
  await assertRoundTrip('1.2.840.10008.1.2.4.70', encodeJpegLossless(new Uint16Array(px.buffer), W, H, 16));
});

test('JPEG lossless (1.2.840.10008.1.2.4.57), unsigned 12-bit, decodes exactly', async () => {
  const px = new Uint16Array(W * H);
  for (let i = 0; i < px.length; i++) px[i] = (i * 37) % 4096;
  const file = writeDicom(
    { ...header, BitsStored: 12, HighBit: 11, PixelRepresentation: 0 },
    { transferSyntax: '1.2.840.10008.1.2.4.57', pixelFrames: [encodeJpegLossless(px, W, H, 12)] },
  );
  const f = await decodeDicomFrame(parseDicomFile(file), 0);
  assert.equal(f.dtype, 'uint16');
  for (let i = 0; i < px.length; i += 7) assert.equal(sample(f, i % W, Math.floor(i / W)), px[i]);
});

test('Deflated Explicit VR Little Endian (1.2.840.10008.1.2.1.99) decodes exactly', async () => {
  // dcmjs writes the dataset uncompressed; deflate everything after the file meta group, as the syntax says.
  const plain = writeDicom(header, { transferSyntax: '1.2.840.10008.1.2.1', pixelFrames: [le(pixels())] });
  const deflatedUid = '1.2.840.10008.1.2.1.99';
  const withUid = writeDicom(header, { transferSyntax: deflatedUid, pixelFrames: [le(pixels())] });
  const metaEnd = (b: Buffer) => 132 + 12 + b.readUInt32LE(140); // (0002,0000) UL value after tag+VR+len
  const file = Buffer.concat([withUid.subarray(0, metaEnd(withUid)), deflateRawSync(plain.subarray(metaEnd(plain)))]);
  assert.ok(file.length < plain.length);
  const parsed = parseDicomFile(file);
  assert.equal(parsed.header.transferSyntax, deflatedUid);
  const f = await decodeDicomFrame(parsed, 0);
  for (let y = 0; y < H; y += 5) for (let x = 0; x < W; x += 3) assert.equal(sample(f, x, y), value(x, y));
});

test('a compressed frame that is garbage fails with a clear error, not a crash', async () => {
  const file = writeDicom(header, { transferSyntax: '1.2.840.10008.1.2.4.80', pixelFrames: [Uint8Array.from([0xff, 0xd8, 1, 2, 3, 4, 0xff, 0xd9])] });
  const parsed = parseDicomFile(file);
  await assert.rejects(decodeDicomFrame(parsed, 0), (e: unknown) =>
    e instanceof FileProblem && /could not be decoded \(JPEG-LS Lossless\)/.test(e.message) && /JpegLSDecoder/.test(e.detail ?? ''));
  assert.throws(() => parseDicomFile(Buffer.from('not dicom at all')), (e: unknown) => e instanceof FileProblem && e.code === 'not_dicom');
  // at import the first frame is decoded, so the report says so instead of the viewer failing later
  const { s, dir } = newProject();
  const r = await s['images.importFiles']({ files: [{ name: 'bad-jls.dcm', bytes: new Uint8Array(file) }] });
  assert.equal(r.failed[0]?.code, 'unreadable');
  assert.match(r.failed[0]!.reason, /frame 1 could not be decoded/);
  assert.match(r.failed[0]!.detail ?? '', /JpegLSDecoder/);
  s.close();
  removeDir(path.dirname(dir));
});
