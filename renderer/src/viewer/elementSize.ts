/**
 * An element's size as last reported by a ResizeObserver, so the layers redrawn on every
 * slice change do not read `clientWidth` themselves: after the slice indicator and the
 * corner texts change, such a read forces a style and layout pass in the middle of the
 * frame (a Chromium trace of the render bench counted ~12 forced layouts per slice while
 * wheeling). ResizeObserver callbacks run after layout, where reading sizes costs nothing.
 *
 * Runtime: browser (DOM).
 */
export interface Size {
  width: number;
  height: number;
}

const sizes = new WeakMap<Element, Size>();
const listeners = new WeakMap<Element, Set<() => void>>();
let observer: ResizeObserver | null = null;

function measure(el: HTMLElement): Size {
  const s = { width: el.clientWidth, height: el.clientHeight };
  sizes.set(el, s);
  return s;
}

/**
 * Keep `el`'s size current and call `onResize` after each change; returns the unsubscribe.
 * Several layers may watch one element; each gets its own call.
 */
export function watchSize(el: HTMLElement, onResize: () => void): () => void {
  observer ??= new ResizeObserver((entries) => {
    for (const e of entries) {
      const target = e.target as HTMLElement;
      measure(target);
      for (const f of listeners.get(target) ?? []) f();
    }
  });
  let set = listeners.get(el);
  if (!set) {
    set = new Set();
    listeners.set(el, set);
    observer.observe(el);
  }
  set.add(onResize);
  return () => {
    const s = listeners.get(el);
    if (!s) return;
    s.delete(onResize);
    if (s.size === 0) {
      listeners.delete(el);
      observer?.unobserve(el);
    }
  };
}

/** The element's size: the observed one, or measured now (once) when nobody watches it yet. */
export function sizeOf(el: HTMLElement): Size {
  return sizes.get(el) ?? measure(el);
}

/** Give `canvas` the element's size in device-independent pixels; true when it changed (the canvas was cleared). */
export function fitCanvas(canvas: HTMLCanvasElement, el: HTMLElement): boolean {
  const { width, height } = sizeOf(el);
  let changed = false;
  if (canvas.width !== width) {
    canvas.width = width;
    changed = true;
  }
  if (canvas.height !== height) {
    canvas.height = height;
    changed = true;
  }
  return changed;
}
