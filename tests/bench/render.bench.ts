/**
 * Slice-to-slice render time in the viewer, measured in Chromium with performance marks
 * (`delineate:slice-render`: from the slice change to cornerstone's IMAGE_RENDERED with the
 * mask overlay drawn; `delineate:slice-draw`: cornerstone's own draw time inside that).
 *
 * Series: generated CT, DELINEATE_BENCH_SLICES slices (default 100) of 512x512 16-bit,
 * imported into a fresh project through the real browser host and services.
 *
 * Three ways of scrolling, each reported as median/p95 ms:
 *  - wheel60: real wheel events (CDP input, ~60 per second, a user spinning the wheel) on a
 *    fresh page, so slices come from the host as fast as the prefetcher fetches them;
 *    `skipped` counts slice changes superseded before they were drawn (two wheel events in
 *    one frame, or a slice still loading when the next was asked for), `skippedAfterFirst10`
 *    the slices never drawn after the first 10 steps (issue 10's goal: 0);
 *  - stepCold: next slice only after the previous one rendered, fresh page (cache empty);
 *  - stepWarm: the same back up the series, every slice already decoded in the cache.
 *
 * `pixelsFetch` / `pixelsConvert`: the `image.pixels` round trip (host decode + transfer)
 * and the conversion to a cornerstone image, per slice loaded during that pass.
 *
 * `projectOpen50000`: click "Open project" on a 50,000-image project (rows written straight
 * into the store; 500 series of 100) until the grouped list is on screen; goal under 1 s
 * (issue 10). The list travels in columns (images.listing).
 *
 * Goal (issue 2): median under 16 ms.
 *
 * Runtime: Node (bench only).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { outputDir, startSession, waitRendered } from '../e2e/harness.ts';
import { snapshot, spent } from './process-cpu.ts';
import { generateBenchSeries } from '../fixtures/generate-corpus.ts';
import { createHttpApi } from '../../renderer/src/transport/http-client.ts';
import { createServices, PROJECT_DB } from '../../electron/services/index.ts';
import { ImagesRepository, type NewImage } from '../../electron/services/store/images.repository.ts';
import { openProjectDatabase } from '../../electron/services/store/project-database.ts';

/** A project with `count` image rows (50 patients, 100-slice series), written straight into the store: only the renderer's list is measured. */
function writeBigProject(dir: string, count: number): void {
  const s = createServices({ user: 'bench', transport: 'browser', version: 'bench' });
  s['project.create']({ path: dir });
  s.close();
  const db = openProjectDatabase(path.join(dir, PROJECT_DB), { create: false });
  const images = new ImagesRepository(db);
  const at = new Date().toISOString();
  db.transaction(() => {
    for (let i = 0; i < count; i++) {
      const series = Math.floor(i / 100);
      const img: NewImage = {
        sha256: i.toString(16).padStart(64, '0'), kind: 'dicom', format: 'dicom', fileName: `img_${i}.dcm`, folder: `study${series % 10}`,
        mediaPath: `media/${i}.dcm`, byteSize: 524_288, width: 512, height: 512, frames: 1, samplesPerPixel: 1, bitsAllocated: 16,
        bitsStored: 12, signed: true, photometric: 'MONOCHROME2', rescaleSlope: 1, rescaleIntercept: -1024, pixelSpacing: [0.7, 0.7],
        windows: [{ center: 40, width: 400 }], transferSyntax: '1.2.840.10008.1.2.1', modality: 'CT',
        patientName: `Patient^${series % 50}`, patientId: `P${series % 50}`, studyUid: `1.2.3.${series % 50}`, studyDescription: 'CT',
        seriesUid: `1.2.3.${series % 50}.${series}`, seriesDescription: 'AXIAL', seriesNumber: series, sopInstanceUid: `1.2.3.4.${i}`,
        instanceNumber: i % 100, slicePosition: i % 100,
      };
      images.insert(img, at, 'bench');
    }
  })();
  db.close();
}

interface Stats {
  n: number;
  median: number;
  p95: number;
  max: number;
}

function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
  const r = (v: number) => Math.round(v * 100) / 100;
  return { n: s.length, median: r(q(0.5)), p95: r(q(0.95)), max: r(s.at(-1) ?? NaN) };
}

