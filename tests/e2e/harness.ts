/**
 * End-to-end harness: builds the renderer if stale, starts the REAL browser host with the
 * real services in this process (as `npm start` does without Electron), and drives Debian's
 * Chromium with playwright-core. Shared by the e2e test and the render benchmark.
 *
 * Runtime: Node (test only).
 */
import { mkdirSync } from 'node:fs';
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
