/**
 * Carrying a mask through the slices, end to end in Chromium: a CT series with an ellipsoid
 * lesion, its true mask accepted on the middle slice and the tiny SAM model installed; the
 * Propagate section shows its two thresholds (set here as a user would for this model), runs
 * the job with progress, and lists the drafts; stepping to a draft shows it with a dashed
 * border; Accept, then Accept all turn the drafts into ordinary masks; the segment list then
 * shows one segment over all those slices, and its measurements and RECIST calipers come
 * from the propagated masks. Screenshots under test-output/e2e/propagation-*.png.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createProject, type Session, shot, startSession, text, waitRendered, within } from './harness.ts';
import { createHttpApi } from '../../renderer/src/transport/http-client.ts';
import type { DelineateApi } from '../../electron/contract/api.ts';
import { encodeRle } from '../../electron/contract/rle.ts';
import { spanText } from '../../renderer/src/segments/segmentText.ts';
import { tinyBlobBundle } from '../inference/test-models.ts';
import { ellipsoidSeries } from '../fixtures/ellipsoid-series.ts';

test('Propagate: thresholds, progress, drafts drawn dashed, accept one and all, then the segment list and calipers', { timeout: 600_000 }, async () => {
  const bundle = tinyBlobBundle();
  const series = ellipsoidSeries();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'delineate-propagation-e2e-'));
  let s: Session | null = null;
  try {
    s = await startSession();
    const { page, app } = s;
    const api: DelineateApi = createHttpApi({ baseUrl: app.origin, token: app.token });
    await createProject(page, path.join(tmp, 'project'), 'Propagation e2e');
    // The series, the model and the accepted middle mask, through the API; then reload.
    const report = await api.call('images.importFiles', { files: series.files });
    const ids = new Map(report.imported.map((r) => [r.file, r.imageId]));
    const slice = series.files.map((f) => ids.get(f.name)!);
    const label = (await api.call('labels.list', {}))[0]!; // a new project's first label: the one selected
    await api.call('models.import', { kind: 'bundle', path: bundle });
    const mid = series.middle;
    await api.call('masks.save', { imageId: slice[mid]!, frame: 0, labelId: label.id, instance: 1, rle: encodeRle(series.truth[mid]!, series.size, series.size), source: 'brush', window: series.window });
    await page.reload();
    await page.getByTestId('browser-row').first().click();
    await waitRendered(page);
    for (let i = 0; i < mid; i++) await page.keyboard.press('ArrowDown');
    await within(10_000, 'middle slice shown', async () => (await page.locator('.viewport').getAttribute('data-image-id')) === String(slice[mid]));
    await waitRendered(page);

    const panel = page.getByTestId('propagation-panel');
    await panel.scrollIntoViewIfNeeded();
    // The tiny model's IoU head says ~0.4 for everything: a user lowers that threshold (and the area one).
    await page.getByTestId('propagate-min-iou-input').fill('0.3');
    await page.getByTestId('propagate-min-area-input').fill('0.2');
    assert.equal(await text(page, 'propagate-min-iou'), '0.30');
    assert.equal(await text(page, 'propagate-min-area'), '20%');
    await shot(page, 'propagation-01-ready');
    await page.getByTestId('propagate').click();
    await shot(page, 'propagation-02-running'); // the progress bar, if the job has not ended yet
    await page.getByTestId('propagate-result').waitFor({ timeout: 120_000 });
    const result = await text(page, 'propagate-result');
    assert.match(result, /^\d+ draft slices to review/);
    const drafts = await api.call('segments.drafts', { imageId: slice[0]! });
    assert.ok(drafts.length >= 8, `${drafts.length} drafts`);
    await within(10_000, 'draft count shown', async () => (await text(page, 'draft-count')).startsWith(`${drafts.length} drafts`));
    await shot(page, 'propagation-02-done-list');

    // Next draft: the slice below the middle, drawn with a dashed border and tagged.
    await page.getByTestId('draft-next').click();
    await within(10_000, 'on a draft slice', async () => (await page.getByTestId('draft-overlay').getAttribute('data-drafts')) === '1');
    await waitRendered(page);
    await page.getByTestId('draft-tag').waitFor();
    assert.match(await text(page, 'draft-count'), /this slice: SAM IoU 0\.\d\d/);
    await shot(page, 'propagation-03-draft');
    const onDraft = Number(await page.locator('.viewport').getAttribute('data-image-id'));
    await page.getByTestId('draft-accept').click();
    await within(10_000, 'accepted', async () => (await page.getByTestId('draft-overlay').getAttribute('data-drafts')) === '0');
    const accepted = (await api.call('masks.list', { imageId: onDraft })).find((m) => m.labelId === label.id)!;
    assert.equal(accepted.draft, false);
    await page.getByTestId('draft-accept-all').click();
    await page.getByTestId('draft-review').waitFor({ state: 'detached', timeout: 10_000 });
    assert.deepEqual(await api.call('segments.drafts', { imageId: slice[0]! }), []);
    await shot(page, 'propagation-04-accepted');

    // The segment list: one segment spanning the middle slice and every accepted draft, made by hand and by propagation.
    const row = page.getByTestId('segment-row').first();
    const spanned = drafts.length + 1;
    const span = spanText([mid + 1, ...drafts.map((d) => d.index + 1)]); // slice numbers as the viewer shows them
    await within(10_000, `the span reads "${span}"`, async () => (await row.getByTestId('segment-span').innerText()) === span);
    assert.equal(await row.getByTestId('segment-origin').innerText(), 'Mixed', 'drawn on one slice, propagated on the others');
    assert.equal(await row.getByTestId('segment-drafts').count(), 0, 'nothing left to review');

    // Its measurements, from the propagated masks, and the calipers on its RECIST slice.
    const m = await api.call('segments.measure', { imageId: slice[0]!, labelId: label.id, instance: 1 });
    assert.equal(m.slices.length, spanned);
    await row.getByTestId('segment-name').click();
    const figures = page.getByTestId('segment-measurements');
    await within(15_000, 'figures shown', async () => (await figures.getByTestId('measure-long').count()) === 1);
    assert.equal(await figures.getByTestId('measure-long').innerText(), `${Number(m.longAxis.value.toFixed(1))} mm`);
    assert.equal(await figures.getByTestId('measure-volume').innerText(), `${Number(m.volume!.value.toFixed(2))} mL`);
    await figures.getByTestId('measure-goto').click();
    await within(10_000, 'on the calipers slice', async () => (await waitRendered(page)) === m.largest.imageId);
    await page.mouse.move(2, 2);
    await within(10_000, 'calipers drawn', async () =>
      page.evaluate(() => {
        // Caliper yellow (#ffd400) anywhere on the annotation overlay.
        const c = document.querySelector<HTMLCanvasElement>('[data-testid="annotation-overlay"]')!;
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i]! > 200 && d[i + 1]! > 170 && d[i + 2]! < 90 && d[i + 3]! > 200) n++;
        return n > 20;
      }),
    );
    await shot(page, 'propagation-05-segment-and-calipers');
    assert.deepEqual(s.problems, []);
  } finally {
    await s?.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});
