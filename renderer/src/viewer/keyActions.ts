/**
 * What each keyboard action does. The key table lives in lib/shortcuts.ts (also the help
 * overlay); this maps actions onto the workspace and the viewport's own commands.
 *
 * Runtime: browser (workspace state).
 */
import type { Action } from '../lib/shortcuts';
import { neighbourLeaf } from '../lib/grouping';
import type { Workspace } from '../state/workspace.svelte';

/** What only the viewport can do (it owns the cornerstone element and the gesture in progress). */
export interface ViewerCommands {
  fit(): void;
  preset(index: number): void;
  autoWindow(): void;
  /** True when a polygon was in progress (and is now filled / cancelled). */
  closePolygon(erase: boolean): boolean;
  cancelPolygon(): boolean;
  /** Scroll direction, so prefetching looks ahead the right way. */
  setDirection(d: 1 | -1): void;
  /** View-only transforms (what is drawn or clicked stays in image pixels). */
  rotate(turns: 1 | -1): void;
  flip(axis: 'horizontal' | 'vertical'): void;
  invert(): void;
  toggleCine(): void;
}

/**
 * Whether Space belongs to the focused element: a button or link activates on Space, as
 * everywhere, except the image list's rows (Space there plays the series they opened).
 */
function focusedControl(): boolean {
  const el = typeof document === 'undefined' ? null : document.activeElement;
  if (!(el instanceof HTMLElement) || el.closest('[role="listbox"]')) return false;
  return el.matches('button, a[href], summary, [role="button"]');
}

/**
 * Open the series or image `delta` rows away in the (filtered) list, at its first slice, or
 * with `continuous` going back at its last (the arrows run on through the list as if it were
 * one stack); true when there was one to go to.
 */
export function stepImage(ws: Workspace, delta: 1 | -1, continuous = false): boolean {
  const next = neighbourLeaf(ws.visibleRows, ws.openRow?.key ?? null, delta);
  if (!next || next.key === ws.openRow?.key) return false;
  void ws.openStack(next, continuous && delta < 0 ? next.stack.length - 1 : 0);
  return true;
}

export const MAX_BRUSH = 400;

/** Runs `action`; false when it did nothing (so the key keeps its default behaviour). */
export function runAction(action: Action, ws: Workspace, viewer: ViewerCommands, altKey: boolean): boolean {
  const go = (d: 1 | -1, f: () => void) => {
    viewer.setDirection(d);
    f();
    return true;
  };
  switch (action) {
    case 'tool.brush': ws.tool = 'brush'; return true;
    case 'tool.eraser': ws.tool = 'eraser'; return true;
    case 'tool.polygon': ws.tool = 'polygon'; return true;
    case 'tool.sam': ws.tool = 'sam'; return true;
    case 'tool.wl': ws.tool = 'wl'; return true;
    case 'tool.zoom': ws.tool = 'zoom'; return true;
    case 'tool.pan': ws.tool = 'pan'; return true;
    case 'brush.smaller': ws.brushSize = Math.max(1, Math.round(ws.brushSize / 1.25)); return true;
    case 'brush.larger': ws.brushSize = Math.min(MAX_BRUSH, Math.max(ws.brushSize + 1, Math.round(ws.brushSize * 1.25))); return true;
    case 'undo': ws.undo(); return true;
    case 'redo': ws.redo(); return true;
    // On a single image there are no slices to step through: the arrows go through the list.
    case 'slice.next': return ws.stack.length <= 1 ? stepImage(ws, 1, true) : go(1, () => ws.step(1));
    case 'slice.prev': return ws.stack.length <= 1 ? stepImage(ws, -1, true) : go(-1, () => ws.step(-1));
    case 'image.next': stepImage(ws, 1); return true;
    case 'image.prev': stepImage(ws, -1); return true;
    case 'cine.toggle':
      if (focusedControl()) return false;
      viewer.toggleCine();
      return true;
    case 'slice.next10': return go(1, () => ws.step(10));
    case 'slice.prev10': return go(-1, () => ws.step(-10));
    case 'slice.first': return go(1, () => void ws.goToSlice(0));
    case 'slice.last': return go(-1, () => void ws.goToSlice(ws.stack.length - 1));
    case 'view.fit': viewer.fit(); return true;
    case 'view.outline': ws.outlineView = !ws.outlineView; return true;
    case 'view.rotate': viewer.rotate(1); return true;
    case 'view.flipH': viewer.flip('horizontal'); return true;
    case 'view.flipV': viewer.flip('vertical'); return true;
    case 'view.invert': viewer.invert(); return true;
    case 'window.auto': viewer.autoWindow(); return true;
    case 'window.preset1': viewer.preset(0); return true;
    case 'window.preset2': viewer.preset(1); return true;
    case 'window.preset3': viewer.preset(2); return true;
    case 'window.preset4': viewer.preset(3); return true;
    case 'instance.new': ws.newInstance(); return true;
    case 'image.done':
      if (ws.openRow) void ws.setStatus(ws.openRow.imageIds, 'done');
      return true;
    case 'polygon.close': return viewer.closePolygon(altKey);
    case 'polygon.cancel':
      if (ws.helpOpen) {
        ws.helpOpen = false;
        return true;
      }
      return viewer.cancelPolygon();
    case 'training.retrain': ws.retrainOpen = true; return true;
    case 'help': ws.helpOpen = !ws.helpOpen; return true;
  }
}
