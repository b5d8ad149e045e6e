/**
 * Health and metrics over HTTP, on 127.0.0.1 only, each request with the node's bearer token
 * (compared in constant time). GET /health and GET /metrics answer JSON; anything else 404.
 * Runtime: node.
 */
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StatusServer {
  port: number;
  close(): Promise<void>;
}

function sameToken(header: string | undefined, token: string): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? '');
  if (!m) return false;
  const a = Buffer.from(m[1]!);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The path of a request target (origin or absolute form), or null when it is not a URL. */
function requestPath(target: string | undefined): string | null {
  if (!URL.canParse(target ?? '/', 'http://localhost')) return null;
  return new URL(target ?? '/', 'http://localhost').pathname;
}

export function startStatusServer(port: number, token: string, routes: Record<string, () => unknown>): Promise<StatusServer> {
  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    // Nothing a client sends may throw out of this handler: an exception here would end the
    // whole node (SCP, queue, workers), not just this request.
    try {
      if (!sameToken(req.headers.authorization, token)) return send(401, { error: 'a valid bearer token is required' });
      const pathname = requestPath(req.url);
      if (pathname === null) return send(400, { error: 'the request target is not a valid URL' });
      const route = req.method === 'GET' ? routes[pathname] : undefined;
      if (!route) return send(404, { error: `no ${req.method} ${pathname}` });
      send(200, route());
    } catch (e) {
      if (!res.headersSent) send(500, { error: (e as Error).message });
      else res.destroy();
    }
  });
  // A request line Node's parser itself rejects never reaches the handler: answer 400, do not crash.
  server.on('clientError', (_e, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // Loopback only: metrics are for the machine's own monitoring agent, not the network.
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}
