/**
 * Wheeling through a series that is not cached yet (issue 10): a real browser host in its
 * own process, asked for slices the way the viewer asks while a person spins the wheel at
 * 60 events/s (see scroll-client.ts), with each frame decoder side by side in the same run:
 *
 *  - in-process: decoding on the host's event loop (before issue 10);
 *  - pool:N: decoding in N worker threads (the app uses defaultDecodeWorkers()).
 *
 * Two series of 100 CT slices, 512x512 16-bit: uncompressed (Explicit VR Little Endian, a
 * few ms per slice) and JPEG 2000 lossless (made with GDCM's gdcmconv, ~50 ms per slice;
 * left out with a note where gdcmconv is missing). Each (series, decoder) runs in a fresh
 * host process, so every run starts cold; rounds are interleaved and the median round is
 * reported, with ratios against in-process.
 *
 * Per run: slices drawn of 99 wheel steps, the steps skipped (all, and after the first
 * 10: the goal is none), image.pixels latency (median/p95 ms), the latency of a request
 * for a slice already decoded while the others decode (median/p95/max ms), and the host's
 * event-loop delay (p99/max ms).
 *
 * Runtime: Node (bench only).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ImageSummary } from '../../electron/contract/api.ts';
import { defaultDecodeWorkers } from '../../electron/services/imaging/decode-pool.node.ts';
import { InProcessDecoder } from '../../electron/services/imaging/frame-job.node.ts';
import { createServices } from '../../electron/services/index.ts';
import { generateBenchSeries } from '../fixtures/generate-corpus.ts';
import { browserLikeApi, wheelThroughCold, type WheelResult } from './scroll-client.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SLICES = Number(process.env.DELINEATE_BENCH_SLICES ?? 100);
const ROUNDS = Number(process.env.DELINEATE_BENCH_ROUNDS ?? 3);

function stats(xs: number[]): { n: number; median: number; p95: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
  const r = (v: number) => Math.round(v * 10) / 10;
  return { n: s.length, median: r(q(0.5)), p95: r(q(0.95)), max: r(s.at(-1) ?? NaN) };
}

function hasTool(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The series re-encoded as JPEG 2000 (lossless) by GDCM. */
function toJpeg2000(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const f of readdirSync(from)) execFileSync('gdcmconv', ['--j2k', path.join(from, f), path.join(to, f)], { stdio: 'ignore' });
}

/** A project holding the series; returns its folder and the slices in viewer order. */
async function makeProject(dir: string, series: string): Promise<{ imageId: number; frame: number }[]> {
  const s = createServices({ user: 'bench', transport: 'browser', version: 'bench', decoder: new InProcessDecoder() });
  try {
    s['project.create']({ path: dir });
    const report = await s['images.importPaths']({ paths: [series] });
    if (report.imported.length !== SLICES) throw new Error(`imported ${report.imported.length} of ${SLICES}: ${JSON.stringify(report.failed.slice(0, 2))}`);
    const list = (await s['images.list']({})) as ImageSummary[];
    return list.sort((a, b) => (a.seriesIndex ?? 0) - (b.seriesIndex ?? 0)).map((i) => ({ imageId: i.id, frame: 0 }));
  } finally {
    await s.close();
  }
}

interface Run extends WheelResult {
  loopDelayMs: { p50: number; p99: number; max: number };
}

async function runOnce(project: string, decoder: string, stack: { imageId: number; frame: number }[]): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join('tests', 'bench', 'scroll-host.child.ts'), project, decoder], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  // The codecs print to stdout; the host's lines are the JSON ones.
  const nextJson = async (): Promise<Record<string, unknown>> => {
    for (;;) {
      const { value, done } = await lines.next();
      if (done) throw new Error(`the ${decoder} host exited before answering`);
      if (value.startsWith('{')) return JSON.parse(value) as Record<string, unknown>;
    }
  };
  try {
    const { origin, token } = (await nextJson()) as { origin: string; token: string };
    const page = browserLikeApi(origin, token, 6);
    const probe = browserLikeApi(origin, token, 1);
    let result: WheelResult;
    try {
      result = await wheelThroughCold(page.api, probe.api, stack);
    } finally {
      page.close();
      probe.close();
    }
    child.stdin!.end();
    const { loopDelayMs } = (await nextJson()) as Pick<Run, 'loopDelayMs'>;
    return { ...result, loopDelayMs };
  } finally {
    child.kill();
  }
}

function summary(runs: Run[]) {
  // The round with the median number of slices drawn stands for the decoder.
  const sorted = [...runs].sort((a, b) => a.drawn - b.drawn);
  const m = sorted[Math.floor(sorted.length / 2)]!;
  return {
    drawn: m.drawn,
    drawnPerRound: runs.map((r) => r.drawn),
    skippedAfterFirst10: m.skipped.filter((i) => i > 10).length,
    skipped: m.skipped,
    eventsPerSecond: m.eventsPerSecond,
    firstSliceMs: Math.round(m.firstSliceMs),
    requestMs: stats(m.requestMs),
    cachedProbeMs: stats(m.cachedProbeMs),
    hostLoopDelayMs: m.loopDelayMs,
    errors: [...new Set(runs.flatMap((r) => r.errors))],
  };
}

export default async function scrollBench(): Promise<Record<string, unknown>> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'delineate-scroll-bench-'));
  try {
    const raw = path.join(tmp, 'raw');
    generateBenchSeries(raw, SLICES, 512);
    const series: Record<string, string> = { uncompressed: raw };
    const notes: string[] = [];
    if (hasTool('gdcmconv')) {
      toJpeg2000(raw, path.join(tmp, 'j2k'));
      series.jpeg2000 = path.join(tmp, 'j2k');
    } else notes.push('gdcmconv not found (apt-get install libgdcm-tools): the JPEG 2000 series is left out');

    const workers = defaultDecodeWorkers();
    const decoders = [...new Set(['in-process', 'pool:1', `pool:${Math.max(2, workers)}`])];
    const out: Record<string, unknown> = {};
    for (const [name, dir] of Object.entries(series)) {
      const project = path.join(tmp, `project-${name}`);
      const stack = await makeProject(project, dir);
      const runs: Record<string, Run[]> = Object.fromEntries(decoders.map((d) => [d, []]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const d of decoders) {
          const r = await runOnce(project, d, stack);
          runs[d]!.push(r);
          process.stderr.write(`[scroll] ${name} ${d} round ${round + 1}: drawn ${r.drawn}/${SLICES - 1}, host loop delay max ${r.loopDelayMs.max} ms\n`);
        }
      }
      const byDecoder = Object.fromEntries(decoders.map((d) => [d, summary(runs[d]!)]));
      const base = byDecoder['in-process']!;
      const ratios = Object.fromEntries(
        decoders
          .filter((d) => d !== 'in-process')
          .map((d) => {
            const v = byDecoder[d]!;
            const r = (a: number, b: number) => Math.round((a / b) * 100) / 100;
            return [d, { drawn: r(v.drawn, base.drawn), requestMedian: r(v.requestMs.median, base.requestMs.median), cachedProbeP95: r(v.cachedProbeMs.p95, base.cachedProbeMs.p95) }];
          }),
      );
      out[name] = { decoders: byDecoder, ratiosVsInProcess: ratios };
    }
    return {
      slices: SLICES,
      size: 512,
      rounds: ROUNDS,
      appDecodeWorkers: workers,
      goal: 'a cold series wheeled at 60 events/s skips no slice after the first 10',
      ...out,
      notes,
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
