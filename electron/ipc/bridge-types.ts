/**
 * The shape of `window.delineate`, the object the preload script exposes in Electron.
 *
 * Runtime: types only; imported by the preload script, the IPC handler and the renderer's
 * transport so all three agree on one envelope.
 */
import type { ApiErrorShape } from '../contract/api.js';

/** The one IPC channel between the renderer and the main process. */
export const IPC_CHANNEL = 'delineate:call';

/**
 * Errors do not survive `ipcRenderer.invoke` (Electron keeps only the message), so the main
 * process answers with an envelope and the renderer rethrows `ApiError` from it.
 */
export type IpcEnvelope = { ok: true; result: unknown } | { ok: false; error: ApiErrorShape };

/** Native dialogs exist only in Electron; in the browser `desktop` is null and the UI hides them. */
export interface DesktopDialogs {
  /** Absolute paths of the chosen image files (empty when cancelled). */
  pickFiles(): Promise<string[]>;
  /** Absolute path of the chosen folder, or null when cancelled. */
  pickFolder(): Promise<string | null>;
  /** Absolute path of a folder for a new or existing project, or null when cancelled. */
  pickProjectFolder(): Promise<string | null>;
  /**
   * The absolute path of a dropped File (Electron's webUtils.getPathForFile), '' when it has
   * none. Lets drag-and-drop import by path instead of sending the bytes over IPC.
   */
  pathForFile(file: File): string;
}

export interface DelineateBridge extends DesktopDialogs {
  call(method: string, params: unknown): Promise<IpcEnvelope>;
  /**
   * Menu commands from the main process; the renderer runs the matching dialog + API call
   * (so one code path serves menu, toolbar and shortcut). Returns an unsubscribe function.
   */
  onMenu(listener: (command: MenuCommand) => void): () => void;
}

/** The application menu's commands: one list, the type derived from it (the preload checks against the list). */
export const MENU_COMMANDS = ['project.new', 'project.open', 'import.files', 'import.folder', 'training.retrain', 'help.shortcuts'] as const;
export type MenuCommand = (typeof MENU_COMMANDS)[number];
export const DIALOG_CHANNELS = {
  pickFiles: 'delineate:pickFiles',
  pickFolder: 'delineate:pickFolder',
  pickProjectFolder: 'delineate:pickProjectFolder',
} as const;
export const MENU_CHANNEL = 'delineate:menu';
/** Argument through which main hands the preload its method allow-list (from the contract). */
export const METHODS_ARG = '--delineate-methods=';
