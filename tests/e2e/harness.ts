/**
 * End-to-end harness: builds the renderer if stale, starts the REAL browser host with the
 * real services in this process (as `npm start` does without Electron), and drives Debian's
 * Chromium with playwright-core. Shared by the e2e test and the render benchmark.
 *
 * Runtime: Node (test only).
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startBrowserApp, type BrowserApp } from '../../electron/host/browser-app.ts';
// @ts-expect-error plain .mjs build helper without types
import { buildRenderer } from '../../scripts/lib/build.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'];

export interface Session {
  app: BrowserApp;
  browser: Browser;
  page: Page;
  /** Console errors, page errors and CSP violations seen so far. */
  problems: string[];
  close(): Promise<void>;
}

export async function startSession(opts: { viewport?: { width: number; height: number } } = {}): Promise<Session> {
  if (!(await buildRenderer(ROOT))) throw new Error('Renderer build failed (see the vite output above)');
  // App settings (PACS destinations) of a test run stay out of the user's config folder.
  process.env.DELINEATE_CONFIG_DIR ??= mkdtempSync(path.join(os.tmpdir(), 'e2e-config-'));
  const app = await startBrowserApp({ user: 'e2e' });
  let browser: Browser | null = null;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1440, height: 900 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    await page.goto(app.url);
    const b = browser;
    return {
      app,
      browser: b,
      page,
      problems,
      async close() {
        await b.close().catch(() => {});
        await app.close();
      },
    };
  } catch (e) {
    await browser?.close().catch(() => {});
    await app.close();
    throw e;
  }
}

export function outputDir(sub: string): string {
  const d = path.join(ROOT, 'test-output', sub);
  mkdirSync(d, { recursive: true });
  return d;
}

/** Saves a screenshot under test-output/e2e/ for people to look at. */
export function shot(page: Page, name: string): Promise<Buffer> {
  return page.screenshot({ path: path.join(outputDir('e2e'), `${name}.png`) });
}

/** The trimmed text of the element with this test id ('' when it has none). */
export async function text(page: Page, testId: string): Promise<string> {
  return (await page.getByTestId(testId).textContent())?.trim() ?? '';
}

/** Polls `f` until it returns true or `ms` pass; returns the elapsed time or throws. */
export async function within(ms: number, what: string, f: () => Promise<boolean>): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await f()) return Date.now() - t0;
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Waits until the viewport has drawn the slice it shows; returns its image id. With
 * `overlayFrame` (default) it also waits for the overlay drawn after cornerstone's render;
 * the render benchmark turns that off so its stepping pace is the viewer's, not ours.
 */
export async function waitRendered(page: Page, { overlayFrame = true }: { overlayFrame?: boolean } = {}): Promise<number> {
  // The viewport marks which image it has drawn; wait until that is the slice asked for.
  await page.waitForFunction(() => {
    const v = document.querySelector<HTMLElement>('.viewport')!;
    return v.dataset.imageId !== '' && v.dataset.rendered === `${v.dataset.imageId}:${v.dataset.frame}`;
  });
  // One more frame so the overlay drawn after cornerstone's render is on the canvas.
  if (overlayFrame) await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  return Number(await page.locator('.viewport').getAttribute('data-image-id'));
}

/** Page point of continuous image coordinates (x, y) of a width x height image fitted in the viewport (square pixels). */
export async function pagePoint(page: Page, x: number, y: number, width: number, height: number): Promise<{ x: number; y: number }> {
  const box = (await page.locator('.viewport').boundingBox())!;
  const scale = Math.min(box.width / width, box.height / height);
  return { x: box.x + box.width / 2 + (x - width / 2) * scale, y: box.y + box.height / 2 + (y - height / 2) * scale };
}

/** Creates a project named `name` at `dir` from the start screen, as a user does; resolves once it is open. */
export async function createProject(page: Page, dir: string, name: string): Promise<void> {
  await page.getByTestId('project-path').fill(dir);
  await page.getByTestId('project-name').fill(name);
  await page.getByTestId('project-create').click();
  await page.getByTestId('import-button').waitFor();
}

/** Imports a folder through the import panel (Import, its path, Go), waits for the report and closes it. */
export async function importFolder(page: Page, folder: string): Promise<void> {
  await page.getByTestId('import-button').click();
  await page.getByTestId('import-paths').fill(folder);
  await page.getByTestId('import-paths-go').click();
  await page.getByTestId('import-report').waitFor({ timeout: 60_000 });
  await page.getByTestId('import-close').click();
}

/** Moves the mouse off the viewport (so the brush cursor is not drawn) and waits two frames for the overlay to repaint. */
export async function pointerAway(page: Page): Promise<void> {
  await page.mouse.move(2, 2);
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}
