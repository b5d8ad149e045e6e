/**
 * One of several processes sharing an embedding cache folder (embedding-cache-faults.test.ts):
 * writes `count` entries, reads some back, and opens a fresh cache now and then as a restarted
 * app would. After each write it measures the folder (entries and temp files), so the test sees
 * the peak from inside the race as well as from outside.
 *
 *   node --import tsx tests/inference/embedding-cache-writer.child.ts <dir> <limitBytes> <floats> <count> <tag>
 *
 * Prints one JSON line: { stored, notStored, reasons, hits, peakBytes }. Exits non-zero if the
 * cache threw.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { EmbeddingCache } from '../../electron/services/embedding-cache/embedding-cache.node.js';

const [dir, limitArg, floatsArg, countArg, tag] = process.argv.slice(2);
if (!dir || !limitArg || !floatsArg || !countArg || !tag) throw new Error('usage: <dir> <limitBytes> <floats> <count> <tag>');
const limit = Number(limitArg);
const floats = Number(floatsArg);
const count = Number(countArg);

function folderBytes(): number {
  let total = 0;
  for (const name of readdirSync(dir!)) {
    try {
      total += statSync(path.join(dir!, name)).size;
    } catch {
      /* removed meanwhile */
    }
  }
  return total;
}

const side = Math.round(Math.sqrt(floats / 4));
let cache = new EmbeddingCache(dir, limit, { log: () => {} });
const out = { stored: 0, notStored: 0, reasons: [] as string[], hits: 0, peakBytes: 0 };
for (let i = 0; i < count; i++) {
  if (i % 5 === 0) cache = new EmbeddingCache(dir, limit, { log: () => {} }); // a restart
  const key = `${tag}|${i}`;
  const data = new Float32Array(floats).map((_, j) => Math.sin(j + i));
  const r = cache.put({ key, data, dims: [1, 4, side, floats / 4 / side], origHeight: 64, origWidth: 64 });
  if (r.stored) out.stored++;
  else {
    out.notStored++;
    out.reasons.push(r.reason);
  }
  out.peakBytes = Math.max(out.peakBytes, folderBytes());
  if (cache.get(`${tag}|${Math.max(0, i - 2)}`)) out.hits++;
}
process.stdout.write(`${JSON.stringify(out)}\n`);
