/**
 * The main-process side of the one IPC channel, without Electron: check who is calling,
 * validate and dispatch, and answer with an envelope (errors as data).
 *
 * Runtime: pure Node (no `electron`), so it is tested like any service code.
 */
import { ApiError } from '../contract/api.js';
import type { IpcEnvelope } from './bridge-types.js';
import type { Dispatch } from './dispatch.js';

/** The renderer is loaded from app://delineate/; nothing else may call the services. */
export const APP_SCHEME = 'app';
export const APP_HOST = 'delineate';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;

export function isTrustedRendererUrl(url: string | undefined | null): boolean {
  if (typeof url !== 'string') return false;
  try {
    const u = new URL(url);
    return u.protocol === `${APP_SCHEME}:` && u.host === APP_HOST;
  } catch {
    return false;
  }
}

export async function answerIpcCall(dispatch: Dispatch, senderUrl: string | undefined | null, method: unknown, params: unknown): Promise<IpcEnvelope> {
  if (!isTrustedRendererUrl(senderUrl)) {
    return { ok: false, error: new ApiError('bad_request', `Refused IPC call from untrusted frame ${String(senderUrl).slice(0, 200)}`).toShape() };
  }
  try {
    return { ok: true, result: await dispatch(method, params) };
  } catch (e) {
    return { ok: false, error: ApiError.from(e).toShape() };
  }
}
