/**
 * The application menu. Commands that need the renderer (open project, import, retrain) are sent to
 * it as MenuCommand; it runs the dialog and the API call, the same path as its toolbar.
 *
 * Runtime: Electron main.
 */
import { Menu, type BrowserWindow, type MenuItemConstructorOptions } from 'electron';
import { MENU_CHANNEL, type MenuCommand } from './ipc/bridge-types.js';

export function buildMenu(opts: { getWindow: () => BrowserWindow | null; isPackaged: boolean; isMac: boolean }): Menu {
  const send = (command: MenuCommand) => () => opts.getWindow()?.webContents.send(MENU_CHANNEL, command);
  const template: MenuItemConstructorOptions[] = [
    ...(opts.isMac ? [{ role: 'appMenu' as const }] : []),
    {
      label: '&File',
      submenu: [
        { label: 'New Project…', accelerator: 'CmdOrCtrl+N', click: send('project.new') },
        { label: 'Open Project…', accelerator: 'CmdOrCtrl+O', click: send('project.open') },
        { type: 'separator' },
        { label: 'Import Files…', accelerator: 'CmdOrCtrl+I', click: send('import.files') },
        { label: 'Import Folder…', accelerator: 'CmdOrCtrl+Shift+O', click: send('import.folder') },
        { type: 'separator' },
        opts.isMac ? { role: 'close' } : { role: 'quit' },
      ],
    },
    // No undo/redo roles: the annotation editor owns Ctrl+Z / Ctrl+Y for mask history.
    { label: '&Edit', submenu: [{ role: 'cut' }, { role: 'copy' }, { role: 'paste' }, { role: 'selectAll' }] },
    {
      label: '&View',
      submenu: [
        { role: 'resetZoom' },
        { role: 'zoomIn' },
        { role: 'zoomOut' },
        { type: 'separator' },
        { role: 'togglefullscreen' },
        ...(opts.isPackaged ? [] : [{ type: 'separator' as const }, { role: 'reload' as const }, { role: 'toggleDevTools' as const }]),
      ],
    },
    {
      label: '&Training',
      submenu: [
        // Shift+R is the renderer's shortcut; shown here but not registered, so typing R in a text field still works.
        { label: 'Retrain on My Data…', ...(opts.isMac ? {} : { accelerator: 'Shift+R', registerAccelerator: false }), click: send('training.retrain') },
      ],
    },
    { label: '&Help', submenu: [{ label: 'Keyboard Shortcuts', accelerator: 'F1', click: send('help.shortcuts') }] },
  ];
  return Menu.buildFromTemplate(template);
}
