/**
 * Import benchmark: a generated 300-slice 512x512 16-bit CT series into a fresh project
 * (read + sha256 + header parse + copy + insert; pixels stay encoded until viewed).
 * Goal: >= 150 slices/s. Also: first decode of a slice, and a cached re-read (scrolling back).
 *
 *   node --import tsx tests/bench/import.bench.ts
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServices } from '../../electron/services/index.js';
import { generateBenchSeries } from '../fixtures/generate-corpus.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export default async function importBench(opts: { slices?: number; size?: number } = {}) {
  const slices = opts.slices ?? 300;
  const size = opts.size ?? 512;
  const root = mkdtempSync(path.join(os.tmpdir(), 'delineate-import-bench-'));
  try {
    const seriesDir = path.join(root, 'series');
    const files = generateBenchSeries(seriesDir, slices, size);
    const s = createServices({ user: 'bench', transport: 'browser', version: 'bench' });
    s['project.create']({ path: path.join(root, 'project') });
    const load = os.loadavg()[0]!;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const report = await s['images.importPaths']({ paths: [seriesDir] });
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    if (report.imported.length !== files.length) throw new Error(`imported ${report.imported.length} of ${files.length}: ${JSON.stringify(report.failed.slice(0, 3))}`);
    const list = await s['images.list']({});
    // z grows with the file number, so spatial order must equal file order
    const byIndex = [...list].sort((a, b) => a.seriesIndex - b.seriesIndex);
    const ordered = byIndex.every((i, k) => i.seriesIndex === k && i.fileName === path.basename(files[k]!));

    // Viewer-side costs: first decode (read + parse + convert) and the cached re-read.
    const ids = list.slice(0, 30).map((i) => i.id);
    const first: number[] = [];
    const cached: number[] = [];
    for (const id of ids) {
      let t = performance.now();
      await s['image.pixels']({ imageId: id, frame: 0 });
      first.push(performance.now() - t);
      t = performance.now();
      await s['image.pixels']({ imageId: id, frame: 0 });
      cached.push(performance.now() - t);
    }
    const tt = performance.now();
    await s['image.thumbnail']({ imageId: ids[0]! });
    const thumbMs = performance.now() - tt;
    s.close();
    return {
      slices,
      size: `${size}x${size} int16`,
      importMs: Number(ms.toFixed(1)),
      slicesPerSecond: Number(((slices / ms) * 1000).toFixed(1)),
      goalSlicesPerSecond: 150,
      meetsGoal: (slices / ms) * 1000 >= 150,
      // CPU time of this process per slice (user + system): the cost independent of other load on the machine
      cpuMsPerSlice: Number(((cpu.user + cpu.system) / 1000 / slices).toFixed(2)),
      loadAverage1mAtStart: Number(load.toFixed(2)),
      seriesOrdered: ordered,
      decodeFirstMedianMs: Number(median(first).toFixed(2)),
      decodeCachedMedianMs: Number(median(cached).toFixed(3)),
      thumbnailMs: Number(thumbMs.toFixed(1)),
      note: 'source files were just written, so they are in the OS page cache (warm read)',
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await importBench(), null, 2));
}
