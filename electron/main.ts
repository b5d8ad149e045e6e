/**
 * Electron main process: one hardened window on the renderer build, the services wired to
 * the one IPC channel, the menu, and the app lifecycle. Everything that decides anything
 * lives in the services (plain Node); this file only wires.
 *
 * Runtime: Electron main (ESM).
 */
import { app, BrowserWindow, ipcMain, Menu, protocol, session, shell, type WebContents } from 'electron';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SECURITY_HEADERS } from './host/security-headers.js';
import { findStaticFile, mimeTypeFor } from './host/static-files.js';
import { createDispatch } from './ipc/dispatch.js';
import { APP_HOST, APP_ORIGIN, APP_SCHEME } from './ipc/ipc-envelope.js';
import { registerIpc } from './ipc/register.js';
import { buildMenu } from './menu.js';
import { createServices } from './services/index.js';
import { utilityProcessStarter } from './utility-process.js';
import { BLOCKED_REQUEST_URLS, navigationAllowed, secureWebPreferences, windowOpenDecision } from './window-policy.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // out/electron
const rendererDir = path.join(app.getAppPath(), 'dist', 'renderer');

// Must run before `ready`: app:// behaves like an https origin (fetch, module scripts, storage).
protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
app.enableSandbox();

if (!app.requestSingleInstanceLock()) {
  // A second launch focuses the first window (see 'second-instance') instead of opening the
  // same project database twice; exit now, before any service starts.
  app.exit(0);
}

let mainWindow: BrowserWindow | null = null;
let services: Awaited<ReturnType<typeof createServices>> | null = null;

function serveRenderer(): void {
  protocol.handle(APP_SCHEME, async (request) => {
    const url = new URL(request.url);
    const found = url.host === APP_HOST ? await findStaticFile(rendererDir, url.pathname) : null;
    if (!found) return new Response('Not found', { status: 404, headers: { ...SECURITY_HEADERS } });
    return new Response(await readFile(found.file), { headers: { ...SECURITY_HEADERS, 'content-type': mimeTypeFor(found.file) } });
  });
}

function hardenSession(): void {
  const ses = session.defaultSession;
  ses.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  // No remote content, ever: the renderer talks only to app:// and the IPC channel.
  ses.webRequest.onBeforeRequest({ urls: BLOCKED_REQUEST_URLS }, (_details, callback) => callback({ cancel: true }));
  ses.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [SECURITY_HEADERS['content-security-policy']!] } });
  });
}

function hardenContents(contents: WebContents): void {
  contents.on('will-navigate', (event, url) => {
    if (!navigationAllowed(url)) event.preventDefault();
  });
  contents.on('will-redirect', (event, url) => {
    if (!navigationAllowed(url)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    // Documentation links open in the user's browser; nothing opens inside the app.
    const decision = windowOpenDecision(url);
    if (decision.openExternally) void shell.openExternal(url);
    return { action: decision.action };
  });
}

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1440,
    height: 920,
    minWidth: 900,
    minHeight: 600,
    show: false,
    title: 'Delineate',
    backgroundColor: '#111418',
    webPreferences: secureWebPreferences(path.join(here, 'preload.cjs')),
  });
  win.once('ready-to-show', () => win.show());
  // Closing the window must not drop the last edits, which the renderer batches for up to
  // 0.7 s: hold the close, let the page save what is pending (it exposes
  // window.__delineateFlush for this), then close. A hung page still closes after 5 s.
  let flushed = false;
  win.on('close', (event) => {
    if (flushed || win.webContents.isCrashed()) return;
    event.preventDefault();
    const flush = win.webContents.executeJavaScript('typeof window.__delineateFlush === "function" ? window.__delineateFlush() : null', true);
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, 5000));
    void Promise.race([flush, timeout])
      .catch(() => undefined)
      .finally(() => {
        flushed = true;
        if (!win.isDestroyed()) win.close();
      });
  });
  win.on('closed', () => {
    if (mainWindow === win) mainWindow = null;
  });
  void win.loadURL(`${APP_ORIGIN}/index.html`);
  return win;
}

app.on('web-contents-created', (_event, contents) => hardenContents(contents));

app.on('second-instance', () => {
  if (mainWindow) {
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.focus();
  }
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});

app.on('activate', () => {
  if (app.isReady() && BrowserWindow.getAllWindows().length === 0) mainWindow = createWindow();
});

app.on('will-quit', () => {
  // Closing the services flushes pending mask saves and checkpoints the SQLite WAL.
  services?.close();
  services = null;
});

app
  .whenReady()
  .then(async () => {
    services = await createServices({ user: os.userInfo().username, transport: 'electron', startProcess: utilityProcessStarter });
    hardenSession();
    serveRenderer();
    registerIpc(ipcMain, createDispatch(services), (event) => BrowserWindow.fromWebContents(event.sender));
    const isMac = process.platform === 'darwin';
    Menu.setApplicationMenu(buildMenu({ getWindow: () => mainWindow, isPackaged: app.isPackaged, isMac }));
    mainWindow = createWindow();
  })
  .catch((error: unknown) => {
    console.error('[delineate] failed to start:', error);
    app.exit(1);
  });