async function takeMeasures(page: Page): Promise<{ render: number[]; renderedIndex: number[]; draw: number[]; fetch: number[]; convert: number[]; pixelsHost: number[][]; requests: Record<string, number> }> {
  // No named inner functions here: tsx would wrap them in a helper that does not exist in the page.
  const out = await page.evaluate(() => ({
    render: performance.getEntriesByName('delineate:slice-render').map((e) => e.duration),
    renderedIndex: performance.getEntriesByName('delineate:slice-render').map((e) => ((e as PerformanceMeasure).detail as { index?: number } | null)?.index ?? -1),
    draw: performance.getEntriesByName('delineate:slice-draw').map((e) => e.duration),
    fetch: performance.getEntriesByName('delineate:pixels-fetch').map((e) => e.duration),
    convert: performance.getEntriesByName('delineate:pixels-convert').map((e) => e.duration),
    // The host's own time per image.pixels (its Server-Timing), and the browser's view of the
    // same requests: queued before a connection was free, and from request start to last byte.
    pixelsHost: performance
      .getEntriesByType('resource')
      .filter((e) => e.name.includes('/api/image.pixels'))
      .map((e) => {
        const r = e as PerformanceResourceTiming;
        return [r.serverTiming.find((t) => t.name === 'host')?.duration ?? NaN, r.requestStart - r.startTime, r.responseEnd - r.requestStart];
      }),
    // API requests the page made meanwhile, by method: what shares the browser's six connections with the pixels.
    requests: performance
      .getEntriesByType('resource')
      .map((e) => /\/api\/([^?]+)/.exec(e.name)?.[1])
      .filter((m): m is string => !!m)
      .reduce<Record<string, number>>((acc, m) => ({ ...acc, [decodeURIComponent(m)]: (acc[decodeURIComponent(m)] ?? 0) + 1 }), {}),
  }));
  await page.evaluate(() => {
    performance.clearMeasures();
    performance.clearResourceTimings();
  });
  return out;
}

/**
 * With DELINEATE_BENCH_PROFILE=1, the renderer's JavaScript CPU profile of a pass is saved
 * as test-output/bench/render-<pass>.cpuprofile (open it in Chromium's DevTools).
 */
async function startProfile(page: Page): Promise<{ stop(name: string): Promise<void> }> {
  const mode = process.env.DELINEATE_BENCH_PROFILE;
  if (mode === 'trace') {
    // The whole browser's timeline (layout, paint, raster, compositing per thread): chrome://tracing or Perfetto.
    const browser = page.context().browser()!;
    await browser.startTracing(page, { categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'cc', 'viz', 'blink', 'gpu', 'toplevel'] });
    return {
      async stop(name) {
        writeFileSync(path.join(outputDir('bench'), `render-${name}.trace.json`), await browser.stopTracing());
      },
    };
  }
  if (mode !== 'node' && mode !== '1') return { stop: async () => {} };
  // The same sampling profiler either way: the host's own V8 (this process) or the page's over CDP.
  let send: (method: string, params?: object) => Promise<unknown>;
  let close: () => Promise<void> | void;
  if (mode === 'node') {
    const { Session } = await import('node:inspector/promises');
    const ses = new Session();
    ses.connect();
    send = (m, p) => ses.post(m, p);
    close = () => ses.disconnect();
  } else {
    const cdp = await page.context().newCDPSession(page);
    send = (m, p) => cdp.send(m as 'Profiler.enable', p);
    close = () => cdp.detach();
  }
  await send('Profiler.enable');
  await send('Profiler.setSamplingInterval', { interval: 200 });
  await send('Profiler.start');
  return {
    async stop(name) {
      const { profile } = (await send('Profiler.stop')) as { profile: unknown };
      writeFileSync(path.join(outputDir('bench'), `${mode === 'node' ? 'node' : 'render'}-${name}.cpuprofile`), JSON.stringify(profile));
      await close();
    },
  };
}

/**
 * Slices passed over without being drawn after the first `first` wheel steps (issue 10's
 * goal: none), from the stack indices the viewer drew; `direction` 1 wheels from slice 0 down.
 */
function skippedAfter(drawn: number[], first: number, slices: number, direction: 1 | -1): number {
  const seen = new Set(drawn);
  let skipped = 0;
  for (let step = first + 1; step < slices; step++) if (!seen.has(direction === 1 ? step : slices - 1 - step)) skipped++;
  return skipped;
}

/** `steps` wheel events of `dy`, paced by the clock at 60 per second; the rate achieved. */
async function wheelAt60(page: Page, steps: number, dy: number): Promise<number> {
  const start = performance.now();
  // Not awaited one by one: each wheel call resolves only after the page handled it, which
  // would pace the events by the round trip instead of by the clock.
  const sent: Promise<void>[] = [];
  for (let i = 0; i < steps; i++) {
    const wait = start + (i + 1) * (1000 / 60) - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    sent.push(page.mouse.wheel(0, dy));
  }
  await Promise.all(sent);
  return steps / ((performance.now() - start) / 1000);
}

async function openSeries(page: Page, slices: number): Promise<void> {
  await page.evaluate(() => performance.setResourceTimingBufferSize(20_000));
  await page.getByTestId('browser-row').filter({ hasText: `${slices} slices` }).click();
  await waitRendered(page, { overlayFrame: false });
  await page.locator('.viewport').hover();
  await takeMeasures(page); // drop the first display (fit, window from file)
}

