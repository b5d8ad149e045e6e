/**
 * End to end against the real stack: browser host + services + SQLite, in Debian's
 * Chromium. Create a project, import the generated corpus, read the import report, scroll
 * the CT series (slice indicator and the value under the cursor follow ground truth), change
 * window/level, paint, undo, redo, reload, and find the mask still there, in the overlay
 * and in the store. Screenshots go to test-output/e2e/ for people to look at.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { pagePoint, shot, startSession, text, waitRendered, within, type Session } from './harness.ts';
import { generateCorpus, CT, ctFileName, ctStored } from '../fixtures/generate-corpus.ts';
import { startOrthanc } from '../fixtures/orthanc.ts';
import { createHttpApi } from '../../renderer/src/transport/http-client.ts';
import type { DelineateApi } from '../../electron/contract/api.ts';


/** Pixels of the mask overlay canvas that are not transparent (mouse moved off the viewport first, so the brush cursor is not counted). */
async function overlayPixels(page: Page): Promise<number> {
  await page.mouse.move(2, 2);
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  return page.evaluate(() => {
    const c = document.querySelector<HTMLCanvasElement>('[data-testid="mask-overlay"]')!;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i]! > 0) n++;
    return n;
  });
}

/** Bounding box (canvas pixels) of the non-transparent overlay pixels, or null. */
async function overlayBox(page: Page): Promise<{ x0: number; y0: number; x1: number; y1: number } | null> {
  await overlayPixels(page);
  return page.evaluate(() => {
    const c = document.querySelector<HTMLCanvasElement>('[data-testid="mask-overlay"]')!;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let x0 = Infinity, y0 = Infinity, x1 = -1, y1 = -1;
    for (let y = 0; y < c.height; y++) for (let x = 0; x < c.width; x++) if (d[(y * c.width + x) * 4 + 3]! > 0) {
      if (x < x0) x0 = x;
      if (y < y0) y0 = y;
      if (x > x1) x1 = x;
      if (y > y1) y1 = y;
    }
    return x1 < 0 ? null : { x0, y0, x1, y1 };
  });
}

/** Page coordinates of the centre of CT pixel (x, y). */
function pixelPoint(page: Page, x: number, y: number): Promise<{ x: number; y: number }> {
  return pagePoint(page, x + 0.5, y + 0.5, CT.size, CT.size);
}

