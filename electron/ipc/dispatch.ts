/**
 * Validate-then-dispatch, shared by every receiver (Electron IPC and the browser host):
 * parse the request against the contract, call the service handler, and turn whatever it
 * throws into an ApiError so it can cross the boundary as data.
 *
 * Runtime: pure Node (no `electron`).
 */
import { ApiError, parseRequest, type Handlers, type MethodName } from '../contract/api.js';
import { plainApiError } from './plain-errors.js';

export type Dispatch = (method: unknown, params: unknown) => Promise<unknown>;

export interface DispatchOptions {
  /** Where unexpected (non-ApiError) failures are logged with their stack; stderr by default. */
  logInternal?: (method: string, error: unknown) => void;
}

export function createDispatch(handlers: Handlers, options: DispatchOptions = {}): Dispatch {
  const logInternal = options.logInternal ?? ((method, error) => console.error(`[delineate] ${method} failed:`, error));
  return async (rawMethod, rawParams) => {
    const { method, params } = parseRequest(rawMethod, rawParams);
    const handler = handlers[method] as (p: unknown) => unknown;
    if (typeof handler !== 'function') throw new ApiError('internal', `No service implements ${method}`);
    try {
      return await handler.call(handlers, params);
    } catch (e) {
      if (e instanceof ApiError) throw e;
      // The raw message and stack go to the log; the caller gets a code and a sentence.
      logInternal(method as MethodName, e);
      throw plainApiError(e);
    }
  };
}
