/**
 * DelineateApi over the browser host's HTTP endpoint (POST /api/<method>).
 *
 * The per-run token goes in the `x-delineate-token` header: the renderer takes it from
 * sessionStorage (see session-token.ts), Node callers (tests, benches) pass it. The host
 * never accepts it from a cookie, which other local servers' pages would receive too.
 *
 * Runtime: pure (fetch, TextDecoder); runs in Chromium and in Node tests.
 */
import { ApiError, type DelineateApi, type MethodName, type Params, type Result } from '../../../electron/contract/api.js';
import { decodeMessage, encodeMessage, WIRE_CONTENT_TYPE } from '../../../electron/host/wire.js';
import { checkResult, errorFromShape } from './errors.js';

export interface HttpApiOptions {
  /** Origin of the host, e.g. "http://127.0.0.1:5123"; empty means same origin (the page's). */
  baseUrl?: string;
  token?: string;
  /** Check every result against the contract; on in development builds. */
  validateResults?: boolean;
  fetch?: typeof fetch;
}

export const TOKEN_HEADER = 'x-delineate-token';

export function createHttpApi(options: HttpApiOptions = {}): DelineateApi {
  const base = (options.baseUrl ?? '').replace(/\/$/, '');
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const headers: Record<string, string> = { 'content-type': WIRE_CONTENT_TYPE };
  if (options.token !== undefined) headers[TOKEN_HEADER] = options.token;

  return {
    async call<M extends MethodName>(method: M, params: Params<M>): Promise<Result<M>> {
      let response: Response;
      try {
        response = await doFetch(`${base}/api/${encodeURIComponent(method)}`, {
          method: 'POST',
          headers,
          body: encodeMessage(params ?? {}) as unknown as BodyInit,
          credentials: 'omit',
          cache: 'no-store',
        });
      } catch (e) {
        throw new ApiError('io', `Cannot reach the Delineate host for ${method}: ${e instanceof Error ? e.message : String(e)}`);
      }
      if (!response.ok) {
        let body: unknown = null;
        try {
          body = await response.json();
        } catch {
          /* not JSON: fall through to the generic message */
        }
        throw errorFromShape(body, `${method} failed with HTTP ${response.status}`);
      }
      const result = decodeMessage(new Uint8Array(await response.arrayBuffer()));
      return (options.validateResults ? checkResult(method, result) : result) as Result<M>;
    },
  };
}
