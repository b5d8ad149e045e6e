/**
 * Preload (sandboxed, CommonJS): exposes `window.delineate` and nothing else.
 *
 * A sandboxed preload may require only `electron`, so the channel names are repeated here
 * instead of imported; tests/transport/preload-constants.test.ts keeps them in step with
 * electron/ipc/bridge-types.ts. The method allow-list comes from the main process (built
 * from the contract) via `additionalArguments`, so it has one source.
 *
 * Runtime: Electron preload (sandbox: true, contextIsolation: true).
 */
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';
import type { DelineateBridge, MenuCommand } from './ipc/bridge-types.js' with { 'resolution-mode': 'import' };

const IPC_CHANNEL = 'delineate:call';
const MENU_CHANNEL = 'delineate:menu';
const PICK_FILES = 'delineate:pickFiles';
const PICK_FOLDER = 'delineate:pickFolder';
const PICK_PROJECT_FOLDER = 'delineate:pickProjectFolder';
const METHODS_ARG = '--delineate-methods=';
const MENU_COMMANDS: ReadonlySet<string> = new Set<MenuCommand>(['project.new', 'project.open', 'import.files', 'import.folder', 'training.retrain', 'help.shortcuts']);

const allowed: ReadonlySet<string> = new Set(
  (process.argv.find((a) => a.startsWith(METHODS_ARG)) ?? METHODS_ARG).slice(METHODS_ARG.length).split(',').filter(Boolean),
);

const bridge: DelineateBridge = {
  call(method, params) {
    if (typeof method !== 'string' || !allowed.has(method)) {
      return Promise.resolve({ ok: false, error: { code: 'bad_request', message: `Unknown method: ${JSON.stringify(method)?.slice(0, 100)}` } });
    }
    return ipcRenderer.invoke(IPC_CHANNEL, method, params);
  },
  pickFiles: () => ipcRenderer.invoke(PICK_FILES),
  pickFolder: () => ipcRenderer.invoke(PICK_FOLDER),
  pickProjectFolder: () => ipcRenderer.invoke(PICK_PROJECT_FOLDER),
  pathForFile: (file) => webUtils.getPathForFile(file),
  onMenu(listener) {
    const forward = (_event: IpcRendererEvent, command: unknown): void => {
      if (typeof command === 'string' && MENU_COMMANDS.has(command)) listener(command as MenuCommand);
    };
    ipcRenderer.on(MENU_CHANNEL, forward);
    return () => {
      ipcRenderer.removeListener(MENU_CHANNEL, forward);
    };
  },
};

contextBridge.exposeInMainWorld('delineate', bridge);
