/**
 * `node --import tsx electron/host/cli.ts [--port N]`: run Delineate in a browser.
 * Prints the URL (with the per-run token) as the line "Delineate: <url>", then serves until
 * Ctrl+C / SIGTERM, closing the project cleanly.
 *
 * Runtime: Node (entry point).
 */
import { parseArgs } from 'node:util';
import { startBrowserApp } from './browser-app.js';

const { values } = parseArgs({ options: { port: { type: 'string' }, 'static-dir': { type: 'string' } }, strict: true });
const port = values.port === undefined ? undefined : Number(values.port);
if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
  console.error(`--port must be an integer 0-65535, got ${values.port}`);
  process.exit(2);
}

const app = await startBrowserApp({
  ...(port !== undefined ? { port } : {}),
  ...(values['static-dir'] !== undefined ? { staticDir: values['static-dir'] } : {}),
});
console.log(`Delineate: ${app.url}`);
console.log('Open that address in Chromium or Chrome (it works on this machine only). Ctrl+C stops.');

let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: closing the project…`);
  app.close().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
