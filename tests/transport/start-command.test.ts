/**
 * The README's run command, as a user runs it on a machine without an Electron binary:
 * `npm start` must print a 127.0.0.1 address with a token, serve the app there with the
 * real services, and close cleanly on Ctrl+C.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const root = fileURLToPath(new URL('../../', import.meta.url));

test('npm start serves the app on 127.0.0.1 with a token and stops cleanly on Ctrl+C', { timeout: 180_000 }, async () => {
  // detached: its own process group, so the SIGINT below reaches it the way Ctrl+C would.
  const child = spawn(process.execPath, ['scripts/start.mjs', '--browser', '--no-python'], {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ELECTRON_SKIP_BINARY_DOWNLOAD: '1' },
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL within 150 s:\n${output}`)), 150_000);
      const look = () => {
        const m = output.match(/^Delineate: (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)$/m);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      };
      child.stdout.on('data', look);
      void exited.then((code) => reject(new Error(`npm start exited (${code}) before printing a URL:\n${output}`)));
    });

    const first = await fetch(url, { redirect: 'manual' });
    assert.equal(first.status, 303);
    const token = new URL(url).searchParams.get('token')!;
    assert.equal(first.headers.get('location'), `/#token=${encodeURIComponent(token)}`);
    const cookie = first.headers.get('set-cookie')!.split(';')[0]!;
    const page = await fetch(new URL('/', url), { headers: { cookie } });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<div id="app">/);
    assert.equal((await fetch(new URL('/', url))).status, 401, 'no token, no page');

    const byCookie = await fetch(new URL('/api/app.info', url), { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(byCookie.status, 401, 'the page cookie opens no API');
    const info = await fetch(new URL('/api/app.info', url), { method: 'POST', headers: { 'x-delineate-token': token, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(info.status, 200);
    const text = Buffer.from(await info.arrayBuffer()).toString('latin1');
    assert.match(text, /"transport":"browser"/, 'the real services answer');
  } finally {
    process.kill(-child.pid!, 'SIGINT');
  }
  assert.equal(await exited, 0, output);
  assert.match(output, /closing the project/);
});
