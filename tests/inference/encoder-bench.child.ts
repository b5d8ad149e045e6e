/**
 * One encoder variant in its own process, so its peak memory is its own: load the session,
 * run the encoder on a 1024x1024 image `runs` times, print JSON (times, peak RSS).
 *
 *   node --import tsx tests/inference/encoder-bench.child.ts <bundle> <fp32|int8> <runs>
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SamEngine } from '../../electron/services/inference/sam-engine.node.js';
import { modelFiles, parseManifest, type Variant } from '../../electron/services/models/bundle-manifest.js';

const [bundle, variant, runsArg] = process.argv.slice(2) as [string, Variant, string];
const manifest = parseManifest(readFileSync(path.join(bundle, 'model.json'), 'utf8'), bundle);
const files = modelFiles(bundle, manifest, variant, 'bench', path.join);
const engine = new SamEngine();
const size = 1024;
const rgb = new Uint8Array(size * size * 3);
for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 2654435761) >>> 24; // deterministic texture
const image = { width: size, height: size, rgb };
const t0 = performance.now();
await engine.load(files, true);
const loadMs = performance.now() - t0;
const runs: number[] = [];
for (let i = 0; i < Number(runsArg); i++) {
  const t = performance.now();
  await engine.embed(files, image);
  runs.push(performance.now() - t);
}
process.stdout.write(JSON.stringify({ variant, file: path.basename(files.encoder), loadMs, runsMs: runs, peakRssMiB: process.resourceUsage().maxRSS / 1024 }));
