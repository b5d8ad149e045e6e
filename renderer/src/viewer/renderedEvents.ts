/**
 * Layers drawn over the image (SAM preview, drafts) redraw after each cornerstone render of
 * the viewport, so they follow its pan, zoom and slice.
 *
 * Runtime: browser (DOM).
 */
import * as cornerstone from 'cornerstone-core';

/**
 * Calls `f` after each render of `element`; returns the unsubscribe (an effect's cleanup).
 * Nothing to listen to before the viewport element is bound.
 */
export function onImageRendered(element: HTMLElement | undefined, f: () => void): (() => void) | undefined {
  if (!element) return undefined;
  const on = () => f();
  element.addEventListener(cornerstone.EVENTS.IMAGE_RENDERED, on);
  return () => element.removeEventListener(cornerstone.EVENTS.IMAGE_RENDERED, on);
}
