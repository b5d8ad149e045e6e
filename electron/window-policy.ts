/**
 * What the Electron window may do, as plain data and predicates, so tests can pin the
 * security settings without an Electron binary. main.ts applies them.
 *
 * Runtime: pure (a type-only `electron` import, erased when compiled).
 */
import type { WebPreferences } from 'electron';
import { methodNames } from './contract/api.js';
import { METHODS_ARG } from './ipc/bridge-types.js';
import { isTrustedRendererUrl } from './ipc/ipc-envelope.js';

export function secureWebPreferences(preloadPath: string): WebPreferences {
  return {
    preload: preloadPath,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webviewTag: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    experimentalFeatures: false,
    navigateOnDragDrop: false,
    spellcheck: false,
    // The preload's method allow-list, from the contract (a sandboxed preload cannot import it).
    additionalArguments: [METHODS_ARG + methodNames.join(',')],
  };
}

/** In-app navigation is allowed only within the app:// renderer (dropped files must not navigate away). */
export function navigationAllowed(url: string): boolean {
  return isTrustedRendererUrl(url);
}

/** No new windows, ever; https links go to the user's browser. */
export function windowOpenDecision(url: string): { action: 'deny'; openExternally: boolean } {
  let external = false;
  try {
    external = new URL(url).protocol === 'https:';
  } catch {
    external = false;
  }
  return { action: 'deny', openExternally: external };
}

/** Requests the renderer may make over the network stack: none (it talks to app:// and IPC). */
export const BLOCKED_REQUEST_URLS = ['http://*/*', 'https://*/*', 'ws://*/*', 'wss://*/*', 'ftp://*/*'];
