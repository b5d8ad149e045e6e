/**
 * Who may talk to the browser host: requests addressed to 127.0.0.1/localhost on our port
 * (a DNS-rebinding page arrives with its own Host), from our own origin, carrying the
 * per-run token in a header, the session cookie, or (first visit only) the URL.
 *
 * Runtime: Node (crypto for constant-time comparison).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export const TOKEN_HEADER = 'x-delineate-token';

export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Cookies are not port-scoped, so two hosts on one machine need different names. */
export function cookieName(port: number): string {
  return `delineate_${port}`;
}

export function sessionCookie(port: number, token: string): string {
  return `${cookieName(port)}=${token}; Path=/; HttpOnly; SameSite=Strict`;
}

export function tokensEqual(expected: string, given: string | undefined | null): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return out;
}

export function allowedHosts(port: number): Set<string> {
  return new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
}

export function allowedOrigins(port: number): Set<string> {
  return new Set([`http://127.0.0.1:${port}`, `http://localhost:${port}`]);
}

export type GuardVerdict = { ok: true; via: 'header' | 'cookie' | 'query' } | { ok: false; status: 401 | 403; reason: string };

/**
 * Decide whether a request may proceed. `queryToken` is honoured only for page loads
 * (the printed URL); API calls must use the header or the cookie.
 */
export function checkRequest(opts: {
  port: number;
  token: string;
  headers: IncomingHttpHeaders;
  queryToken?: string | null;
  isApi: boolean;
}): GuardVerdict {
  const { port, token, headers, isApi } = opts;
  if (!allowedHosts(port).has(String(headers.host ?? '').toLowerCase())) {
    return { ok: false, status: 403, reason: 'Host header is not this Delineate host' };
  }
  const origin = headers.origin;
  if (origin !== undefined && !allowedOrigins(port).has(origin)) {
    return { ok: false, status: 403, reason: 'Cross-origin request refused' };
  }
  const site = headers['sec-fetch-site'];
  if (isApi && site !== undefined && site !== 'same-origin' && site !== 'none') {
    return { ok: false, status: 403, reason: 'Cross-site request refused' };
  }
  const header = headers[TOKEN_HEADER];
  const fromHeader = Array.isArray(header) ? header[0] : header;
  if (fromHeader !== undefined) {
    return tokensEqual(token, fromHeader) ? { ok: true, via: 'header' } : { ok: false, status: 403, reason: 'Wrong token' };
  }
  const fromCookie = parseCookies(headers.cookie).get(cookieName(port));
  if (fromCookie !== undefined && tokensEqual(token, fromCookie)) return { ok: true, via: 'cookie' };
  if (!isApi && opts.queryToken != null) {
    return tokensEqual(token, opts.queryToken) ? { ok: true, via: 'query' } : { ok: false, status: 403, reason: 'Wrong token' };
  }
  if (fromCookie !== undefined) return { ok: false, status: 403, reason: 'Wrong token' };
  return { ok: false, status: 401, reason: 'Token required: open the URL printed by `npm start`' };
}