export default async function renderBench(): Promise<Record<string, unknown>> {
  const slices = Number(process.env.DELINEATE_BENCH_SLICES ?? 100);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'delineate-render-bench-'));
  const session = await startSession({ viewport: { width: 1600, height: 1000 } });
  try {
    const { page, app } = session;
    const api = createHttpApi({ baseUrl: app.origin, token: app.token });
    generateBenchSeries(path.join(tmp, 'series'), slices, 512);
    await api.call('project.create', { path: path.join(tmp, 'project') });
    const report = await api.call('images.importPaths', { paths: [path.join(tmp, 'series')] });
    if (report.imported.length !== slices) throw new Error(`imported ${report.imported.length} of ${slices} slices: ${JSON.stringify(report.failed.slice(0, 3))}`);

    // 1. Real wheel input (through Chromium's input pipeline) at about 60 events/s, fresh page.
    await page.reload();
    await openSeries(page, slices);
    const profile = await startProfile(page);
    const cpuBefore = snapshot(process.pid);
    const wheelRate = await wheelAt60(page, slices - 1, 100);
    await page.waitForFunction((n) => document.querySelector('[data-testid="slice-indicator"]')?.textContent?.includes(`${n} / ${n}`), slices);
    await waitRendered(page, { overlayFrame: false });
    const wheelCpuMsPerSlice = spent(cpuBefore, snapshot(process.pid), slices - 1);
    await profile.stop('wheel60');
    const wheel = await takeMeasures(page);
    // 1b. The same wheel back up, every slice now cached: the slices skipped here are lost to
    // input and frame timing (two events in one frame), not to fetching; the control for 1.
    const warmProfile = await startProfile(page);
    const cpuWarmBefore = snapshot(process.pid);
    const wheelWarmRate = await wheelAt60(page, slices - 1, -100);
    await page.waitForFunction(() => document.querySelector('[data-testid="slice-indicator"]')?.textContent?.startsWith('Slice 1 /'));
    await waitRendered(page, { overlayFrame: false });
    const wheelWarmCpuMsPerSlice = spent(cpuWarmBefore, snapshot(process.pid), slices - 1);
    await warmProfile.stop('wheel60Warm');
    const wheelWarm = await takeMeasures(page);

    // 2. Step by step on a fresh page (nothing cached but what the prefetcher fetches).
    await page.reload();
    await openSeries(page, slices);
    for (let i = 1; i < slices; i++) {
      await page.keyboard.press('ArrowDown');
      await waitRendered(page, { overlayFrame: false });
    }
    const cold = await takeMeasures(page);

    // 3. Back up, every slice cached.
    for (let i = 1; i < slices; i++) {
      await page.keyboard.press('ArrowUp');
      await waitRendered(page, { overlayFrame: false });
    }
    const warm = await takeMeasures(page);

    // 4. Opening a 50,000-image project from the start screen until the browser list shows it.
    const big = path.join(tmp, 'big');
    const bigCount = 50_000;
    writeBigProject(big, bigCount);
    await api.call('project.close', {});
    await page.reload();
    await page.getByTestId('project-path').fill(big);
    const openProfile = await startProfile(page);
    const openStarted = Date.now();
    await page.getByTestId('project-open').click();
    // The list is windowed: the count says all rows arrived, the first rows that they are drawn.
    await page.waitForFunction((n) => document.querySelector('.browser .count')?.textContent === String(n) && document.querySelectorAll('[data-testid="browser-row"]').length > 0, bigCount, { timeout: 60_000 });
    const openMs = Date.now() - openStarted;
    await openProfile.stop('projectOpen50000');
    const listed = await page.locator('.browser .count').textContent();
    const rowsDrawn = await page.getByTestId('browser-row').count();

    const result = {
      series: { slices, size: 512, bits: 16 },
      unit: 'ms',
      goalMedianMs: 16,
      wheel60: { eventsPerSecond: Math.round(wheelRate), render: stats(wheel.render), draw: stats(wheel.draw), skipped: slices - 1 - wheel.render.length, skippedAfterFirst10: skippedAfter(wheel.renderedIndex, 10, slices, 1), pixelsFetch: stats(wheel.fetch), pixelsConvert: stats(wheel.convert), pixelsHostMs: stats(wheel.pixelsHost.map((t) => t[0]!)), pixelsQueuedInBrowserMs: stats(wheel.pixelsHost.map((t) => t[1]!)), pixelsRequestToLastByteMs: stats(wheel.pixelsHost.map((t) => t[2]!)), requests: wheel.requests, cpuMsPerSlice: wheelCpuMsPerSlice },
      wheel60Warm: { eventsPerSecond: Math.round(wheelWarmRate), render: stats(wheelWarm.render), skipped: slices - 1 - wheelWarm.render.length, skippedAfterFirst10: skippedAfter(wheelWarm.renderedIndex, 10, slices, -1), requests: wheelWarm.requests, cpuMsPerSlice: wheelWarmCpuMsPerSlice },
      stepCold: { render: stats(cold.render), draw: stats(cold.draw), pixelsFetch: stats(cold.fetch), pixelsConvert: stats(cold.convert) },
      stepWarm: { render: stats(warm.render), draw: stats(warm.draw) },
      projectOpen50000: { images: Number(listed), seriesRows: bigCount / 100, rowsInDom: rowsDrawn, clickToListMs: openMs, goalMs: 1000, meetsGoal: openMs < 1000 },
      // Thumbnails of the fake rows fail (no media files): those 404s are expected here.
      consoleProblems: session.problems.filter((p) => !p.includes('Failed to load resource')),
    };
    return result;
  } finally {
    await session.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}