test('create, import, view, annotate, undo/redo, autosave, reload', { timeout: 180_000 }, async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'delineate-e2e-'));
  const { dir: corpus, manifest } = await generateCorpus(path.join(tmp, 'corpus'));
  let s: Session | null = null;
  try {
    s = await startSession();
    const { page, app } = s;
    const api: DelineateApi = createHttpApi({ baseUrl: app.origin, token: app.token });

    // ---- project
    await page.getByTestId('project-path').waitFor();
    await shot(page, '01-start');
    // Opening a folder that is not a project: a clear error naming it, nothing else happens.
    const missing = path.join(tmp, 'no-such-project');
    await page.getByTestId('project-path').fill(missing);
    await page.getByTestId('project-open').click();
    await page.getByTestId('error-toast').waitFor();
    const toast = await text(page, 'error-toast');
    assert.ok(toast.includes('no-such-project'), `error names the folder: ${toast}`);
    await page.getByTestId('error-toast').getByRole('button', { name: 'Dismiss' }).click();
    assert.equal(await page.getByTestId('error-toast').count(), 0);
    assert.ok(s.problems.length > 0 && s.problems.every((p) => p.includes('no-such-project') || p.includes('Failed to load resource')), `only the expected error was logged: ${s.problems}`);
    s.problems.length = 0;
    await page.getByTestId('project-path').fill(path.join(tmp, 'project'));
    await page.getByTestId('project-name').fill('E2E chest');
    await page.getByTestId('project-create').click();
    await page.getByTestId('import-button').waitFor();
    assert.equal(await text(page, 'project-name'), 'E2E chest');

    // ---- import with report
    await page.getByTestId('import-button').click();
    await page.getByTestId('import-paths').fill(corpus);
    await page.getByTestId('import-paths-go').click();
    await page.getByTestId('import-report').waitFor({ timeout: 60_000 });
    const expectedOk = Object.values(manifest).filter((e) => e.outcome === 'imported').length;
    const expectedFailed = Object.entries(manifest).filter(([, e]) => e.outcome === 'failed');
    assert.equal(await text(page, 'import-imported'), `${expectedOk} imported`);
    assert.equal(await text(page, 'import-failed'), `${expectedFailed.length} failed`);
    const failureRows = await page.getByTestId('import-failure').allTextContents();
    assert.equal(failureRows.length, expectedFailed.length);
    for (const [file] of expectedFailed) {
      const row = failureRows.find((r) => r.includes(path.basename(file)));
      assert.ok(row, `failure of ${file} is listed: ${failureRows.join(' | ')}`);
      assert.ok(row.length > path.basename(file).length + 15, `failure of ${file} has a reason: ${row}`);
    }
    await shot(page, '02-import-report');
    await page.getByTestId('import-close').click();

    // ---- browser: CT series collapsed to one row
    const ctRow = page.getByTestId('browser-row').filter({ hasText: `${CT.slices} slices` });
    assert.equal(await ctRow.count(), 1, 'the CT series is one row');
    await page.waitForFunction(() => document.querySelectorAll('img.thumb.loaded').length >= 3);

    // ---- open the series, scroll, follow the value under the cursor
    await ctRow.click();
    let imageId = await waitRendered(page);
    assert.equal(await text(page, 'slice-indicator'), `Slice 1 / ${CT.slices}`);
    const images = await api.call('images.list', {});
    const kOfFile = new Map(Array.from({ length: CT.slices }, (_, k) => [ctFileName(k), k]));
    const kOfImage = (id: number) => kOfFile.get(images.find((i) => i.id === id)!.fileName)!;
    const L = CT.lesion;
    const at = await pixelPoint(page, L.cx, L.cy);
    await page.mouse.move(at.x, at.y);
    const readouts: string[] = [];
    for (let step = 0; step <= L.slice; step++) {
      if (step > 0) {
        await page.keyboard.press('ArrowDown');
        imageId = await waitRendered(page);
        assert.equal(await text(page, 'slice-indicator'), `Slice ${step + 1} / ${CT.slices}`);
      }
      const hu = ctStored(L.cx, L.cy, kOfImage(imageId)) * CT.slope + CT.intercept;
      await within(2000, 'readout', async () => (await text(page, 'pixel-readout')).startsWith(`X ${L.cx} Y ${L.cy}  ${hu} HU`));
      readouts.push(await text(page, 'pixel-readout'));
    }
    assert.ok(new Set(readouts).size > 1, `the value under the cursor changed while scrolling: ${readouts.join(' | ')}`);
    assert.equal(kOfImage(imageId), L.slice, 'slices are in spatial order, so step 10 is the lesion slice');
    await shot(page, '03-ct-lesion-slice');

    // ---- window/level: from the file, by right-drag, by preset
    assert.equal(await text(page, 'wl-text'), `W ${CT.windows[0]!.width} L ${CT.windows[0]!.center}`);
    await page.mouse.move(at.x, at.y);
    await page.mouse.down({ button: 'right' });
    await page.mouse.move(at.x + 120, at.y + 60, { steps: 6 });
    await page.mouse.up({ button: 'right' });
    const dragged = await text(page, 'wl-text');
    assert.notEqual(dragged, 'W 400 L 40', 'right-drag changed the window');
    await page.getByTestId('preset-lung').click();
    assert.equal(await text(page, 'wl-text'), 'W 1500 L -600');
    await shot(page, '04-lung-window');
    await page.getByTestId('preset-soft').click();
    assert.equal(await text(page, 'wl-text'), 'W 400 L 40');

    // ---- paint with the brush; autosave within a second
    assert.equal(await overlayPixels(page), 0, 'no mask yet');
    await page.getByTestId('tool-brush').click();
    await page.mouse.move(at.x - 20, at.y);
    await page.mouse.down();
    await page.mouse.move(at.x + 20, at.y + 10, { steps: 8 });
    await page.mouse.move(at.x, at.y + 25, { steps: 8 });
    await page.mouse.up();
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(r)));
    const painted = await overlayPixels(page);
    assert.ok(painted > 200, `brush painted the overlay (${painted} px)`);
    let area = 0;
    const saveMs = await within(1500, 'mask saved', async () => {
      const masks = await api.call('masks.list', { imageId });
      area = masks[0]?.area ?? 0;
      return masks.length === 1 && area > 0;
    });
    await shot(page, '05-painted');

    // ---- undo: gone from the overlay and from the store
    await page.keyboard.press('Control+z');
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    assert.equal(await overlayPixels(page), 0, 'undo removed the stroke');
    await within(1500, 'undo saved', async () => (await api.call('masks.list', { imageId })).length === 0);

    // ---- redo: back
    await page.keyboard.press('Control+Shift+z');
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    assert.equal(await overlayPixels(page), painted, 'redo restored the stroke');
    await within(1500, 'redo saved', async () => {
      const masks = await api.call('masks.list', { imageId });
      return masks.length === 1 && masks[0]!.area === area;
    });
    await within(2000, 'saved indicator', async () => (await text(page, 'save-state')) === 'All changes saved');

    // ---- reload: the app reopens the slice and the mask is still there
    await page.reload();
    const reopened = await waitRendered(page);
    assert.equal(reopened, imageId, 'the same slice is shown after reload');
    await within(2000, 'mask overlay after reload', async () => (await overlayPixels(page)) === painted);
    const stored = await api.call('masks.list', { imageId });
    assert.equal(stored.length, 1);
    assert.equal(stored[0]!.area, area);
    await page.mouse.move(at.x + 200, at.y + 200);
    await shot(page, '06-after-reload');

    // ---- The label's DICOM code: picked from the short list (auto shows what its name gives)
    const code = page.getByTestId('label-code');
    assert.match((await code.locator('option').first().textContent()) ?? '', /^Auto: Lesion \(SCT 52988006\)$/);
    await code.selectOption('metastasis');
    await within(5000, 'code saved', async () => (await api.call('labels.list', {})).find((l) => l.name === 'lesion')?.code === 'metastasis');
    await shot(page, '06a-label-code');

    // ---- Export SEG: the series' masks become a DICOM Segmentation in the project
    await page.getByTestId('export-seg').click();
    await within(180_000, 'SEG written', async () => /^SEG v1: 1 frame, 1 segment$/.test(await text(page, 'export-state')));
    const exported = (await api.call('jobs.list', {})).find((j) => j.kind === 'export')!;
    assert.equal(exported.state, 'succeeded');
    assert.match(exported.exported!.file, /^exports\/seg\/[0-9a-f]{16}\/2\.25\.\d+\.dcm$/);
    await shot(page, '06b-seg-exported');

    // ---- Send to PACS: a real Orthanc; add it, test it, send the series, see it sent
    const orthanc = await startOrthanc();
    try {
      await page.getByTestId('pacs').getByRole('button', { name: /PACS/ }).click();
      await page.getByTestId('pacs-add').click();
      await page.getByTestId('pacs-name').fill('Test Orthanc');
      await page.getByTestId('pacs-ae').fill(orthanc.aeTitle);
      await page.getByTestId('pacs-port').fill(String(orthanc.dicomPort));
      await page.getByTestId('pacs-save').click();
      await page.getByTestId('pacs-destination').waitFor();
      await page.getByTestId('pacs-test').click();
      await within(30_000, 'connection tested', async () => (await text(page, 'pacs-test-result').catch(() => '')).startsWith('✓ C-ECHO'));
      await page.getByTestId('pacs-send').click();
      await within(60_000, 'sent', async () => (await page.getByTestId('pacs-outbox-item').first().getAttribute('data-state').catch(() => null)) === 'sent');
      const there = await orthanc.rest<{ MainDicomTags: { SOPInstanceUID: string } }[]>('/instances?expand');
      assert.ok(there.some((i) => i.MainDicomTags.SOPInstanceUID === exported.exported!.sopInstanceUid), 'Orthanc has the SEG');
      await page.getByTestId('pacs').scrollIntoViewIfNeeded();
      await shot(page, '06c-sent-to-pacs');
    } finally {
      await orthanc.stop();
    }

    // ---- zoom and pan keep the overlay aligned with the image
    const fitZoom = await text(page, 'zoom-text');
    const boxFit = (await overlayBox(page))!;
    await page.mouse.move(at.x, at.y);
    await page.keyboard.down('Control');
    await page.mouse.wheel(0, -100);
    await page.keyboard.up('Control');
    await within(2000, 'zoomed', async () => (await text(page, 'zoom-text')) !== fitZoom);
    const zoomed = await overlayPixels(page);
    // One wheel notch zooms by 1.15 about the cursor: the mask covers 1.15^2 times the screen area.
    assert.ok(Math.abs(zoomed / painted - 1.3225) < 0.1, `overlay scaled with the image (${painted} -> ${zoomed} px)`);
    await page.keyboard.press('f');
    await within(2000, 'fit again', async () => (await text(page, 'zoom-text')) === fitZoom);
    await page.mouse.move(at.x, at.y);
    await page.mouse.down({ button: 'middle' });
    await page.mouse.move(at.x + 60, at.y + 30, { steps: 5 });
    await page.mouse.up({ button: 'middle' });
    const boxPanned = (await overlayBox(page))!;
    assert.ok(Math.abs(boxPanned.x0 - boxFit.x0 - 60) <= 1 && Math.abs(boxPanned.y0 - boxFit.y0 - 30) <= 1, `overlay moved with the pan: ${JSON.stringify([boxFit, boxPanned])}`);
    await page.keyboard.press('f');

    // ---- brush size keys, a new label class
    const size0 = await text(page, 'brush-size');
    await page.keyboard.press(']');
    assert.notEqual(await text(page, 'brush-size'), size0);
    await page.getByTestId('new-label').fill('nodule');
    await page.getByTestId('new-label').press('Enter');
    await within(2000, 'label added', async () => (await api.call('labels.list', {})).some((l) => l.name === 'nodule'));
    await page.getByTestId('label-nodule').waitFor();
    await page.getByTestId('label-lesion').click();

    // ---- polygon: a second instance, filled by clicking four points and Enter
    await page.keyboard.press('p');
    await page.keyboard.press('n');
    const p0 = await pixelPoint(page, 60, 150);
    const p1 = await pixelPoint(page, 100, 150);
    const p2 = await pixelPoint(page, 100, 190);
    const p3 = await pixelPoint(page, 60, 190);
    for (const p of [p0, p1, p2, p3]) await page.mouse.click(p.x, p.y);
    await page.keyboard.press('Enter');
    await within(1500, 'polygon saved', async () => {
      const masks = await api.call('masks.list', { imageId });
      const poly = masks.find((m) => m.instance === 2);
      return masks.length === 2 && !!poly && Math.abs(poly.area - 40 * 40) <= 80;
    });
    await page.getByTestId('outline-toggle').check();
    await shot(page, '07-polygon-outline');
    await page.keyboard.press('?');
    await page.getByTestId('help-overlay').waitFor();
    await shot(page, '08-help');

    await page.keyboard.press('Escape');

    // ---- mark done: the badge follows
    await page.getByTestId('mark-done').click();
    await within(2000, 'done badge', async () => (await ctRow.getByTestId('status-badge').textContent()) === 'Done');
    assert.ok((await api.call('images.list', {})).filter((i) => i.seriesUid === CT.seriesUid).every((i) => i.status === 'done'));

    // ---- every other imported kind renders (MONOCHROME1, RGB, JPEG, RLE, multi-frame, rasters)
    const rows = page.getByTestId('browser-row');
    const n = await rows.count();
    let multiFrameRows = 0;
    for (let i = 0; i < n; i++) {
      const row = rows.nth(i);
      const label = (await row.locator('.label').textContent()) ?? '';
      await row.click();
      await waitRendered(page);
      assert.equal(await page.locator('.viewport .empty.error').count(), 0, `row ${label} renders`);
      const name = `09-row-${String(i).padStart(2, '0')}-${label.replace(/[^a-z0-9]+/gi, '_')}`;
      const frames = await page.getByTestId('slice-indicator').textContent();
      if (frames?.startsWith('Frame')) {
        multiFrameRows++;
        await page.locator('.viewport').hover();
        await page.keyboard.press('End');
        await waitRendered(page);
        assert.match((await text(page, 'slice-indicator')) ?? '', /^Frame (\d+) \/ \1$/);
      }
      if (i < 12) await shot(page, name);
    }
    assert.ok(multiFrameRows >= 1, 'the corpus multi-frame file was shown with a frame indicator and scrolled to its end');

    // ---- importing bytes from the file input: the same file again is a duplicate, not a copy
    await page.getByTestId('import-button').click();
    await page.getByTestId('import-files').setInputFiles(path.join(corpus, 'raster', 'grey8.png'));
    await page.getByTestId('import-report').waitFor();
    await within(10_000, 'duplicate reported', async () => (await text(page, 'import-duplicates')) === '1 already in project');
    assert.equal(await text(page, 'import-imported'), '0 imported');
    await page.getByTestId('import-close').click();

    // ---- drag-and-drop of a file onto the window imports it
    await page.evaluate(async () => {
      const c = new OffscreenCanvas(24, 16);
      const g = c.getContext('2d')!;
      g.fillStyle = '#808080';
      g.fillRect(0, 0, 24, 16);
      g.fillStyle = '#ffffff';
      g.fillRect(6, 4, 8, 6);
      const file = new File([await c.convertToBlob({ type: 'image/png' })], 'dropped.png', { type: 'image/png' });
      const dt = new DataTransfer();
      dt.items.add(file);
      const app = document.querySelector('.app')!;
      app.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true, cancelable: true }));
      app.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    });
    await within(10_000, 'dropped file imported', async () => (await page.getByTestId('import-imported').count()) > 0 && (await text(page, 'import-imported')) === '1 imported');
    assert.ok((await api.call('images.list', {})).some((i) => i.fileName === 'dropped.png'));
    await page.getByTestId('import-close').click();

    assert.deepEqual(s.problems, [], 'no console errors, page errors or CSP violations');
    console.log(`# mask save visible in the store after ${saveMs} ms`);
  } finally {
    await s?.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});
