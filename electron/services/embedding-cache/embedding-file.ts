/**
 * The on-disk format of one cached embedding, and its integrity check. Runtime: pure.
 *
 *   "DLEMB1\n" | u32 LE header length | header JSON | float32 LE payload
 *
 * The header carries the full cache key (so a hash collision or a renamed file is caught),
 * the tensor dims, the original image size and the sha256 of the payload. A file whose magic,
 * header, length or checksum does not match is corrupt: the cache discards it.
 */
export const MAGIC = 'DLEMB1\n';

export interface EmbeddingHeader {
  key: string;
  dims: number[];
  origHeight: number;
  origWidth: number;
  sha256: string;
}

export interface CachedEmbedding {
  key: string;
  data: Float32Array;
  dims: number[];
  origHeight: number;
  origWidth: number;
}

export class CorruptEntryError extends Error {
  constructor(reason: string) {
    super(`corrupt embedding cache entry: ${reason}`);
    this.name = 'CorruptEntryError';
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

export function encodeEntry(e: CachedEmbedding, sha256: (b: Uint8Array) => string): Uint8Array {
  const payload = new Uint8Array(e.data.buffer, e.data.byteOffset, e.data.byteLength);
  const header: EmbeddingHeader = { key: e.key, dims: e.dims, origHeight: e.origHeight, origWidth: e.origWidth, sha256: sha256(payload) };
  const h = enc.encode(JSON.stringify(header));
  const magic = enc.encode(MAGIC);
  // Pad the header so the payload starts 4-byte aligned (a Float32Array view needs it).
  const pad = (4 - ((magic.length + 4 + h.length) % 4)) % 4;
  const headerBytes = new Uint8Array(h.length + pad).fill(0x20);
  headerBytes.set(h);
  const out = new Uint8Array(magic.length + 4 + headerBytes.length + payload.length);
  out.set(magic, 0);
  new DataView(out.buffer).setUint32(magic.length, headerBytes.length, true);
  out.set(headerBytes, magic.length + 4);
  out.set(payload, magic.length + 4 + headerBytes.length);
  return out;
}

export function decodeEntry(bytes: Uint8Array, expectedKey: string, sha256: (b: Uint8Array) => string): CachedEmbedding {
  const magic = enc.encode(MAGIC);
  if (bytes.length < magic.length + 4 || !magic.every((b, i) => bytes[i] === b)) throw new CorruptEntryError('bad magic');
  const hlen = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(magic.length, true);
  const start = magic.length + 4 + hlen;
  if (start > bytes.length) throw new CorruptEntryError('header longer than the file');
  let header: EmbeddingHeader;
  try {
    header = JSON.parse(dec.decode(bytes.subarray(magic.length + 4, start))) as EmbeddingHeader;
  } catch {
    throw new CorruptEntryError('unreadable header');
  }
  if (header.key !== expectedKey) throw new CorruptEntryError('key differs from the file name');
  const count = header.dims.reduce((a, b) => a * b, 1);
  const payload = bytes.subarray(start);
  if (payload.length !== count * 4) throw new CorruptEntryError(`payload has ${payload.length} bytes, dims need ${count * 4}`);
  if (sha256(payload) !== header.sha256) throw new CorruptEntryError('checksum mismatch');
  const data = new Float32Array(payload.length / 4);
  new Uint8Array(data.buffer).set(payload);
  return { key: header.key, data, dims: header.dims, origHeight: header.origHeight, origWidth: header.origWidth };
}
