/**
 * Compact storage of RLE counts: unsigned LEB128 varints, one after the other.
 * A 512x512 brush stroke is a few hundred runs, i.e. a few hundred bytes.
 *
 * Runtime: pure.
 */
export function countsToBlob(counts: readonly number[]): Uint8Array {
  const out = new Uint8Array(counts.length * 5); // 5 bytes cover 2^35 > any image
  let p = 0;
  for (const c of counts) {
    let v = c;
    while (v >= 0x80) {
      out[p++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    out[p++] = v;
  }
  return out.subarray(0, p);
}

export function countsFromBlob(blob: Uint8Array): number[] {
  const counts: number[] = [];
  let v = 0;
  let scale = 1;
  for (let p = 0; p < blob.length; p++) {
    const b = blob[p]!;
    v += (b & 0x7f) * scale;
    if (b & 0x80) {
      scale *= 128;
    } else {
      counts.push(v);
      v = 0;
      scale = 1;
    }
  }
  if (scale !== 1) throw new Error('RLE counts blob ends inside a varint');
  return counts;
}
