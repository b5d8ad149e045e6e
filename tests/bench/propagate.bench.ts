/**
 * Propagation time per slice (segments.propagateStart, the whole job through createServices:
 * embedding, decode, prompt, RLE and the draft's SQLite write), with the slices' embeddings
 * computed on the way (cold) and already in the disk cache (cached: the same series again),
 * for the tiny test model and a vit_b-shaped model with random weights (its masks mean
 * nothing; its encoder's cost is vit_b's). Thresholds are 0, so for the tiny model only the
 * series' end stops it; the random vit_b scores its masks below 0 and stops after the first
 * slice each way, which still times one SAM slice per direction, so it is started from three
 * seed slices whose neighbours do not overlap (6 SAM slices a run; samSlices says how many).
 *
 *   node --import tsx tests/bench/propagate.bench.ts
 */
import path from 'node:path';
import { encodeRle } from '../../electron/contract/rle.js';
import { createServices } from '../../electron/services/index.js';
import { randomBundle, tinyBlobBundle } from '../inference/test-models.js';
import { jobEnded, removeDir, tempDir } from '../services/helpers.js';
import { ellipsoidSeries } from '../fixtures/ellipsoid-series.js';

async function measure(bundle: string, slices: number, seedsAt?: readonly number[]) {
  const series = ellipsoidSeries({ slices });
  const dir = tempDir('propagate-bench');
  const s = createServices({ user: 'bench', transport: 'browser', version: 'bench' });
  try {
    await s['project.create']({ path: path.join(dir, 'proj'), name: 'Propagation bench' });
    const report = await s['images.importFiles']({ files: series.files });
    const ids = new Map(report.imported.map((r) => [r.file, r.imageId]));
    const slice = series.files.map((f) => ids.get(f.name)!);
    const label = await s['labels.upsert']({ name: 'Lesion', color: '#ff5a5a' });
    const model = await s['models.import']({ kind: 'bundle', path: bundle });
    const seeds = seedsAt ?? [series.middle];
    for (const k of seeds) {
      await s['masks.save']({ imageId: slice[k]!, frame: 0, labelId: label.id, instance: 1, rle: encodeRle(series.truth[k]!, series.size, series.size), source: 'brush' });
    }
    const run = async () => {
      let wallMs = 0;
      let samSlices = 0;
      let samMs = 0;
      let drafted = 0;
      let slicesRun = 0;
      const states: string[] = [];
      const ends: string[] = [];
      for (const k of seeds) {
        const t0 = performance.now();
        const { jobId } = await s['segments.propagateStart']({ imageId: slice[k]!, frame: 0, labelId: label.id, instance: 1, window: series.window, minIoU: 0, minAreaRatio: 0, direction: 'both' });
        const j = await jobEnded(s, jobId, 60 * 60_000, 20);
        wallMs += performance.now() - t0;
        const o = j.propagated;
        const n = o?.samSlices ?? 0;
        samSlices += n;
        samMs += (o?.msPerSlice ?? 0) * n;
        drafted += o?.drafted ?? 0;
        slicesRun += j.step ?? 0;
        states.push(j.state);
        ends.push(...(o?.ends.map((e) => `from ${k}, ${e.direction}: ${e.reason}`) ?? []));
        await s['segments.discardDrafts']({ imageId: slice[k]!, labelId: label.id, instance: 1 });
      }
      return {
        state: [...new Set(states)].join(','),
        seeds: seeds.length,
        slicesRun,
        drafted,
        samSlices,
        ends,
        msPerSlice: samSlices > 0 ? Number((samMs / samSlices).toFixed(1)) : null,
        wallMsPerSlice: samSlices > 0 ? Number((wallMs / samSlices).toFixed(1)) : null,
      };
    };
    const cold = await run();
    const cached = await run();
    return { model: model.arch, imageSize: model.imageSize, series: `${slices} slices of ${series.size}x${series.size}`, cold, cached, coldOverCached: cold.msPerSlice && cached.msPerSlice ? Number((cold.msPerSlice / cached.msPerSlice).toFixed(1)) : null };
  } finally {
    await s.close();
    removeDir(dir);
  }
}

export default async function bench() {
  const tiny = await measure(tinyBlobBundle(), 21);
  const vitB = await measure(randomBundle('vit_b'), 9, [1, 4, 7]);
  return { tiny, vit_b: vitB };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(JSON.stringify(await bench(), null, 2));
