/**
 * The browser host: the same renderer and services as the Electron shell, over HTTP on
 * 127.0.0.1 with a per-run token.
 *
 *   GET  /?token=T        first visit: sets the page-key cookie, redirects to /#token=T
 *                         (the renderer moves the token into sessionStorage)
 *   GET  /<asset>         the renderer build (dist/renderer), page-key cookie required
 *   POST /api/<method>    token in the x-delineate-token header (never a cookie: see
 *                         request-guard.ts); body: wire message (see wire.ts) or JSON;
 *                         answer: wire message, or an ApiErrorShape JSON body with a 4xx/5xx status
 *
 * Runtime: Node.
 */
import { createReadStream } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError, type Handlers } from '../contract/api.js';
import { createDispatch, type Dispatch } from '../ipc/dispatch.js';
import { plainApiError } from '../ipc/plain-errors.js';
import { httpStatusFor } from './errors.js';
import { checkRequest, newToken, sessionCookie } from './request-guard.js';
import { SECURITY_HEADERS } from './security-headers.js';
import { findStaticFile, mimeTypeFor } from './static-files.js';
import { decodeMessage, encodeMessage, MAX_JSON_BYTES, MAX_REQUEST_BYTES, WIRE_CONTENT_TYPE, WireFormatError } from './wire.js';

export const DEFAULT_MAX_BODY_BYTES = MAX_REQUEST_BYTES;
const LOOPBACK = '127.0.0.1';

export interface HostOptions {
  handlers: Handlers;
  /** The renderer build to serve (dist/renderer); API-only when omitted. */
  staticDir?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Fixed token for tests; a fresh random one otherwise. */
  token?: string;
  maxBodyBytes?: number;
  logInternal?: (method: string, error: unknown) => void;
}

export interface RunningHost {
  port: number;
  token: string;
  origin: string;
  /** What to open in a browser: origin + "/?token=...". */
  url: string;
  close(): Promise<void>;
}

class HttpFailure extends Error {
  constructor(
    readonly status: number,
    readonly apiError: ApiError,
  ) {
    super(apiError.message);
  }
}

function sendError(res: ServerResponse, status: number, error: ApiError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(error.toShape());
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    throw new HttpFailure(413, new ApiError('bad_request', `Request body of ${declared} bytes exceeds the ${limit}-byte limit`));
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) throw new HttpFailure(413, new ApiError('bad_request', `Request body exceeds the ${limit}-byte limit`));
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

function decodeParams(body: Buffer, contentType: string): unknown {
  if (body.length === 0) return {};
  try {
    if (contentType.startsWith(WIRE_CONTENT_TYPE)) return decodeMessage(body);
    if (contentType.startsWith('application/json')) {
      if (body.length > MAX_JSON_BYTES) throw new WireFormatError(`A JSON body of ${body.length} bytes is more than the ${MAX_JSON_BYTES}-byte limit`);
      return JSON.parse(body.toString('utf8'));
    }
  } catch (e) {
    const why = e instanceof WireFormatError || e instanceof SyntaxError ? e.message : String(e);
    throw new HttpFailure(400, new ApiError('bad_request', `Malformed request body: ${why}`));
  }
  throw new HttpFailure(415, new ApiError('bad_request', `Unsupported content type "${contentType}"; use ${WIRE_CONTENT_TYPE} or application/json`));
}

async function handleApi(req: IncomingMessage, res: ServerResponse, method: string, dispatch: Dispatch, maxBody: number): Promise<void> {
  if (req.method !== 'POST') throw new HttpFailure(405, new ApiError('bad_request', 'API calls must be POST'));
  const started = performance.now();
  const params = decodeParams(await readBody(req, maxBody), String(req.headers['content-type'] ?? ''));
  let result: unknown;
  try {
    result = await dispatch(method, params);
  } catch (e) {
    const err = ApiError.from(e);
    throw new HttpFailure(httpStatusFor(err.code), err);
  }
  const body = encodeMessage(result ?? null);
  // Server-Timing: how long the host spent on the call, so the page (and the render bench) can
  // tell host time from time spent queueing in the browser and on the wire.
  const serverTiming = `host;dur=${(performance.now() - started).toFixed(1)}`;
  res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': WIRE_CONTENT_TYPE, 'cache-control': 'no-store', 'content-length': body.byteLength, 'server-timing': serverTiming });
  res.end(body);
}

async function handleStatic(req: IncomingMessage, res: ServerResponse, url: URL, staticDir: string | undefined): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpFailure(405, new ApiError('bad_request', 'Only GET and HEAD are allowed here'));
  const found = staticDir === undefined ? null : await findStaticFile(staticDir, url.pathname);
  if (!found) throw new HttpFailure(404, new ApiError('not_found', `No such file: ${url.pathname}`));
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-type': mimeTypeFor(found.file),
    'content-length': found.size,
    'cache-control': 'no-cache',
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  // A file that vanishes mid-read (a rebuild) must not crash the host: drop that response.
  createReadStream(found.file)
    .on('error', () => res.destroy())
    .pipe(res);
}

export async function startHost(options: HostOptions): Promise<RunningHost> {
  const token = options.token ?? newToken();
  const pageKey = newToken();
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const dispatch = createDispatch(options.handlers, options.logInternal ? { logInternal: options.logInternal } : {});
  let port = 0;

  const server = http.createServer((req, res) => {
    void (async () => {
      try {
        const url = new URL(req.url ?? '/', `http://${LOOPBACK}:${port}`);
        const isApi = url.pathname.startsWith('/api/');
        const verdict = checkRequest({ port, token, pageKey, headers: req.headers, queryToken: url.searchParams.get('token'), isApi });
        if (!verdict.ok) throw new HttpFailure(verdict.status, new ApiError('bad_request', verdict.reason));
        if (verdict.via === 'query') {
          // Trade the URL token for the page-key cookie; the token moves to the fragment, which
          // never leaves the browser, for the renderer to keep in sessionStorage.
          url.searchParams.delete('token');
          const location = `${sameOriginPath(url)}#token=${encodeURIComponent(token)}`;
          res.writeHead(303, { ...SECURITY_HEADERS, 'set-cookie': sessionCookie(port, pageKey), location, 'cache-control': 'no-store' });
          res.end();
          return;
        }
        if (isApi) await handleApi(req, res, url.pathname.slice('/api/'.length), dispatch, maxBody);
        else await handleStatic(req, res, url, options.staticDir);
      } catch (e) {
        if (e instanceof HttpFailure) sendError(res, e.status, e.apiError);
        else {
          options.logInternal?.(req.url ?? '?', e);
          sendError(res, 500, plainApiError(e));
        }
        // Unread request bodies would otherwise keep the socket busy.
        if (!req.complete) req.resume();
      }
    })();
  });
  server.requestTimeout = 10 * 60 * 1000; // big imports over a slow disk are allowed to take a while
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, LOOPBACK, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const origin = `http://${LOOPBACK}:${port}`;
  return {
    port,
    token,
    origin,
    url: `${origin}/?token=${token}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Where to send the browser after the token visit: the same path on this origin. Leading
 * slashes are collapsed, since "//evil.example/" in a Location header is another host.
 */
export function sameOriginPath(url: URL): string {
  return `/${url.pathname.replace(/^\/+/, '')}${url.search}`;
}
