/**
 * The node's health/metrics server over a raw socket: a malformed request target from a
 * client holding the token is answered 400 and the server (the whole node, in production)
 * keeps serving; the token is still required; an unknown path is 404.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { startStatusServer } from '../../electron/headless/status-server.node.js';

const TOKEN = 'tok-0123456789abcdef';

/** Send raw bytes, return the status line of the answer. */
function raw(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const c = net.connect(port, '127.0.0.1', () => c.write(request));
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      got += d;
      if (got.includes('\r\n')) {
        c.destroy();
        resolve(got.split('\r\n')[0]!);
      }
    });
    c.on('error', reject);
    c.on('close', () => resolve(got.split('\r\n')[0] ?? ''));
  });
}

test('a malformed request target is a 400, not a crash; the server keeps serving', { timeout: 15_000 }, async () => {
  const s = await startStatusServer(0, TOKEN, { '/health': () => ({ ok: true }) });
  try {
    const auth = `Authorization: Bearer ${TOKEN}\r\n`;
    for (const target of ['http://[', 'http://[::1', '//[bad']) {
      assert.equal(await raw(s.port, `GET ${target} HTTP/1.1\r\nHost: x\r\n${auth}\r\n`), 'HTTP/1.1 400 Bad Request', target);
    }
    assert.equal(await raw(s.port, `GET /health HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`), 'HTTP/1.1 200 OK', 'still serving');
    assert.equal(await raw(s.port, `GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`), 'HTTP/1.1 401 Unauthorized');
    assert.equal(await raw(s.port, `GET /nope HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`), 'HTTP/1.1 404 Not Found');
  } finally {
    await s.close();
  }
});
