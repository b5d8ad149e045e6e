/**
 * The whole app for a browser: real services + the HTTP host serving the renderer build.
 * Used by `npm start` (when there is no Electron binary), the end-to-end tests and benches.
 *
 *   const app = await startBrowserApp();   // app.url -> open in Chromium
 *   ...
 *   await app.close();
 *
 * Runtime: Node.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServices } from '../services/index.js';
import { startHost, type RunningHost } from './server.js';

/** Repository (or packaged app) root: electron/host/ in source, out/electron/host/ compiled. */
function appRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('Cannot find the Delineate folder (no package.json above electron/host)');
    dir = up;
  }
  return dir;
}

export const DEFAULT_STATIC_DIR = path.join(appRoot(), 'dist', 'renderer');

export interface BrowserAppOptions {
  staticDir?: string;
  port?: number;
  token?: string;
  user?: string;
}

export interface BrowserApp extends RunningHost {
  /** Stops the host, then closes the services (flushes and closes the project database). */
  close(): Promise<void>;
}

export async function startBrowserApp(options: BrowserAppOptions = {}): Promise<BrowserApp> {
  const staticDir = options.staticDir ?? DEFAULT_STATIC_DIR;
  if (!existsSync(path.join(staticDir, 'index.html'))) {
    throw new Error(`No renderer build at ${staticDir} (index.html missing): run \`npx vite build\` or \`npm start\``);
  }
  const services = await createServices({ user: options.user ?? os.userInfo().username, transport: 'browser' });
  let host: RunningHost;
  try {
    host = await startHost({
      handlers: services,
      staticDir,
      ...(options.port !== undefined ? { port: options.port } : {}),
      ...(options.token !== undefined ? { token: options.token } : {}),
    });
  } catch (e) {
    await services.close();
    throw e;
  }
  return {
    ...host,
    async close() {
      await host.close();
      await services.close();
    },
  };
}
