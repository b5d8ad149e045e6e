/**
 * Wires the one API channel and the dialog channels into Electron's ipcMain.
 * Every handler first checks that the sender is our app:// renderer.
 *
 * Runtime: Electron main.
 */
import { dialog, type BrowserWindow, type IpcMain, type IpcMainInvokeEvent } from 'electron';
import { DIALOG_CHANNELS, IPC_CHANNEL } from './bridge-types.js';
import type { Dispatch } from './dispatch.js';
import { answerIpcCall, isTrustedRendererUrl } from './ipc-envelope.js';

const IMAGE_FILTERS = [
  { name: 'Images and DICOM', extensions: ['dcm', 'dicom', 'ima', 'png', 'jpg', 'jpeg', 'bmp', 'tif', 'tiff'] },
  { name: 'All files', extensions: ['*'] },
];

export function registerIpc(ipcMain: IpcMain, dispatch: Dispatch, windowFor: (event: IpcMainInvokeEvent) => BrowserWindow | null): () => void {
  const trusted = (event: IpcMainInvokeEvent): boolean => isTrustedRendererUrl(event.senderFrame?.url);

  ipcMain.handle(IPC_CHANNEL, (event, method: unknown, params: unknown) => answerIpcCall(dispatch, event.senderFrame?.url, method, params));

  const open = async (event: IpcMainInvokeEvent, options: Electron.OpenDialogOptions): Promise<string[]> => {
    if (!trusted(event)) return [];
    const win = windowFor(event);
    const r = win ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
    return r.canceled ? [] : r.filePaths;
  };
  ipcMain.handle(DIALOG_CHANNELS.pickFiles, (e) => open(e, { title: 'Import images', properties: ['openFile', 'multiSelections'], filters: IMAGE_FILTERS }));
  ipcMain.handle(DIALOG_CHANNELS.pickFolder, async (e) => (await open(e, { title: 'Import a folder', properties: ['openDirectory'] }))[0] ?? null);
  ipcMain.handle(
    DIALOG_CHANNELS.pickProjectFolder,
    async (e) => (await open(e, { title: 'Project folder', buttonLabel: 'Use this folder', properties: ['openDirectory', 'createDirectory'] }))[0] ?? null,
  );

  return () => {
    for (const channel of [IPC_CHANNEL, ...Object.values(DIALOG_CHANNELS)]) ipcMain.removeHandler(channel);
  };
}
