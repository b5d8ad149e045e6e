/**
 * Headless DICOM node benchmark (issue 12): a real Orthanc forwards CT series of 512 x 512
 * slices to the node (the CLI, in its own process); figures from the node's own log clock:
 *
 *  - seconds per 300-slice series from the last instance received to the SEG stored in
 *    Orthanc (the C-STORE of the SEG answered), with the tiny lesion model and with a
 *    vit_b-shaped model (random weights). The idle time that marks a series complete is part
 *    of that latency and is reported on its own;
 *  - series per hour with 1 and 2 workers (tiny model, measured; vit_b extrapolated).
 *
 * vit_b on a CPU takes seconds per slice, so it is measured on two short series (the fixed
 * cost per series and the cost per slice from their difference) and extrapolated to 300
 * slices; the JSON says so.
 *
 *   node --import tsx tests/bench/node.bench.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dicomLock } from '../../electron/services/dicom-export/export.service.js';
import { findPython } from '../../electron/services/runtime/python-path.node.js';
import { startOrthanc, type RunningOrthanc } from '../fixtures/orthanc.js';
import { randomBundle } from '../inference/test-models.js';
import { lesionAutoBundle } from '../headless/lesion-model.js';
import { forwardToNode, freePort, NodeProcess, orthancConfigFor, storeIntoOrthanc, writeTestPackage, type LogEvent } from '../headless/node-harness.js';
import { writeSeries } from '../headless/series-fixture.js';

const IDLE_S = 1;
const SIZE = 512;

interface Run {
  seriesUid: string;
  slices: number;
  /** Last instance received -> SEG stored (s), idle included. */
  latencyS: number;
  /** The node's own processing time for the series (s). */
  processingS: number;
  segSent: boolean;
}

const doneEvent = (uid: string) => (e: LogEvent) => (e.event === 'series_done' || e.event === 'series_done_no_finding') && e.series === uid;

function runOf(node: NodeProcess, uid: string, slices: number): Run {
  const events = node.events();
  const done = events.find(doneEvent(uid))!;
  const last = events.filter((e) => e.event === 'instance_received' && e.series === uid).map((e) => Date.parse(e.at)).reduce((a, b) => Math.max(a, b), 0);
  return { seriesUid: uid, slices, latencyS: (Date.parse(done.at) - last) / 1000, processingS: Number(done.processing_s), segSent: done.event === 'series_done' };
}

async function withNode<T>(
  env: { root: string; orthanc: RunningOrthanc; port: number },
  pkg: string,
  workers: number,
  body: (node: NodeProcess) => Promise<T>,
): Promise<T> {
  const state = mkdtempSync(path.join(env.root, 'state-'));
  const threads = Math.max(1, Math.floor(os.cpus().length / workers));
  const node = new NodeProcess({ pkg, state, port: env.port, orthanc: env.orthanc, workers, idle: IDLE_S, extra: ['--threads', String(threads)] });
  try {
    await node.ready();
    return await body(node);
  } finally {
    await node.kill('SIGTERM');
  }
}

/** Send series (already in Orthanc) to the node at once; wait for all; their runs and the wall time. */
async function burst(node: NodeProcess, orthanc: RunningOrthanc, series: { seriesUid: string; files: string[] }[], timeoutMs: number): Promise<{ runs: Run[]; wallS: number }> {
  const t0 = Date.now();
  await Promise.all(series.map((s) => forwardToNode(orthanc, s.seriesUid)));
  for (const s of series) await node.waitFor(doneEvent(s.seriesUid), timeoutMs, `series ${s.seriesUid} done`);
  const end = Math.max(...series.map((s) => Date.parse(node.events().find(doneEvent(s.seriesUid))!.at)));
  return { runs: series.map((s) => runOf(node, s.seriesUid, s.files.length)), wallS: (end - t0) / 1000 };
}

const round = (x: number, d = 2) => Number(x.toFixed(d));

