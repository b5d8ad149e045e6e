/**
 * The viewer essentials end to end (browser host + services + SQLite, Debian's Chromium):
 * orientation markers, the scale bar, slice location and thickness; a rotation and a flip,
 * after which a brush stroke and polygon points still land on the image pixels under the
 * cursor (and zooming keeps the pixel under the cursor); invert; cine; the arrows moving
 * through single images; the image list filter with a match, a date range and "No match".
 * Screenshots go to test-output/e2e/viewer-*.png for people to look at.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { pointerAway, type Session, shot, startSession, text, waitRendered, within } from './harness.ts';
import { generateCorpus, CT, ctSliceZ } from '../fixtures/generate-corpus.ts';
import { createHttpApi } from '../../renderer/src/transport/http-client.ts';
import type { DelineateApi } from '../../electron/contract/api.ts';
import { decodeRle } from '../../electron/contract/rle.ts';
import { fitScale, imageToCanvas, type ViewOrientation } from '../../renderer/src/viewer/viewTransform.ts';

/** Page point of continuous CT image coordinates (x, y) shown fitted with view `o` (viewTransform's mapping, which mirrors cornerstone's). */
async function pageOf(page: Page, x: number, y: number, o: ViewOrientation): Promise<{ x: number; y: number }> {
  const box = (await page.locator('.viewport .cs').boundingBox())!;
  const g = { canvasWidth: Math.round(box.width), canvasHeight: Math.round(box.height), imageWidth: CT.size, imageHeight: CT.size, spacing: [CT.spacing, CT.spacing] as [number, number] };
  const c = imageToCanvas({ ...g, scale: fitScale(g, o.rotation), translation: { x: 0, y: 0 }, orientation: o }, { x, y });
  return { x: box.x + c.x, y: box.y + c.y };
}

async function markers(page: Page): Promise<string> {
  const t = async (edge: string) => text(page, `marker-${edge}`);
  return `left ${await t('left')} right ${await t('right')} top ${await t('top')} bottom ${await t('bottom')}`;
}

/** Non-transparent pixels of the mask overlay: count and centre (canvas pixels). */
async function overlayBlob(page: Page): Promise<{ n: number; cx: number; cy: number }> {
  await pointerAway(page);
  return page.evaluate(() => {
    const c = document.querySelector<HTMLCanvasElement>('[data-testid="mask-overlay"]')!;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    let sx = 0;
    let sy = 0;
    for (let y = 0; y < c.height; y++) for (let x = 0; x < c.width; x++) if (d[(y * c.width + x) * 4 + 3]! > 0) {
      n++;
      sx += x + 0.5;
      sy += y + 0.5;
    }
    return { n, cx: n ? sx / n : NaN, cy: n ? sy / n : NaN };
  });
}

/** Centre of a stored mask (image pixels) and its bounding box. */
function maskStats(rle: { size: [number, number]; counts: number[] }): { area: number; cx: number; cy: number; x0: number; y0: number; x1: number; y1: number } {
  const [h, w] = rle.size;
  const m = decodeRle(rle);
  let area = 0, sx = 0, sy = 0, x0 = Infinity, y0 = Infinity, x1 = -1, y1 = -1;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (m[y * w + x]) {
    area++;
    sx += x + 0.5;
    sy += y + 0.5;
    x0 = Math.min(x0, x);
    y0 = Math.min(y0, y);
    x1 = Math.max(x1, x);
    y1 = Math.max(y1, y);
  }
  return { area, cx: sx / area, cy: sy / area, x0, y0, x1, y1 };
}

/** Grey value of the cornerstone canvas at a page point. */
function shownGrey(page: Page, at: { x: number; y: number }): Promise<number> {
  return page.evaluate(({ x, y }) => {
    const c = document.querySelector<HTMLCanvasElement>('.viewport .cs canvas')!;
    const r = c.getBoundingClientRect();
    return c.getContext('2d')!.getImageData(Math.floor(x - r.left), Math.floor(y - r.top), 1, 1).data[0]!;
  }, at);
}

