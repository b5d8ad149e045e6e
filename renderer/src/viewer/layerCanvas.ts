/**
 * Clearing a canvas marks it changed even when it was already empty, and the compositor then
 * composites a full-viewport layer again: in software (machines without a GPU, and these
 * 2-core test machines) that is CPU taken from slice fetching while the user scrolls. Each
 * overlay layer clears only when it drew something last time. Runtime: browser (canvas).
 */
const drawn = new WeakSet<HTMLCanvasElement>();

/** The layer's 2D context, cleared (transform reset) if anything was drawn on it since the last clear. */
export function clearLayer(canvas: HTMLCanvasElement): CanvasRenderingContext2D {
  const ctx = canvas.getContext('2d')!;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  if (drawn.has(canvas)) {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    drawn.delete(canvas);
  }
  return ctx;
}

/** Say that something is being drawn on the layer (the next clearLayer clears it). */
export function markDrawn(canvas: HTMLCanvasElement): void {
  drawn.add(canvas);
}
