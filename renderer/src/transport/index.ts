/**
 * The renderer's one door to the services.
 *
 *   import { api, transportKind, desktop } from '$transport';
 *   const info = await api.call('project.open', { path });
 *
 * In Electron the preload script exposes `window.delineate` and calls go over IPC; in the
 * browser host they go over HTTP to the same origin. Both reject with `ApiError`
 * (`code`, `message`, `file`). `desktop` holds the native dialogs and is null in the
 * browser, where the UI offers drag-and-drop / file input instead.
 *
 * Runtime: renderer (reads `window`).
 */
import type { DelineateApi } from '../../../electron/contract/api.js';
import type { DelineateBridge, DesktopDialogs, MenuCommand } from '../../../electron/ipc/bridge-types.js';
import { createBridgeApi } from './bridge-client.js';
import { createHttpApi } from './http-client.js';
import { takeSessionToken } from './session-token.js';

declare global {
  interface Window {
    delineate?: DelineateBridge;
  }
}

export type TransportKind = 'electron' | 'browser';

/** Largest request body the browser host accepts: send `images.importFiles` in batches below it. */
export { MAX_REQUEST_BYTES } from '../../../electron/host/wire.js';

const bridge = typeof window !== 'undefined' ? window.delineate : undefined;
const validateResults = import.meta.env?.DEV === true;

export const transportKind: TransportKind = bridge ? 'electron' : 'browser';

function browserApi(): DelineateApi {
  const token = typeof window !== 'undefined' ? takeSessionToken({ location: window.location, storage: window.sessionStorage, history: window.history }) : undefined;
  return createHttpApi({ validateResults, ...(token !== undefined ? { token } : {}) });
}

export const api: DelineateApi = bridge ? createBridgeApi(bridge, { validateResults }) : browserApi();

export const desktop: DesktopDialogs | null = bridge
  ? {
      pickFiles: () => bridge.pickFiles(),
      pickFolder: () => bridge.pickFolder(),
      pickProjectFolder: () => bridge.pickProjectFolder(),
      pathForFile: (file: File) => bridge.pathForFile(file),
    }
  : null;

/** Subscribe to application-menu commands (Electron only; a no-op in the browser). */
export function onMenuCommand(listener: (command: MenuCommand) => void): () => void {
  return bridge ? bridge.onMenu(listener) : () => {};
}

export { ApiError } from '../../../electron/contract/api.js';
export type { MenuCommand, DesktopDialogs } from '../../../electron/ipc/bridge-types.js';
