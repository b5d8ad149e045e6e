/**
 * Segment measurements end to end in Chromium through the browser host: a CT series with two
 * ellipsoid lesions of known size (tests/fixtures/ellipsoid-series.ts) imported as a user
 * would, their exact cross-sections saved as masks; selecting a segment in the segment list
 * shows its volume, RECIST axes and HU with units; "slice n" jumps to the largest slice, where
 * the long axis caliper is drawn (yellow on the overlay, a quarter of the way along it); Copy puts
 * the summary on the clipboard; CSV (series) downloads one row per segment and CSV per slice
 * the area of each on each slice; Export SR writes
 * the measurement report. Screenshots go to test-output/e2e/measurements-*.png.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { DelineateApi } from '../../electron/contract/api.ts';
import type { SegmentMeasurement } from '../../electron/contract/measurements.ts';
import { encodeRle } from '../../electron/contract/rle.ts';
import { createHttpApi } from '../../renderer/src/transport/http-client.ts';
import { ctSeries, LESION_A, LESION_B, N, range, trueVolumeMl } from '../fixtures/ellipsoid-series.ts';
import { createProject, importFolder, outputDir, pagePoint, type Session, shot, startSession, waitRendered, within } from './harness.ts';

test('measurements: figures with units, calipers on the largest slice, Copy, CSV, Export SR', { timeout: 600_000 }, async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'delineate-measurements-e2e-'));
  mkdirSync(path.join(tmp, 'in'));
  const series = ctSeries(2, range(0, 40, 2), [LESION_A, LESION_B]);
  for (const f of series.files) writeFileSync(path.join(tmp, 'in', f.name), f.bytes);
  let s: Session | null = null;
  try {
    s = await startSession({ viewport: { width: 1440, height: 1000 } });
    const { page, app } = s;
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: app.origin });
    const api: DelineateApi = createHttpApi({ baseUrl: app.origin, token: app.token });
    await createProject(page, path.join(tmp, 'project'), 'Measurements e2e');
    await importFolder(page, path.join(tmp, 'in'));

    // The lesions' exact cross-sections, saved as instances 1 and 2 of "lesion" (before the series is opened).
    const images = await api.call('images.list', {});
    const idOf = new Map(images.map((i) => [i.fileName, i.id]));
    const lesion = (await api.call('labels.list', {})).find((l) => l.name === 'lesion')!;
    for (const [k, f] of series.files.entries()) {
      for (const [n, m] of series.truth[k]!.entries()) {
        if (m.some((v) => v)) await api.call('masks.save', { imageId: idOf.get(f.name)!, frame: 0, labelId: lesion.id, instance: n + 1, rle: encodeRle(m, N, N), source: 'brush' });
      }
    }
    // The page loaded its masks before these were saved behind its back: load it again.
    await page.reload();
    const expected: SegmentMeasurement = await api.call('segments.measure', { imageId: images[0]!.id, labelId: lesion.id, instance: 1 });
    assert.ok(Math.abs(expected.volume!.value - trueVolumeMl(LESION_A)) / trueVolumeMl(LESION_A) < 0.05);

    await page.getByTestId('browser-row').filter({ hasText: 'Series 2' }).first().click();
    await waitRendered(page);
    const rows = page.getByTestId('segment-row');
    await within(15_000, 'two segments listed', async () => (await rows.count()) === 2);
    await rows.nth(0).getByTestId('segment-name').click();
    const panel = page.getByTestId('segment-measurements');
    await panel.waitFor({ timeout: 15_000 });
    await within(15_000, 'figures shown', async () => (await panel.getByTestId('measure-long').count()) === 1);
    assert.equal(await panel.getByTestId('measure-volume').innerText(), `${Number(expected.volume!.value.toFixed(2))} mL`);
    assert.equal(await panel.getByTestId('measure-long').innerText(), `${Number(expected.longAxis.value.toFixed(1))} mm`);
    assert.equal(await panel.getByTestId('measure-short').innerText(), `${Number(expected.shortAxis.value.toFixed(1))} mm`);
    assert.match(await panel.getByTestId('measure-values').innerText(), /^\d+(\.\d)? ± \d+(\.\d)? \(/);
    assert.match(await panel.innerText(), /HU/);

    // Jump to the largest slice: the long-axis caliper is drawn across the lesion.
    await panel.getByTestId('measure-goto').click();
    await within(10_000, 'on the largest slice', async () => (await waitRendered(page)) === expected.largest.imageId);
    await page.mouse.move(2, 2);
    // The slice's masks arrive after its pixels: wait until lesion A's is on the overlay (inside it, off the calipers).
    const inLesion = await pagePoint(page, 30.5, 48.5, N, N);
    await within(10_000, 'the mask drawn', async () =>
      page.evaluate(({ x, y }) => {
        const c = document.querySelector<HTMLCanvasElement>('[data-testid="mask-overlay"]')!;
        const r = c.getBoundingClientRect();
        return c.getContext('2d')!.getImageData(Math.round(x - r.left), Math.round(y - r.top), 1, 1).data[3]! > 0;
      }, inLesion),
    );
    // A quarter of the way along (the short axis crosses at the middle).
    const mid = { x: (3 * expected.longAxis.from[0] + expected.longAxis.to[0]) / 4, y: (3 * expected.longAxis.from[1] + expected.longAxis.to[1]) / 4 };
    const at = await pagePoint(page, mid.x, mid.y, N, N);
    // The line is 1.6 px wide and antialiased: the most caliper-like pixel of the 3 x 3 around the point.
    const rgba = await page.evaluate(({ x, y }) => {
      const c = document.querySelector<HTMLCanvasElement>('[data-testid="annotation-overlay"]')!;
      const r = c.getBoundingClientRect();
      const d = c.getContext('2d')!.getImageData(Math.round(x - r.left) - 1, Math.round(y - r.top) - 1, 3, 3).data;
      let best = [0, 0, 0, 0];
      for (let i = 0; i < d.length; i += 4) if (d[i]! + d[i + 1]! - 2 * d[i + 2]! > best[0]! + best[1]! - 2 * best[2]!) best = [d[i]!, d[i + 1]!, d[i + 2]!, d[i + 3]!];
      return best;
    }, at);
    assert.ok(rgba[0]! > 200 && rgba[1]! > 170 && rgba[2]! < 90 && rgba[3]! > 200, `caliper yellow (#ffd400) on the long axis, got ${rgba.join(',')}`);
    await shot(page, 'measurements-01-calipers-on-largest-slice');

    // The area on each slice: a collapsed list, opened here; a row per slice the segment is on.
    await panel.getByTestId('measure-slices').locator('summary').click();
    const areas = panel.getByTestId('measure-slice-area');
    await within(5_000, 'the per-slice areas listed', async () => (await areas.count()) === expected.slices.length);
    const k = expected.slices.findIndex((x) => x.index === expected.largest.index);
    assert.equal(await areas.nth(k).innerText(), String(Number(expected.slices[k]!.area.toFixed(1))));
    assert.match(await panel.getByTestId('measure-slices').innerText(), /Area mm²/);
    await panel.screenshot({ path: path.join(outputDir('e2e'), 'measurements-02-panel.png') });

    // Copy: the summary, with units.
    await panel.getByTestId('measure-copy').click();
    await within(5_000, 'copied', async () => (await panel.getByTestId('measure-copy').innerText()) === 'Copied');
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    assert.match(copied, /^lesion 1 \(lesion\), Series 2\nVolume: [\d.]+ mL \(11 of 21 slices\)\nLong axis [\d.]+ mm, short axis [\d.]+ mm \(RECIST 1\.1, on slice \d+, area [\d.]+ mm²\)\nHU mean/);
    assert.equal(copied.split('\n').filter((l) => /^ {2}slice \d+ at [\d.-]+ mm: [\d.]+ mm²/.test(l)).length, 11, 'the area on each of its 11 slices');

    // CSV of the whole series: a header and one row per segment; the areas per slice are a file of their own.
    const [download] = await Promise.all([page.waitForEvent('download'), panel.getByTestId('measure-csv').click()]);
    assert.equal(download.suggestedFilename(), 'Series_2-measurements.csv');
    const csv = readFileSync((await download.path())!, 'utf8').trim().split('\r\n');
    assert.equal(csv.length, 3);
    assert.match(csv[0]!, /^segment,label,label_id,instance,/);
    assert.ok(csv[1]!.startsWith('lesion 1,lesion,') && csv[2]!.startsWith('lesion 2,lesion,'));
    const [perSlice] = await Promise.all([page.waitForEvent('download'), panel.getByTestId('measure-csv-slices').click()]);
    assert.equal(perSlice.suggestedFilename(), 'Series_2-slice-areas.csv');
    const slices = readFileSync((await perSlice.path())!, 'utf8').trim().split('\r\n');
    assert.match(slices[0]!, /^segment,label,label_id,instance,slice,position_mm,area,/);
    assert.equal(slices.filter((l) => l.startsWith('lesion 1,lesion,')).length, expected.slices.length);

    // The second segment: its own figures.
    await rows.nth(1).getByTestId('segment-name').click();
    const b: SegmentMeasurement = await api.call('segments.measure', { imageId: images[0]!.id, labelId: lesion.id, instance: 2 });
    assert.ok(Math.abs(b.longAxis.value - 2 * LESION_B.axes[0]) <= 0.8);
    await within(15_000, 'second segment shown', async () => (await page.getByTestId('segment-measurements').getByTestId('measure-long').innerText().catch(() => '')) === `${Number(b.longAxis.value.toFixed(1))} mm`);

    // Export SR: a job; the toolbar says what it wrote.
    await page.getByTestId('export-sr').click();
    await within(300_000, 'SR written', async () => /^SR v1: 2 slices, 2 segments$/.test((await page.getByTestId('export-state').innerText().catch(() => '')).trim()));
    await shot(page, 'measurements-03-sr-exported');
    assert.deepEqual(s.problems, []);
  } finally {
    await s?.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});

