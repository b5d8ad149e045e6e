/**
 * Keyboard shortcuts: one table drives both the key handling and the help overlay, so the
 * overlay can never list a key that does nothing.
 *
 * Runtime: pure.
 */

export type Action =
  | 'tool.brush' | 'tool.eraser' | 'tool.polygon' | 'tool.sam' | 'tool.wl' | 'tool.zoom' | 'tool.pan'
  | 'brush.smaller' | 'brush.larger'
  | 'undo' | 'redo'
  | 'slice.next' | 'slice.prev' | 'slice.next10' | 'slice.prev10' | 'slice.first' | 'slice.last'
  | 'image.next' | 'image.prev' | 'cine.toggle'
  | 'view.fit' | 'view.outline' | 'view.rotate' | 'view.flipH' | 'view.flipV' | 'view.invert' | 'window.auto' | 'window.preset1' | 'window.preset2' | 'window.preset3' | 'window.preset4'
  | 'instance.new' | 'image.done' | 'polygon.close' | 'polygon.cancel' | 'training.retrain' | 'help';

export interface Shortcut {
  action: Action;
  /** As shown to the user. */
  label: string;
  description: string;
  group: 'Tools' | 'Editing' | 'Navigation' | 'View';
  match: (e: KeyLike) => boolean;
}

export interface KeyLike {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  shiftKey: boolean;
  altKey: boolean;
}

const plain = (k: string) => (e: KeyLike) => !e.ctrlKey && !e.metaKey && !e.altKey && e.key.toLowerCase() === k.toLowerCase();
const mod = (e: KeyLike) => e.ctrlKey || e.metaKey;
/** A letter without any modifier, Shift included (Shift+R is retraining, not rotating). */
const bare = (k: string) => (e: KeyLike) => !e.ctrlKey && !e.metaKey && !e.altKey && !e.shiftKey && e.key.toLowerCase() === k;

