/**
 * "Retrain on my data" end to end in Chromium through the browser host, with the real Python
 * runtime: open the sample project from the start screen (its starter model misses the dark
 * lesions), click-segment a held-back image (poor), label 12 more slices with the polygon tool,
 * press Retrain, watch the live progress, and see validation Dice rise by at least 0.3; the
 * new model becomes active and the same click on the held-back image gives a better mask.
 * Screenshots of the dialog, the live curves and the before/after table go to test-output/e2e/.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import type { DelineateApi } from '../../electron/contract/api.ts';
import { countsFromString, decodeRle } from '../../electron/contract/rle.ts';
import { createHttpApi } from '../../renderer/src/transport/http-client.ts';
import { interiorPoint, phantomSeries, PHANTOM, type PhantomSlice } from '../fixtures/lesion-phantom.ts';
import { maskIoU } from '../inference/synthetic-lesion.ts';
import { pagePoint, shot, startSession, waitRendered, within, type Session } from './harness.ts';

// The sample's phantom (scripts/make-sample-project.ts): 6 patients x 4 slices, seed 11; patients 1-2 labelled.
const series = phantomSeries(6, 4, 11);
const N = PHANTOM.size;
const HELD_BACK = series.find((s) => s.patient === 5 && s.slice === 1)!;
const TO_LABEL = series.filter((s) => s.patient >= 2 && s.patient <= 4);

const sam = (page: Page, attr: string) => page.getByTestId('sam-overlay').getAttribute(`data-sam-${attr}`);

/** Points on the lesion's border by rays from its most interior pixel (a hand-drawn polygon). */
function outline(mask: Uint8Array, rays = 24): { x: number; y: number }[] {
  const c = interiorPoint(mask, N);
  const pts: { x: number; y: number }[] = [];
  for (let k = 0; k < rays; k++) {
    const a = (2 * Math.PI * k) / rays;
    let r = 0;
    for (let t = 0; t < N; t += 0.25) {
      const x = Math.floor(c.x + t * Math.cos(a));
      const y = Math.floor(c.y + t * Math.sin(a));
      if (x < 0 || y < 0 || x >= N || y >= N || !mask[y * N + x]) break;
      r = t;
    }
    pts.push({ x: c.x + (r + 0.5) * Math.cos(a), y: c.y + (r + 0.5) * Math.sin(a) });
  }
  return pts;
}

/** Open the series of `patient` (0-based) in the browser and step to `slice`; returns the image id shown. */
async function showSlice(page: Page, api: DelineateApi, target: PhantomSlice): Promise<number> {
  const images = await api.call('images.list', {});
  const wanted = images.find((i) => i.fileName === target.fileName)!;
  const seriesRows = page.locator('[data-testid="browser-row"][data-kind="series"]');
  const count = await seriesRows.count();
  for (let r = 0; r < count; r++) {
    await seriesRows.nth(r).click();
    const id = await waitRendered(page);
    if (images.find((i) => i.id === id)?.seriesUid !== wanted.seriesUid) continue;
    for (let step = 0; step < 8; step++) {
      const shown = await waitRendered(page);
      if (shown === wanted.id) return shown;
      await page.keyboard.press('ArrowDown');
    }
  }
  throw new Error(`could not show ${target.fileName}`);
}

/** SAM tool, one click at the lesion's most interior point; IoU of the shown mask with the truth; Esc discards. */
async function clickIoU(page: Page, target: PhantomSlice): Promise<number> {
  await page.keyboard.press('s');
  await within(120_000, 'embedding ready', async () => (await sam(page, 'phase')) === 'ready');
  const c = interiorPoint(target.lesion, N);
  const at = await pagePoint(page, c.x, c.y, N, N);
  const version = Number((await sam(page, 'version')) ?? 0);
  await page.mouse.click(at.x, at.y);
  await within(60_000, 'mask', async () => Number(await sam(page, 'version')) > version && (await sam(page, 'phase')) === 'ready' && Number(await sam(page, 'candidates')) > 0);
  const counts = (await sam(page, 'mask')) ?? '';
  const iou = counts ? maskIoU(decodeRle({ size: [N, N], counts: countsFromString(counts) }), target.lesion) : 0;
  await page.mouse.move(2, 2);
  return iou;
}

