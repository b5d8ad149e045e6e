/**
 * Who may talk to the browser host: requests addressed to 127.0.0.1/localhost on our port
 * (a DNS-rebinding page arrives with its own Host), from our own origin.
 *
 * Two secrets, because browsers share cookies across ports on one host: any other program's
 * page on 127.0.0.1 receives our cookie. So the cookie carries only a *page key*, which loads
 * the renderer's files (public code) and nothing else. The API *token* travels only in the
 * `x-delineate-token` header; the renderer takes it from the first visit's URL fragment and
 * keeps it in sessionStorage, which is scoped to our exact origin (port included).
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

/** The page-key cookie: loads the renderer's files, never accepted by the API. */
export function sessionCookie(port: number, pageKey: string): string {
  return `${cookieName(port)}=${pageKey}; Path=/; HttpOnly; SameSite=Strict`;
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
 * Decide whether a request may proceed. API calls need the token in the header, nothing
 * else. Page loads take the header, the page-key cookie, or (the printed URL) the token in
 * the query, which the host then trades for the cookie.
 */
export function checkRequest(opts: {
  port: number;
  token: string;
  pageKey: string;
  headers: IncomingHttpHeaders;
  queryToken?: string | null;
  isApi: boolean;
}): GuardVerdict {
  const { port, token, pageKey, headers, isApi } = opts;
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
  if (isApi) return { ok: false, status: 401, reason: 'Token required: API calls carry it in the x-delineate-token header' };
  const fromCookie = parseCookies(headers.cookie).get(cookieName(port));
  if (fromCookie !== undefined && tokensEqual(pageKey, fromCookie)) return { ok: true, via: 'cookie' };
  if (opts.queryToken != null) {
    return tokensEqual(token, opts.queryToken) ? { ok: true, via: 'query' } : { ok: false, status: 403, reason: 'Wrong token' };
  }
  if (fromCookie !== undefined) return { ok: false, status: 403, reason: 'Wrong token' };
  return { ok: false, status: 401, reason: 'Token required: open the URL printed by `npm start`' };
}
