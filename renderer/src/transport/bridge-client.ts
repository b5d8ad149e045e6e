/**
 * DelineateApi over the Electron preload bridge (`window.delineate`).
 * Runtime: pure (renderer).
 */
import type { DelineateApi, MethodName, Params, Result } from '../../../electron/contract/api.js';
import type { DelineateBridge } from '../../../electron/ipc/bridge-types.js';
import { checkResult, errorFromShape } from './errors.js';

export function createBridgeApi(bridge: DelineateBridge, options: { validateResults?: boolean } = {}): DelineateApi {
  return {
    async call<M extends MethodName>(method: M, params: Params<M>): Promise<Result<M>> {
      const envelope = await bridge.call(method, params ?? {});
      if (!envelope.ok) throw errorFromShape(envelope.error, `${method} failed`);
      return (options.validateResults ? checkResult(method, envelope.result) : envelope.result) as Result<M>;
    },
  };
}
