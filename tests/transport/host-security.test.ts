import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import net from 'node:net';
import os from 'node:os';
import { startHost, type RunningHost } from '../../electron/host/server.js';
import { encodeMessage, WIRE_CONTENT_TYPE } from '../../electron/host/wire.js';
import { fakeHandlers } from './fake-handlers.js';
import { makeStaticDir, rawRequest } from './host-helpers.js';

let host: RunningHost;

before(async () => {
  const { staticDir } = await makeStaticDir();
  host = await startHost({ handlers: fakeHandlers(), staticDir, maxBodyBytes: 64 * 1024, logInternal: () => {} });
});
after(() => host.close());

const apiCall = (path: string, headers: Record<string, string>, body: Uint8Array | string = encodeMessage({})) =>
  rawRequest(host.port, { path, method: 'POST', headers: { 'content-type': WIRE_CONTENT_TYPE, ...headers }, body });

describe('binding', () => {
  test('listens on 127.0.0.1 only, on a random port, with a long random token', async () => {
    assert.match(host.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{43}$/);
    assert.ok(host.port > 0);
    const other = await startHost({ handlers: fakeHandlers() });
    try {
      assert.notEqual(other.token, host.token, 'a fresh token per run');
      assert.notEqual(other.port, host.port);
    } finally {
      await other.close();
    }
  });

  test('is not reachable on a non-loopback address of this machine', async (t) => {
    const external = Object.values(os.networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal);
    if (!external) {
      t.skip('this machine has no non-loopback IPv4 address');
      return;
    }
    const error = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
      const s = net.connect({ host: external.address, port: host.port });
      s.once('connect', () => {
        s.destroy();
        resolve(null);
      });
      s.once('error', (e) => resolve(e));
    });
    assert.equal(error?.code, 'ECONNREFUSED');
  });
});

describe('token on every request', () => {
  test('no token: 401 for the page, assets and the API', async () => {
    for (const path of ['/', '/index.html', '/assets/app.js']) assert.equal((await rawRequest(host.port, { path })).status, 401, path);
    const api = await apiCall('/api/app.info', {});
    assert.equal(api.status, 401);
    assert.equal(JSON.parse(api.body.toString()).code, 'bad_request');
  });

  test('wrong token: 403 by header, cookie or URL', async () => {
    // one character off, and never by accident the token itself (it is random base64url)
    const oneOff = (host.token[0] === 'x' ? 'y' : 'x') + host.token.slice(1);
    assert.notEqual(oneOff, host.token);
    assert.equal((await apiCall('/api/app.info', { 'x-delineate-token': oneOff })).status, 403);
    assert.equal((await rawRequest(host.port, { path: '/', headers: { cookie: `delineate_${host.port}=nope` } })).status, 403);
    assert.equal((await rawRequest(host.port, { path: '/?token=nope' })).status, 403);
    assert.equal((await rawRequest(host.port, { path: '/?token=' })).status, 403);
  });

  test('the URL token is good for the page only, never for the API', async () => {
    assert.equal((await apiCall(`/api/app.info?token=${host.token}`, {})).status, 401);
  });

  test('first visit trades the URL token for a page-key cookie and hands the token to the page in the fragment', async () => {
    const first = await rawRequest(host.port, { path: `/?token=${host.token}` });
    assert.equal(first.status, 303);
    assert.equal(first.headers.location, `/#token=${encodeURIComponent(host.token)}`, 'token out of the query, into the fragment (never sent to a server)');
    const cookie = String(first.headers['set-cookie']);
    assert.match(cookie, new RegExp(`^delineate_${host.port}=[A-Za-z0-9_-]{43};`));
    assert.ok(!cookie.includes(host.token), 'the cookie is not the API token');
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    const jar = cookie.split(';')[0]!;
    const page = await rawRequest(host.port, { path: '/', headers: { cookie: jar } });
    assert.equal(page.status, 200);
    assert.match(page.headers['content-type'] ?? '', /^text\/html/);
    assert.match(page.body.toString(), /assets\/app\.js/);
    const asset = await rawRequest(host.port, { path: '/assets/app.js', headers: { cookie: `other=1; ${jar}` } });
    assert.equal(asset.status, 200);
    assert.match(asset.headers['content-type'] ?? '', /^text\/javascript/);
  });

  test('the cookie is no credential for the API: another local server that receives it cannot replay it (issue 9, finding 1)', async () => {
    const first = await rawRequest(host.port, { path: `/?token=${host.token}` });
    const jar = String(first.headers['set-cookie']).split(';')[0]!;
    const value = jar.split('=')[1]!;
    // as a cookie, as the header, or both: refused
    assert.equal((await apiCall('/api/app.info', { cookie: jar })).status, 401);
    assert.equal((await apiCall('/api/app.info', { 'x-delineate-token': value })).status, 403);
    assert.equal((await apiCall('/api/app.info', { cookie: jar, 'x-delineate-token': value })).status, 403);
    assert.equal((await apiCall('/api/app.info', { 'x-delineate-token': host.token })).status, 200);
  });

  test('the token visit redirects on this origin only, whatever the path looks like', async () => {
    for (const p of ['/.//evil.example/', '//evil.example/x', '/%2F%2Fevil.example/']) {
      const r = await rawRequest(host.port, { path: `${p}?token=${host.token}` });
      assert.equal(r.status, 303, p);
      const location = String(r.headers.location);
      assert.ok(location.startsWith('/') && !location.startsWith('//'), `${p} -> ${location}`);
      assert.equal(new URL(location, `http://127.0.0.1:${host.port}`).host, `127.0.0.1:${host.port}`, `${p} stays on the host`);
    }
  });
});

