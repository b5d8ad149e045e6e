/**
 * The on-disk format of one cached embedding, and its integrity check. Runtime: pure.
 *
 *   v2: "DLEMB2\n" | u32 LE header length | header JSON (space-padded) | float32 LE payload | sha256 (32 bytes)
 *
 * The trailing sha256 covers every byte before it, so a flipped bit anywhere (magic, length,
 * header, payload) or a truncated file is caught before anything is parsed. v1 files (written
 * before v2) checked only the payload: they stay readable, because recomputing a whole cache
 * costs seconds per image, and every header field that v1 leaves unchecked is either compared
 * here (key, dims vs payload length, payload sha256) or by the caller's expectation
 * (`misfit`: image size, grid); what is left is JSON syntax, which a flip breaks.
 *
 * The header carries the full cache key (so a hash collision or a renamed file is caught),
 * the dtype, the tensor dims and the original image size. Anything that does not match is a
 * `CorruptEntryError`; decoding never throws anything else.
 */
export const MAGIC = 'DLEMB2\n';
const MAGIC_V1 = 'DLEMB1\n';
const DIGEST_BYTES = 32;

export interface EmbeddingHeader {
  key: string;
  dtype: 'float32';
  dims: number[];
  origHeight: number;
  origWidth: number;
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

/** sha256 as lowercase hex; injected so this module stays free of `node:crypto`. */
export type Sha256Hex = (b: Uint8Array) => string;

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });
const PREFIX = enc.encode(MAGIC).length + 4; // magic + u32 header length; both versions

export function encodeEntry(e: CachedEmbedding, sha256: Sha256Hex): Uint8Array {
  const payload = new Uint8Array(e.data.buffer, e.data.byteOffset, e.data.byteLength);
  const header: EmbeddingHeader = { key: e.key, dtype: 'float32', dims: e.dims, origHeight: e.origHeight, origWidth: e.origWidth };
  const h = enc.encode(JSON.stringify(header));
  // Pad the header so the payload starts 4-byte aligned (a Float32Array view needs it).
  const pad = (4 - ((PREFIX + h.length) % 4)) % 4;
  const hlen = h.length + pad;
  const body = PREFIX + hlen + payload.length;
  const out = new Uint8Array(body + DIGEST_BYTES);
  out.set(enc.encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(PREFIX - 4, hlen, true);
  out.fill(0x20, PREFIX, PREFIX + hlen);
  out.set(h, PREFIX);
  out.set(payload, PREFIX + hlen);
  out.set(hexBytes(sha256(out.subarray(0, body))), body);
  return out;
}

export function decodeEntry(bytes: Uint8Array, expectedKey: string, sha256: Sha256Hex): CachedEmbedding {
  const version = versionOf(bytes);
  if (version === 0) throw new CorruptEntryError('bad magic');
  let end = bytes.length;
  if (version === 2) {
    if (bytes.length < PREFIX + DIGEST_BYTES) throw new CorruptEntryError('truncated');
    end -= DIGEST_BYTES;
    if (sha256(bytes.subarray(0, end)) !== hex(bytes.subarray(end))) throw new CorruptEntryError('checksum mismatch');
  } else if (bytes.length < PREFIX) {
    throw new CorruptEntryError('truncated');
  }
  const hlen = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(PREFIX - 4, true);
  const start = PREFIX + hlen;
  if (start > end) throw new CorruptEntryError('header longer than the file');
  let raw: unknown;
  try {
    raw = JSON.parse(dec.decode(bytes.subarray(PREFIX, start)));
  } catch {
    throw new CorruptEntryError('unreadable header');
  }
  const header = checkHeader(raw, version);
  if (header.key !== expectedKey) throw new CorruptEntryError('key differs from the file name');
  const payload = bytes.subarray(start, end);
  const count = header.dims.reduce((a, b) => a * b, 1);
  if (payload.length !== count * 4) throw new CorruptEntryError(`payload has ${payload.length} bytes, dims need ${count * 4}`);
  if (version === 1 && sha256(payload) !== header.sha256) throw new CorruptEntryError('checksum mismatch');
  const data = new Float32Array(count);
  new Uint8Array(data.buffer).set(payload);
  return { key: header.key, data, dims: header.dims, origHeight: header.origHeight, origWidth: header.origWidth };
}

function versionOf(bytes: Uint8Array): 0 | 1 | 2 {
  const starts = (m: string): boolean => enc.encode(m).every((b, i) => bytes[i] === b);
  return starts(MAGIC) ? 2 : starts(MAGIC_V1) ? 1 : 0;
}

const isPositiveInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;

/** The header as parsed JSON, checked field by field: a flipped bit may leave valid JSON of any shape (`null` included). */
function checkHeader(raw: unknown, version: 1 | 2): EmbeddingHeader & { sha256?: string } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new CorruptEntryError('header is not an object');
  const h = raw as Record<string, unknown>;
  if (typeof h.key !== 'string') throw new CorruptEntryError('header has no key');
  if (!Array.isArray(h.dims) || h.dims.length < 1 || h.dims.length > 8 || !h.dims.every(isPositiveInt)) throw new CorruptEntryError('header dims are not positive integers');
  if (!isPositiveInt(h.origHeight) || !isPositiveInt(h.origWidth)) throw new CorruptEntryError('header image size is not positive integers');
  // v1 had no dtype field and was always float32.
  if (version === 2 && h.dtype !== 'float32') throw new CorruptEntryError(`dtype ${JSON.stringify(h.dtype)} is not float32`);
  if (version === 1 && (typeof h.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(h.sha256))) throw new CorruptEntryError('header has no payload checksum');
  return {
    key: h.key,
    dtype: 'float32',
    dims: h.dims as number[],
    origHeight: h.origHeight,
    origWidth: h.origWidth,
    ...(version === 1 ? { sha256: h.sha256 as string } : {}),
  };
}

function hex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

function hexBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}