export default async function nodeBench(opts: { slices?: number; throughputSeries?: number; vitSlices?: [number, number] } = {}) {
  const slices = opts.slices ?? 300;
  const k = opts.throughputSeries ?? 3;
  const [va, vb] = opts.vitSlices ?? [3, 6];
  const root = mkdtempSync(path.join(os.tmpdir(), 'node-bench-'));
  // Other work on the machine skews every figure here: said in the result.
  const loadBefore = os.loadavg()[0]!;
  let orthanc: RunningOrthanc | null = null;
  try {
    const python = await findPython({ lock: dicomLock() });
    const port = await freePort();
    orthanc = await startOrthanc({ config: { ...orthancConfigFor(port), StorageCompression: false } });
    const env = { root, orthanc, port };
    const tinyPkg = (await writeTestPackage(lesionAutoBundle(), path.join(root, 'pkg-tiny'), 'Lesion auto')).folder;
    const vitPkg = (await writeTestPackage(randomBundle('vit_b'), path.join(root, 'pkg-vitb'), 'Random vit_b')).folder;
    let n = 0;
    const make = async (count: number) => {
      const s = writeSeries(path.join(root, 'series'), n++, count, { size: SIZE, run: 1 });
      await storeIntoOrthanc(python, orthanc!, s.files);
      return s;
    };
    process.stderr.write(`node bench: tiny model, one ${slices}-slice series\n`);
    const tinyOne = await withNode(env, tinyPkg, 1, async (node) => (await burst(node, orthanc!, [await make(slices)], 30 * 60_000)).runs[0]!);
    const throughput: Record<string, { series: number; slices: number; wall_s: number; series_per_hour: number; mean_latency_s: number }> = {};
    for (const workers of [1, 2]) {
      process.stderr.write(`node bench: tiny model, ${k} x ${slices} slices, ${workers} worker(s)\n`);
      const batch: Awaited<ReturnType<typeof make>>[] = [];
      for (let i = 0; i < k; i++) batch.push(await make(slices));
      const r = await withNode(env, tinyPkg, workers, (node) => burst(node, orthanc!, batch, 60 * 60_000));
      throughput[`workers_${workers}`] = {
        series: k,
        slices,
        wall_s: round(r.wallS),
        series_per_hour: round((k / r.wallS) * 3600, 1),
        mean_latency_s: round(r.runs.reduce((a, x) => a + x.latencyS, 0) / k),
      };
    }
    process.stderr.write(`node bench: vit_b (random weights), ${va}- and ${vb}-slice series\n`);
    const vit = await withNode(env, vitPkg, 1, async (node) => {
      const a = (await burst(node, orthanc!, [await make(va)], 30 * 60_000)).runs[0]!;
      const b = (await burst(node, orthanc!, [await make(vb)], 30 * 60_000)).runs[0]!;
      return { a, b };
    });
    process.stderr.write(`node bench: vit_b, two ${va}-slice series at once, 2 workers\n`);
    const vit2 = await withNode(env, vitPkg, 2, async (node) => burst(node, orthanc!, [await make(va), await make(va)], 30 * 60_000));
    const perSlice = (vit.b.processingS - vit.a.processingS) / (vb - va);
    const fixed = Math.max(0, vit.a.processingS - perSlice * va);
    const vitLatency300 = IDLE_S + fixed + perSlice * slices;
    // Two workers: slices of both series per second of wall time, beyond the fixed costs.
    const perSlice2 = Math.max(1e-3, (vit2.wallS - IDLE_S - fixed) / (2 * va));
    return {
      slices_per_series: slices,
      image_size: `${SIZE}x${SIZE}`,
      idle_s: IDLE_S,
      cores: os.cpus().length,
      load_average_1m: { before: round(loadBefore), after: round(os.loadavg()[0]!) },
      tiny: {
        latency_s: round(tinyOne.latencyS),
        processing_s: round(tinyOne.processingS),
        seg_sent: tinyOne.segSent,
        throughput,
      },
      vit_b: {
        extrapolated: true,
        note: `too slow on this CPU for ${slices}-slice series: vit_b (random weights) measured on ${va}- and ${vb}-slice series of ${SIZE}x${SIZE} (1 worker) and on two ${va}-slice series at once (2 workers), extrapolated linearly to ${slices} slices`,
        measured: [vit.a, vit.b].map((r) => ({ slices: r.slices, latency_s: round(r.latencyS), processing_s: round(r.processingS), seg_sent: r.segSent })),
        seconds_per_slice: round(perSlice, 3),
        fixed_s_per_series: round(fixed),
        latency_s_300: round(vitLatency300, 1),
        series_per_hour_1_worker: round(3600 / (vitLatency300 - IDLE_S), 2),
        two_workers_measured: { series: 2, slices: va, wall_s: round(vit2.wallS) },
        seconds_per_slice_2_workers: round(perSlice2, 3),
        series_per_hour_2_workers: round(3600 / (fixed + perSlice2 * slices), 2),
      },
    };
  } finally {
    await orthanc?.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await nodeBench(), null, 2));
}