test('viewer: markers, scale bar, slice location, rotate + flip with strokes on the right pixels, invert, cine, list filter', { timeout: 240_000 }, async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'delineate-viewer-e2e-'));
  const { dir: corpus } = await generateCorpus(path.join(tmp, 'corpus'));
  let s: Session | null = null;
  try {
    s = await startSession();
    const { page, app } = s;
    const api: DelineateApi = createHttpApi({ baseUrl: app.origin, token: app.token });
    await api.call('project.create', { path: path.join(tmp, 'project'), name: 'Viewer e2e' });
    const report = await api.call('images.importPaths', { paths: [path.join(corpus, 'ct'), path.join(corpus, 'raster', 'inspection'), path.join(corpus, 'raster', 'grey8.png')] });
    assert.ok(report.imported.length >= CT.slices + 2, `imported ${report.imported.length}`);
    await page.reload();
    const ctRow = page.getByTestId('browser-row').filter({ hasText: `${CT.slices} slices` });
    await ctRow.waitFor();

    // ---- the study row shows its date and accession number
    assert.equal(await text(page, 'study-detail'), '2026-01-01 · ACC001');

    // ---- markers, scale bar, slice location and thickness, brush size in mm
    await ctRow.click();
    await waitRendered(page);
    assert.equal(await markers(page), 'left R right L top A bottom P', 'an axial slice: patient right on the left, anterior up');
    const bar = page.getByTestId('scale-bar');
    assert.equal(await bar.getAttribute('data-unit'), 'mm');
    const box = (await page.locator('.viewport .cs').boundingBox())!;
    const pxPerMm = Math.min(Math.round(box.width), Math.round(box.height)) / CT.size / CT.spacing;
    const barMm = Number(/^(\d+(?:\.\d+)?) mm$/.exec(await bar.textContent().then((t) => t!.trim()))![1]);
    const barPx = (await bar.locator('.bar').boundingBox())!.width;
    assert.ok(Math.abs(barPx - barMm * pxPerMm) < 1.5, `the bar is ${barMm} mm long on screen: ${barPx} px vs ${barMm * pxPerMm}`);
    assert.equal(await text(page, 'slice-location'), `Loc ${ctSliceZ(0)} mm`);
    assert.equal(await text(page, 'slice-thickness'), `Thick ${CT.thickness} mm`);
    await page.keyboard.press('ArrowDown');
    await waitRendered(page);
    assert.equal(await text(page, 'slice-location'), `Loc ${ctSliceZ(1)} mm`, 'the location follows the slice');
    assert.equal(await text(page, 'brush-size'), `${(12 * CT.spacing).toFixed(1)} mm`, 'a 12 px brush on 0.8 mm pixels');
    await page.mouse.move(box.x + box.width * 0.8, box.y + box.height * 0.8);
    await shot(page, 'viewer-01-markers-scale-location');

    // ---- rotate a quarter clockwise, then flip left-right: markers follow
    await page.keyboard.press('r');
    await page.keyboard.press('x');
    await waitRendered(page);
    const controls = page.getByTestId('view-controls');
    const view: ViewOrientation = { rotation: 270, hflip: true, vflip: false }; // a quarter turn then a mirror, as cornerstone writes it
    assert.equal(await controls.getAttribute('data-rotation'), '270');
    assert.equal(await controls.getAttribute('data-hflip'), 'true');
    assert.equal(await markers(page), 'left A right P top R bottom L');

    // ---- a brush stroke lands on the image pixel under the cursor
    await page.keyboard.press('b');
    const imageId = Number(await page.locator('.viewport').getAttribute('data-image-id'));
    const target = { x: 180.5, y: 70.5 }; // the centre of pixel (180, 70): off-centre on both axes, so a wrong turn or mirror misses it
    const at = await pageOf(page, target.x, target.y, view);
    await page.mouse.move(at.x, at.y);
    await page.mouse.down();
    await page.mouse.move(at.x + 0.5, at.y, { steps: 2 });
    await page.mouse.move(at.x, at.y, { steps: 2 });
    await page.mouse.up();
    let stored = maskStats({ size: [CT.size, CT.size], counts: [CT.size * CT.size] });
    await within(3000, 'stroke saved', async () => {
      const masks = await api.call('masks.list', { imageId });
      if (masks.length !== 1) return false;
      stored = maskStats(masks[0]!.rle as { size: [number, number]; counts: number[] });
      return true;
    });
    assert.ok(Math.abs(stored.cx - target.x) <= 1 && Math.abs(stored.cy - target.y) <= 1, `the stroke is centred on image (${target.x}, ${target.y}): ${JSON.stringify(stored)}`);
    assert.ok(stored.area > 80 && stored.area < 160, `a 12 px brush dab: ${stored.area} px`);
    const blob = await overlayBlob(page);
    const r = (await page.locator('.viewport .cs').boundingBox())!;
    assert.ok(Math.abs(blob.cx + r.x - at.x) <= 2 && Math.abs(blob.cy + r.y - at.y) <= 2, `the overlay shows it where it was clicked: ${JSON.stringify(blob)} vs ${JSON.stringify(at)}`);

    // ---- polygon points land too: four clicks around a 30 x 20 image rectangle
    await page.keyboard.press('p');
    await page.keyboard.press('n');
    for (const [x, y] of [[40, 150], [70, 150], [70, 170], [40, 170]] as const) {
      const p = await pageOf(page, x, y, view);
      await page.mouse.click(p.x, p.y);
    }
    await page.keyboard.press('Enter');
    let poly = stored;
    await within(3000, 'polygon saved', async () => {
      const m = (await api.call('masks.list', { imageId })).find((k) => k.instance === 2);
      if (!m) return false;
      poly = maskStats(m.rle as { size: [number, number]; counts: number[] });
      return true;
    });
    assert.ok(Math.abs(poly.x0 - 40) <= 1 && Math.abs(poly.x1 - 69) <= 1 && Math.abs(poly.y0 - 150) <= 1 && Math.abs(poly.y1 - 169) <= 1, `polygon bounds in image pixels: ${JSON.stringify(poly)}`);
    await page.mouse.move(at.x, at.y);
    await shot(page, 'viewer-02-rotated-flipped-stroke-polygon');

    // ---- zooming keeps the pixel under the cursor, turned and mirrored as the view is
    await page.keyboard.press('w');
    const readoutBefore = (await text(page, 'pixel-readout')).split('  ')[0];
    assert.equal(readoutBefore, 'X 180 Y 70');
    await page.keyboard.down('Control');
    await page.mouse.wheel(0, -100);
    await page.mouse.wheel(0, -100);
    await page.keyboard.up('Control');
    await waitRendered(page);
    await page.mouse.move(at.x + 0.1, at.y);
    await page.mouse.move(at.x, at.y);
    await within(2000, 'readout after zoom', async () => (await text(page, 'pixel-readout')).split('  ')[0] === readoutBefore);
    await page.keyboard.press('f');

    // ---- invert: the grey scale turns over, view only
    const body = await pageOf(page, 128, 200, view);
    const grey = await shownGrey(page, body);
    await page.keyboard.press('i');
    await waitRendered(page);
    assert.equal(await controls.getAttribute('data-inverted'), 'true');
    const inverted = await shownGrey(page, body);
    assert.ok(Math.abs(inverted - (255 - grey)) <= 2, `inverted grey ${inverted} vs ${255 - grey}`);
    await shot(page, 'viewer-03-inverted');
    await page.keyboard.press('i');
    assert.equal(await text(page, 'view-reset'), 'mirrored ✕');
    await page.getByTestId('view-reset').click();
    await within(2000, 'upright again', async () => (await markers(page)) === 'left R right L top A bottom P');
    assert.equal(await page.getByTestId('view-reset').count(), 0);

    // ---- cine: plays through the slices, Space pauses
    await page.getByTestId('cine-fps').fill('20');
    await page.getByTestId('cine-fps').press('Enter');
    await page.locator('.viewport').focus();
    await page.getByTestId('cine-toggle').click();
    const seen = new Set<string>();
    await within(10_000, 'cine steps', async () => {
      seen.add(await text(page, 'slice-indicator'));
      return seen.size >= 4;
    });
    await page.keyboard.press(' ');
    assert.equal(await page.getByTestId('cine-toggle').getAttribute('data-playing'), 'false', 'Space paused it');
    const paused = await text(page, 'slice-indicator');
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(await text(page, 'slice-indicator'), paused, 'stays paused');

    // ---- the help lists the new keys
    await page.keyboard.press('?');
    const help = page.getByTestId('help-overlay');
    await help.waitFor();
    for (const k of ['Rotate the view 90° clockwise', 'Flip the view left–right', 'Invert the grey scale', 'Play / pause the series as a cine loop', 'Next series or image in the list']) {
      assert.ok(((await help.textContent()) ?? '').includes(k), `help lists: ${k}`);
    }
    await shot(page, 'viewer-04-help');
    await page.keyboard.press('Escape');

    // ---- single images: the arrows move through the list
    const images = page.locator('[data-testid="browser-row"][data-kind="image"]');
    assert.ok((await images.count()) >= 2);
    const first = (await images.nth(0).locator('.label').textContent())!;
    const second = (await images.nth(1).locator('.label').textContent())!;
    await page.keyboard.press('r'); // turned here; the next image opens upright
    assert.equal(await controls.getAttribute('data-rotation'), '90');
    await images.nth(0).click();
    await waitRendered(page);
    assert.equal(await controls.getAttribute('data-rotation'), '0');
    assert.equal(await page.getByTestId('scale-bar').getAttribute('data-unit'), 'px', 'no pixel spacing: the bar counts pixels');
    assert.match(await text(page, 'scale-bar'), /^\d+ px$/);
    assert.equal(await page.getByTestId('marker-left').count(), 0, 'no orientation, no markers');
    await page.keyboard.press('ArrowDown');
    await within(3000, 'next image opened', async () => ((await page.locator('[data-testid="browser-row"][aria-selected="true"] .label').textContent()) ?? '') === second);
    await waitRendered(page);
    await page.keyboard.press('ArrowUp');
    await within(3000, 'previous image opened', async () => ((await page.locator('[data-testid="browser-row"][aria-selected="true"] .label').textContent()) ?? '') === first);
    await shot(page, 'viewer-05-raster-px-scale');

    // ---- the list filter: patient ID, accession, a date range, and nothing
    const filter = page.getByTestId('list-filter');
    const leafLabels = () => page.getByTestId('browser-row').locator('.label').allTextContents();
    await filter.fill('phantom-001');
    await within(2000, 'filtered by patient ID', async () => (await leafLabels()).length === 1);
    assert.deepEqual(await leafLabels(), ['AXIAL 2.5MM']);
    await filter.fill('acc001');
    await within(2000, 'filtered by accession', async () => (await leafLabels()).join() === 'AXIAL 2.5MM');
    await filter.fill('');
    await page.getByTestId('list-date-from').fill('2026-01-01');
    await page.getByTestId('list-date-to').fill('2026-01-01');
    await within(2000, 'filtered by study date', async () => (await leafLabels()).join() === 'AXIAL 2.5MM');
    assert.equal(await text(page, 'study-detail'), '2026-01-01 · ACC001');
    await shot(page, 'viewer-06-filter-match');
    await page.getByTestId('list-date-from').fill('2026-01-02');
    await page.getByTestId('list-date-to').fill('');
    await within(2000, 'nothing after that date', async () => (await page.getByTestId('list-empty').count()) === 1);
    assert.equal(await text(page, 'list-empty'), 'No match');
    await page.getByTestId('list-date-from').fill('');
    await filter.fill('no such patient');
    await within(2000, 'no match', async () => (await text(page, 'list-empty').catch(() => '')) === 'No match');
    await shot(page, 'viewer-07-filter-no-match');
    await page.getByTestId('list-filter-clear').click();
    await within(2000, 'everything back', async () => (await leafLabels()).length >= 3);

    // ---- another project in the same window: its image 1 is its own, not this project's image 1
    // (image ids are numbered per project; the viewer's slice cache must not carry over).
    const other = path.join(tmp, 'other');
    await page.getByRole('button', { name: 'Close', exact: true }).click();
    await page.getByTestId('project-path').waitFor();
    await api.call('project.create', { path: other, name: 'Other' });
    const otherReport = await api.call('images.importPaths', { paths: [path.join(corpus, 'raster', 'grey8.png')] });
    assert.equal(otherReport.imported.length, 1);
    await api.call('project.close', {});
    await page.getByTestId('project-path').fill(other);
    await page.getByTestId('project-open').click();
    await page.getByTestId('browser-row').filter({ hasText: 'grey8.png' }).click();
    await waitRendered(page);
    assert.equal(await page.locator('.viewport').getAttribute('data-image-id'), String(otherReport.imported[0]!.imageId));
    assert.match(await page.locator('.corner.tr').textContent() ?? '', /40×30/, "the other project's 40x30 image, not a cached CT slice of the same id");

    assert.deepEqual(s.problems, [], 'no console errors, page errors or CSP violations');
  } finally {
    await s?.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});