test('retrain from the app: sample project, label, Retrain, Dice +0.3, new model active, better click', { timeout: 1_500_000 }, async () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'delineate-retrain-e2e-'));
  const savedHome = process.env.HOME;
  const savedCache = process.env.XDG_CACHE_HOME;
  // The sample project is made in the home folder: a temporary one here. The Python
  // environment stays where it is (it is named by the cache folder, not by the project).
  process.env.XDG_CACHE_HOME = savedCache ?? path.join(os.homedir(), '.cache');
  process.env.HOME = home;
  let s: Session | null = null;
  try {
    s = await startSession();
    const { page, app } = s;
    const api: DelineateApi = createHttpApi({ baseUrl: app.origin, token: app.token });

    // ---- the sample project from the start screen
    await page.getByTestId('sample-open').click();
    await page.getByTestId('import-button').waitFor({ timeout: 120_000 });
    const starter = await api.call('models.list', {});
    assert.equal(starter.models.length, 1);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="browser-row"][data-kind="series"]').length === 6);

    // ---- the starter model on a held-back slice: it goes for the bright vessel, not the dark lesion
    await showSlice(page, api, HELD_BACK);
    const before = await clickIoU(page, HELD_BACK);
    await shot(page, 'retrain-01-starter-click');
    await page.keyboard.press('Escape');

    // ---- Label next: the viewer jumps to the unlabelled slice the model is least sure about
    await page.getByTestId('label-next').click();
    await page.getByTestId('label-next-reason').waitFor({ timeout: 120_000 });
    assert.match((await page.getByTestId('label-next-reason').textContent()) ?? '', /predicted IoU/);
    const suggested = await waitRendered(page);
    assert.equal((await api.call('images.list', {})).find((i) => i.id === suggested)?.maskCount, 0, 'label next shows an unlabelled image');

    // ---- label 12 more slices by hand with the polygon tool
    for (const target of TO_LABEL) {
      const imageId = await showSlice(page, api, target);
      await page.keyboard.press('p');
      for (const pt of outline(target.lesion)) {
        const at = await pagePoint(page, pt.x, pt.y, N, N);
        await page.mouse.click(at.x, at.y);
      }
      await page.keyboard.press('Enter');
      await within(5000, `mask of ${target.fileName} saved`, async () => (await api.call('masks.list', { imageId })).length === 1);
      const saved = decodeRle((await api.call('masks.list', { imageId }))[0]!.rle);
      assert.ok(maskIoU(saved, target.lesion) > 0.75, `the polygon follows the lesion of ${target.fileName}`);
    }
    await shot(page, 'retrain-02-labelled');

    // ---- Retrain: the dialog says what will happen; one Start
    await page.getByRole('button', { name: /Retrain on my data/ }).first().click();
    const dialog = page.getByTestId('retrain-dialog');
    await dialog.waitFor();
    await page.getByTestId('retrain-split').waitFor({ timeout: 30_000 });
    await page.getByTestId('retrain-estimate').waitFor();
    const dialogText = (await dialog.textContent()) ?? '';
    assert.match(dialogText, /20/, `the dialog counts the 20 labelled images: ${dialogText}`);
    assert.match(dialogText, /patient/i, 'and says the split keeps patients together');
    assert.match((await page.getByTestId('retrain-environment').textContent()) ?? '', /ready/, 'the existing Python environment is found');
    await shot(page, 'retrain-03-dialog');
    await page.getByTestId('retrain-start').click();
    await page.getByTestId('training-panel').waitFor();

    // ---- live progress and curves while annotation stays usable
    const jobId = (await api.call('jobs.list', {}))[0]!.id;
    await within(600_000, 'a few epochs on the curves', async () => {
      const j = await api.call('jobs.get', { jobId });
      return j.curves.length >= 10 || !['running', 'cancelling'].includes(j.state);
    });
    await page.getByTestId('training-curves').waitFor();
    await shot(page, 'retrain-04-live-curves');
    const j = await (async () => {
      for (;;) {
        const job = await api.call('jobs.get', { jobId });
        if (!['running', 'cancelling'].includes(job.state)) return job;
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    assert.equal(j.state, 'succeeded', j.error?.message);
    const o = j.outcome!;
    assert.ok(o.gate.after - o.gate.before >= 0.3, `validation Dice ${o.gate.before.toFixed(3)} -> ${o.gate.after.toFixed(3)}`);
    assert.equal(o.activated, true, o.gate.reason);
    await page.getByTestId('before-after').waitFor({ timeout: 30_000 });
    await shot(page, 'retrain-05-before-after');
    assert.equal((await api.call('models.list', {})).activeId, o.modelId);

    // ---- the same click on the held-back slice, now with the new model
    await showSlice(page, api, HELD_BACK);
    const after = await clickIoU(page, HELD_BACK);
    await shot(page, 'retrain-06-new-model-click');
    await page.keyboard.press('Escape');
    assert.ok(after > before + 0.2, `held-back click IoU ${before.toFixed(3)} -> ${after.toFixed(3)}`);
    console.log(`# retrain e2e: validation Dice ${o.gate.before.toFixed(3)} -> ${o.gate.after.toFixed(3)}, held-back click IoU ${before.toFixed(3)} -> ${after.toFixed(3)}, run ${o.totalSeconds.toFixed(0)} s`);
    assert.deepEqual(s.problems.filter((p) => !p.includes('status of 404')), []);
  } finally {
    await s?.close();
    process.env.HOME = savedHome;
    if (savedCache === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = savedCache;
    rmSync(home, { recursive: true, force: true });
  }
});
