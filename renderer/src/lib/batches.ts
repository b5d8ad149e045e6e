/**
 * Splits files into request-sized batches (total bytes and count), keeping order. A file
 * bigger than the byte limit travels alone rather than being dropped; the host then
 * reports it if it is too big.
 *
 * Runtime: pure.
 */
export function batchBySize<T extends { size: number }>(items: readonly T[], maxBytes: number, maxCount: number): T[][] {
  const out: T[][] = [];
  let batch: T[] = [];
  let bytes = 0;
  for (const it of items) {
    if (batch.length > 0 && (bytes + it.size > maxBytes || batch.length >= maxCount)) {
      out.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(it);
    bytes += it.size;
  }
  if (batch.length > 0) out.push(batch);
  return out;
}
