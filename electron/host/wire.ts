/**
 * Wire encoding for the browser host: JSON with its Uint8Array fields moved out into a
 * binary tail, so a 512x512 int16 PixelFrame travels as 512 KiB of raw bytes, not as
 * 700 KiB of base64 that both ends would have to encode and decode on every slice.
 *
 * Layout (all integers little-endian):
 *   bytes 0..3   magic "DLN1"
 *   bytes 4..7   u32 byte length N of the UTF-8 JSON that follows
 *   bytes 8..    JSON; every Uint8Array in the value is replaced by {"$bytes":[offset,length]}
 *   then         the blobs, each starting at an offset that is a multiple of 8 from the start
 *                of the message, so the receiver can view them as Int16Array/Float32Array
 *                without copying.
 *
 * Runtime: pure (no `node:*`, no DOM beyond TextEncoder/TextDecoder), shared by the host
 * (Node) and the renderer's HTTP client (Chromium).
 */

export const WIRE_CONTENT_TYPE = 'application/x-delineate-frame';

/**
 * Largest request body the browser host accepts by default (bytes). Browser imports send
 * file contents, so the renderer batches `images.importFiles` below this size.
 */
export const MAX_REQUEST_BYTES = 256 * 1024 * 1024;
/**
 * Largest JSON part of a message. Parsing JSON blocks the event loop (about 10 ms per MB
 * here), so a request may carry big binary blobs but not a huge JSON tree that would stall
 * every other request while it is parsed.
 */
export const MAX_JSON_BYTES = 32 * 1024 * 1024;
const MAGIC = [0x44, 0x4c, 0x4e, 0x31]; // "DLN1"
const HEADER_BYTES = 8;
const ALIGN = 8;
const BYTES_KEY = '$bytes';

/** Thrown when a message cannot be decoded; the host turns it into a 400. */
export class WireFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireFormatError';
  }
}

const alignUp = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

/** Replace every Uint8Array in `value` with a blob reference; collect the blobs in order. */
function extractBlobs(value: unknown, blobs: Uint8Array[], depth = 0): unknown {
  if (depth > 64) throw new WireFormatError('Value nested deeper than 64 levels');
  if (value instanceof Uint8Array) {
    blobs.push(value);
    return { [BYTES_KEY]: blobs.length - 1 }; // index for now, offsets are filled in by encode
  }
  if (Array.isArray(value)) return value.map((v) => extractBlobs(v, blobs, depth + 1));
  if (ArrayBuffer.isView(value)) {
    // Int16Array etc. would silently turn into {"0":..} objects; the contract only uses Uint8Array.
    throw new WireFormatError(`Only Uint8Array binary fields are supported, got ${value.constructor.name}`);
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === BYTES_KEY) throw new WireFormatError(`The key "${BYTES_KEY}" is reserved by the wire format`);
      out[k] = extractBlobs(v, blobs, depth + 1);
    }
    return out;
  }
  return value;
}

export function encodeMessage(value: unknown): Uint8Array {
  const blobs: Uint8Array[] = [];
  const tree = extractBlobs(value, blobs);
  // Offsets depend on the JSON length, which depends on the offsets' digits; compute the
  // blob layout relative to the blob region first, then rewrite refs to absolute offsets
  // by reserving the blob region start after the JSON is known. Two passes keep it exact.
  const relative: number[] = [];
  let cursor = 0;
  for (const b of blobs) {
    relative.push(cursor);
    cursor = alignUp(cursor + b.byteLength);
  }
  const encoder = new TextEncoder();
  // Refs store offsets relative to the blob region; the region starts at alignUp(8 + jsonLength).
  const json = JSON.stringify(tree, (_k, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && BYTES_KEY in v) {
      const index = (v as Record<string, number>)[BYTES_KEY]!;
      return { [BYTES_KEY]: [relative[index]!, blobs[index]!.byteLength] };
    }
    return v;
  });
  const jsonBytes = encoder.encode(json === undefined ? 'null' : json);
  const blobStart = alignUp(HEADER_BYTES + jsonBytes.byteLength);
  const out = new Uint8Array(blobStart + cursor);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(4, jsonBytes.byteLength, true);
  out.set(jsonBytes, HEADER_BYTES);
  blobs.forEach((b, i) => out.set(b, blobStart + relative[i]!));
  return out;
}

function isBlobRef(v: unknown): v is { [BYTES_KEY]: [number, number] } {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  return keys.length === 1 && keys[0] === BYTES_KEY;
}

/**
 * Decode a message. Blobs come back as views into `message` (no copy) when it is 8-byte
 * aligned; an unaligned input is copied once so the views stay usable as typed arrays.
 */
export function decodeMessage(message: Uint8Array): unknown {
  if (message.byteLength < HEADER_BYTES || MAGIC.some((b, i) => message[i] !== b)) {
    throw new WireFormatError('Not a Delineate wire message (bad magic)');
  }
  const buf = message.byteOffset % ALIGN === 0 ? message : message.slice();
  const jsonLength = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint32(4, true);
  if (HEADER_BYTES + jsonLength > buf.byteLength) throw new WireFormatError('Truncated message: JSON runs past the end');
  if (jsonLength > MAX_JSON_BYTES) throw new WireFormatError(`The message's JSON part is ${jsonLength} bytes, more than the ${MAX_JSON_BYTES}-byte limit`);
  const blobStart = alignUp(HEADER_BYTES + jsonLength);
  let tree: unknown;
  try {
    tree = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(HEADER_BYTES, HEADER_BYTES + jsonLength)));
  } catch (e) {
    throw new WireFormatError(`Message JSON is malformed: ${e instanceof Error ? e.message : String(e)}`);
  }
  const revive = (v: unknown, depth: number): unknown => {
    if (depth > 64) throw new WireFormatError('Value nested deeper than 64 levels');
    if (isBlobRef(v)) {
      const ref = v[BYTES_KEY];
      const [offset, length] = Array.isArray(ref) ? ref : [];
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset! < 0 || length! < 0) {
        throw new WireFormatError('Malformed blob reference');
      }
      const start = blobStart + offset!;
      if (start + length! > buf.byteLength) throw new WireFormatError('Truncated message: a blob runs past the end');
      return buf.subarray(start, start + length!);
    }
    if (Array.isArray(v)) return v.map((x) => revive(x, depth + 1));
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      // defineProperty, not assignment: a "__proto__" key stays an own (and so rejectable) key.
      for (const [k, x] of Object.entries(v)) {
        Object.defineProperty(out, k, { value: revive(x, depth + 1), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    return v;
  };
  return revive(tree, 0);
}