export const SHORTCUTS: readonly Shortcut[] = [
  { action: 'tool.brush', label: 'B', description: 'Brush', group: 'Tools', match: plain('b') },
  { action: 'tool.eraser', label: 'E', description: 'Eraser', group: 'Tools', match: plain('e') },
  { action: 'tool.polygon', label: 'P', description: 'Polygon (click points) / lasso (drag)', group: 'Tools', match: plain('p') },
  { action: 'tool.sam', label: 'S', description: 'SAM: click + / right-click − / drag box; Tab next mask, Enter accept, Esc discard', group: 'Tools', match: plain('s') },
  { action: 'tool.wl', label: 'W', description: 'Window/level tool (right-drag always works)', group: 'Tools', match: plain('w') },
  { action: 'tool.zoom', label: 'Z', description: 'Zoom tool (Ctrl+wheel always works)', group: 'Tools', match: plain('z') },
  { action: 'tool.pan', label: 'H', description: 'Pan tool (middle-drag always works)', group: 'Tools', match: plain('h') },
  { action: 'training.retrain', label: 'Shift+R', description: 'Retrain on my data (shows the plan first)', group: 'Tools', match: (e) => !mod(e) && !e.altKey && e.shiftKey && e.key.toLowerCase() === 'r' },
  { action: 'brush.smaller', label: '[', description: 'Smaller brush', group: 'Editing', match: (e) => !mod(e) && e.key === '[' },
  { action: 'brush.larger', label: ']', description: 'Larger brush', group: 'Editing', match: (e) => !mod(e) && e.key === ']' },
  { action: 'undo', label: 'Ctrl+Z', description: 'Undo', group: 'Editing', match: (e) => mod(e) && !e.shiftKey && e.key.toLowerCase() === 'z' },
  { action: 'redo', label: 'Ctrl+Shift+Z', description: 'Redo (also Ctrl+Y)', group: 'Editing', match: (e) => mod(e) && ((e.shiftKey && e.key.toLowerCase() === 'z') || e.key.toLowerCase() === 'y') },
  { action: 'polygon.close', label: 'Enter', description: 'Fill the polygon (Alt: erase)', group: 'Editing', match: (e) => e.key === 'Enter' },
  { action: 'polygon.cancel', label: 'Esc', description: 'Cancel polygon, close panels', group: 'Editing', match: (e) => e.key === 'Escape' },
  { action: 'instance.new', label: 'N', description: 'New segment', group: 'Editing', match: plain('n') },
  { action: 'image.done', label: 'D', description: 'Mark done', group: 'Editing', match: plain('d') },
  { action: 'image.next', label: 'Shift+↓', description: 'Next series or image in the list (↓ too on a single image)', group: 'Navigation', match: (e) => !mod(e) && !e.altKey && e.shiftKey && (e.key === 'ArrowDown' || e.key === 'ArrowRight') },
  { action: 'image.prev', label: 'Shift+↑', description: 'Previous series or image in the list (↑ too on a single image)', group: 'Navigation', match: (e) => !mod(e) && !e.altKey && e.shiftKey && (e.key === 'ArrowUp' || e.key === 'ArrowLeft') },
  { action: 'slice.next', label: '↓ / wheel', description: 'Next slice or frame', group: 'Navigation', match: (e) => !mod(e) && (e.key === 'ArrowDown' || e.key === 'ArrowRight') },
  { action: 'slice.prev', label: '↑ / wheel', description: 'Previous slice or frame', group: 'Navigation', match: (e) => !mod(e) && (e.key === 'ArrowUp' || e.key === 'ArrowLeft') },
  { action: 'slice.next10', label: 'PgDn', description: '10 slices forward', group: 'Navigation', match: (e) => e.key === 'PageDown' },
  { action: 'slice.prev10', label: 'PgUp', description: '10 slices back', group: 'Navigation', match: (e) => e.key === 'PageUp' },
  { action: 'slice.first', label: 'Home', description: 'First slice', group: 'Navigation', match: (e) => e.key === 'Home' },
  { action: 'slice.last', label: 'End', description: 'Last slice', group: 'Navigation', match: (e) => e.key === 'End' },
  { action: 'cine.toggle', label: 'Space', description: 'Play / pause the series as a cine loop', group: 'Navigation', match: (e) => !mod(e) && !e.altKey && e.key === ' ' },
  { action: 'view.fit', label: 'F', description: 'Fit image to the viewport', group: 'View', match: plain('f') },
  { action: 'view.outline', label: 'O', description: 'Outline / filled masks', group: 'View', match: plain('o') },
  { action: 'view.rotate', label: 'R', description: 'Rotate the view 90° clockwise', group: 'View', match: bare('r') },
  { action: 'view.flipH', label: 'X', description: 'Flip the view left–right', group: 'View', match: bare('x') },
  { action: 'view.flipV', label: 'Y', description: 'Flip the view top–bottom', group: 'View', match: bare('y') },
  { action: 'view.invert', label: 'I', description: 'Invert the grey scale', group: 'View', match: bare('i') },
  { action: 'window.auto', label: 'A', description: 'Window from the file (auto)', group: 'View', match: plain('a') },
  { action: 'window.preset1', label: '1', description: 'CT soft tissue (W 400 L 40)', group: 'View', match: plain('1') },
  { action: 'window.preset2', label: '2', description: 'CT lung (W 1500 L -600)', group: 'View', match: plain('2') },
  { action: 'window.preset3', label: '3', description: 'CT bone (W 1800 L 400)', group: 'View', match: plain('3') },
  { action: 'window.preset4', label: '4', description: 'CT brain (W 80 L 40)', group: 'View', match: plain('4') },
  { action: 'help', label: '?', description: 'This help', group: 'View', match: (e) => e.key === '?' },
];

export function actionFor(e: KeyLike): Action | null {
  return SHORTCUTS.find((s) => s.match(e))?.action ?? null;
}