describe('DNS rebinding and cross-origin defence', () => {
  test('a foreign Host header is refused even with the right token', async () => {
    const r = await rawRequest(host.port, {
      path: '/api/app.info',
      method: 'POST',
      headers: { host: `evil.example:${host.port}`, 'x-delineate-token': host.token, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(r.status, 403);
    assert.match(JSON.parse(r.body.toString()).message, /Host/);
    const wrongPort = await rawRequest(host.port, { path: '/', headers: { host: `127.0.0.1:${host.port + 1}`, 'x-delineate-token': host.token } });
    assert.equal(wrongPort.status, 403);
    const localhost = await rawRequest(host.port, { path: '/', headers: { host: `localhost:${host.port}`, 'x-delineate-token': host.token } });
    assert.equal(localhost.status, 200);
  });

  test('a foreign Origin or a cross-site fetch is refused even with the right token', async () => {
    const t = { 'x-delineate-token': host.token };
    assert.equal((await apiCall('/api/app.info', { ...t, origin: 'http://evil.example' })).status, 403);
    assert.equal((await apiCall('/api/app.info', { ...t, origin: 'null' })).status, 403);
    assert.equal((await apiCall('/api/app.info', { ...t, 'sec-fetch-site': 'cross-site' })).status, 403);
    assert.equal((await apiCall('/api/app.info', { ...t, origin: host.origin, 'sec-fetch-site': 'same-origin' })).status, 200);
  });
});

describe('headers', () => {
  test('CSP and nosniff on pages, assets, API answers and errors', async () => {
    const t = { 'x-delineate-token': host.token };
    const responses = [
      await rawRequest(host.port, { path: '/', headers: t }),
      await rawRequest(host.port, { path: '/assets/app.js', headers: t }),
      await apiCall('/api/app.info', t),
      await apiCall('/api/nope', t),
      await rawRequest(host.port, { path: '/' }),
    ];
    for (const r of responses) {
      const csp = String(r.headers['content-security-policy']);
      for (const directive of ["default-src 'self'", "script-src 'self'", "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"]) {
        assert.ok(csp.includes(directive), `${directive} in ${csp}`);
      }
      assert.ok(!/script-src[^;]*unsafe/.test(csp), 'no unsafe script sources');
      assert.ok(!/https?:/.test(csp), 'no remote sources');
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
    }
  });
});

describe('static files', () => {
  test('path traversal, dotfiles and escaping symlinks are refused', async () => {
    const t = { 'x-delineate-token': host.token };
    for (const path of ['/../secret.txt', '/assets/../../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt', '/assets/%2e%2e%5c..%5csecret.txt', '/.env', '/assets/link.txt', '/%00', '/%E0%A4%A']) {
      const r = await rawRequest(host.port, { path, headers: t });
      assert.equal(r.status, 404, path);
      assert.ok(!r.body.toString().includes('TOP SECRET'), path);
      assert.ok(!r.body.toString().includes('SECRET=1'), path);
    }
  });

  test('only GET/HEAD for files, only POST for the API', async () => {
    const t = { 'x-delineate-token': host.token };
    assert.equal((await rawRequest(host.port, { path: '/', method: 'POST', headers: t })).status, 405);
    assert.equal((await rawRequest(host.port, { path: '/api/app.info', method: 'GET', headers: t })).status, 405);
    const head = await rawRequest(host.port, { path: '/assets/app.js', method: 'HEAD', headers: t });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
  });
});

describe('request bodies', () => {
  const t = () => ({ 'x-delineate-token': host.token });

  test('over the size limit: 413, declared or streamed', async () => {
    const big = encodeMessage({ files: [{ name: 'big.dcm', bytes: new Uint8Array(100 * 1024) }] });
    const r = await apiCall('/api/images.importFiles', t(), big);
    assert.equal(r.status, 413);
    assert.match(JSON.parse(r.body.toString()).message, /limit/);
    const chunked = await rawRequest(host.port, {
      path: '/api/images.importFiles',
      method: 'POST',
      headers: { ...t(), 'content-type': WIRE_CONTENT_TYPE, 'transfer-encoding': 'chunked' },
      body: big,
    });
    assert.equal(chunked.status, 413);
  });

  test('malformed bodies, unknown methods and bad params: 400 with an ApiErrorShape', async () => {
    const cases: [string, string, Uint8Array | string, RegExp][] = [
      ['/api/app.info', WIRE_CONTENT_TYPE, 'garbage', /Malformed request body/],
      ['/api/app.info', 'application/json', '{"x":', /Malformed request body/],
      ['/api/project.delete', 'application/json', '{}', /Unknown method/],
      ['/api/image.pixels', WIRE_CONTENT_TYPE, encodeMessage({ imageId: 'one', frame: 0 }), /imageId/],
      ['/api/project.open', 'application/json', '{"path":"/p","__proto__":{"x":1}}', /Unrecognized/],
      ['/api/%E0%A4%A', 'application/json', '{}', /Unknown method/],
    ];
    for (const [path, type, body, re] of cases) {
      const r = await rawRequest(host.port, { path, method: 'POST', headers: { ...t(), 'content-type': type }, body });
      assert.equal(r.status, 400, path);
      const shape = JSON.parse(r.body.toString());
      assert.equal(shape.code, 'bad_request');
      assert.match(shape.message, re);
    }
    const wrongType = await rawRequest(host.port, { path: '/api/app.info', method: 'POST', headers: { ...t(), 'content-type': 'text/plain' }, body: '{}' });
    assert.equal(wrongType.status, 415);
  });
});
