/**
 * Clearing a canvas marks it changed even when it was already empty, and the compositor then
 * composites a full-viewport layer again: in software (machines without a GPU, and these
 * 2-core test machines) that is CPU taken from slice fetching while the user scrolls. Each
 * overlay layer clears only when it drew something last time, and an empty layer is hidden:
 * a transparent full-viewport canvas still costs the software compositor a blend per frame
 * (measured with a Chromium trace of the render bench: about 30 quads a frame with five
 * canvases). `visibility`, not `display`, so the layer keeps its size for the next drawing.
 * Runtime: browser (canvas).
 */
const drawn = new WeakSet<HTMLCanvasElement>();
const pending = new Set<HTMLCanvasElement>();

/**
 * Visibility is settled once, after the drawing code of this task ran: a layer cleared and
 * drawn again in one redraw (the brush cursor follows every slice) would otherwise be hidden
 * and shown again, two style changes for nothing.
 */
function settleVisibility(canvas: HTMLCanvasElement): void {
  if (pending.size === 0) {
    queueMicrotask(() => {
      for (const c of pending) {
        const value = drawn.has(c) ? '' : 'hidden';
        if (c.style.visibility !== value) c.style.visibility = value;
      }
      pending.clear();
    });
  }
  pending.add(canvas);
}

/** The layer's 2D context, cleared (transform reset) if anything was drawn on it since the last clear. */
export function clearLayer(canvas: HTMLCanvasElement): CanvasRenderingContext2D {
  const ctx = canvas.getContext('2d')!;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  if (drawn.has(canvas)) {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    drawn.delete(canvas);
  }
  settleVisibility(canvas);
  return ctx;
}

/** Say that something is being drawn on the layer (the next clearLayer clears it). */
export function markDrawn(canvas: HTMLCanvasElement): void {
  drawn.add(canvas);
  settleVisibility(canvas);
}
