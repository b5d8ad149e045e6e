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

function show(canvas: HTMLCanvasElement, visible: boolean): void {
  const value = visible ? '' : 'hidden';
  if (canvas.style.visibility !== value) canvas.style.visibility = value;
}

/** The layer's 2D context, cleared (transform reset) if anything was drawn on it since the last clear. */
export function clearLayer(canvas: HTMLCanvasElement): CanvasRenderingContext2D {
  const ctx = canvas.getContext('2d')!;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  if (drawn.has(canvas)) {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    drawn.delete(canvas);
  }
  show(canvas, false);
  return ctx;
}

/** Say that something is being drawn on the layer (the next clearLayer clears it). */
export function markDrawn(canvas: HTMLCanvasElement): void {
  drawn.add(canvas);
  show(canvas, true);
}
