/**
 * The side files an ONNX model keeps its weights in ("external data"). Models past
 * protobuf's 2 GB limit (a vit_h encoder) must be saved this way, and onnxruntime finds the
 * side files by the relative `location` written in each tensor, so an import that renames or
 * moves the .onnx file has to carry them along under their own names.
 *
 * Runtime: node. Reads the protobuf bytes directly: each location is a
 * StringStringEntryProto { key = "location" (field 1), value = file name (field 2) }, which is
 * encoded as 0x0a 0x08 "location" 0x12 <varint length> <name>. We do not decode the whole
 * model for this (onnxruntime-node exposes no graph API, and a protobuf dependency for one
 * field is not worth it); every hit must also be a plain file name that exists next to the
 * model, so stray bytes in inline weights cannot smuggle anything in.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import path from 'node:path';

const KEY = Buffer.from([0x0a, 0x08, ...Buffer.from('location', 'ascii'), 0x12]);
/** Above this the .onnx itself holds the weights (external-data models are small): skip the scan. */
const MAX_SCAN_BYTES = 2 ** 31;
/** Scanned in chunks, so a model with inline weights (vit_l: 1.2 GB) is never held in memory whole. */
const CHUNK_BYTES = 16 * 1024 * 1024;
/** Longest match: the key, a varint length (≤ 5 bytes) and a name of at most 4096 bytes. */
const OVERLAP_BYTES = KEY.length + 5 + 4096;

function readVarint(buf: Buffer, at: number): { value: number; next: number } | null {
  let value = 0;
  for (let shift = 0, i = at; i < buf.length && shift < 35; shift += 7, i++) {
    const b = buf[i]!;
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return { value, next: i + 1 };
  }
  return null;
}

/** A name onnxruntime resolves inside the model's folder: no separators, no parent steps. */
export function isPlainFileName(name: string): boolean {
  return name.length > 0 && name.length <= 255 && !/[\\/\0]/.test(name) && name !== '.' && name !== '..';
}

/** Names in `bytes` that follow the external-data location key (unchecked, de-duplicated). */
export function locationsIn(bytes: Buffer): string[] {
  const found = new Set<string>();
  for (let at = bytes.indexOf(KEY); at !== -1; at = bytes.indexOf(KEY, at + 1)) {
    const len = readVarint(bytes, at + KEY.length);
    if (!len || len.value === 0 || len.value > 4096 || len.next + len.value > bytes.length) continue;
    found.add(bytes.toString('utf8', len.next, len.next + len.value));
  }
  return [...found];
}

/**
 * External data files of `modelPath`, as names relative to its folder. Throws a message
 * naming the model when one is not a plain file name or is missing.
 */
export function externalDataFiles(modelPath: string): string[] {
  if (statSync(modelPath).size >= MAX_SCAN_BYTES) return [];
  const names = new Set<string>();
  const fd = openSync(modelPath, 'r');
  try {
    const buf = Buffer.alloc(CHUNK_BYTES + OVERLAP_BYTES);
    let kept = 0; // bytes carried over from the previous chunk, so a match across chunks is found
    for (let pos = 0; ; ) {
      const n = readSync(fd, buf, kept, CHUNK_BYTES, pos);
      if (n === 0) break;
      pos += n;
      const filled = kept + n;
      for (const name of locationsIn(buf.subarray(0, filled))) names.add(name);
      kept = Math.min(OVERLAP_BYTES, filled);
      buf.copy(buf, 0, filled - kept, filled);
    }
  } finally {
    closeSync(fd);
  }
  const dir = path.dirname(modelPath);
  for (const n of names) {
    if (!isPlainFileName(n)) throw new Error(`${modelPath}: external data location ${JSON.stringify(n)} is not a file next to the model`);
    if (!existsSync(path.join(dir, n))) throw new Error(`${modelPath}: its weights file ${n} is missing (it must sit next to the .onnx file)`);
  }
  return [...names];
}
