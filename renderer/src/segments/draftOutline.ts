/**
 * How a draft mask is told apart from an accepted one in the viewer: its border drawn as a
 * dashed line, alternating white and dark every few pixels along the border, over the
 * ordinary (filled) mask. Pixel-based, so it needs no contour tracing and follows holes.
 * Runtime: pure.
 */

/** Length of one dash, in image pixels (diagonal steps count as one). */
export const DASH = 3;

/**
 * The border of `mask` as dash pixels: 1 for the light part of the dash, 2 for the dark one,
 * 0 elsewhere. A border pixel is set and has a 4-neighbour outside the mask (or the image edge).
 */
export function dashedBorder(mask: ArrayLike<number>, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!mask[i]) continue;
      const edge = x === 0 || y === 0 || x === width - 1 || y === height - 1 || !mask[i - 1] || !mask[i + 1] || !mask[i - width] || !mask[i + width];
      if (!edge) continue;
      out[i] = Math.floor((x + y) / DASH) % 2 === 0 ? 1 : 2;
    }
  }
  return out;
}

/** The dash pixels as RGBA (light: white, dark: near black), transparent elsewhere. */
export function dashRgba(dash: Uint8Array): Uint8ClampedArray<ArrayBuffer> {
  const px = new Uint8ClampedArray(dash.length * 4);
  for (let i = 0; i < dash.length; i++) {
    const v = dash[i];
    if (!v) continue;
    const c = v === 1 ? 255 : 20;
    px[i * 4] = c;
    px[i * 4 + 1] = c;
    px[i * 4 + 2] = c;
    px[i * 4 + 3] = 255;
  }
  return px;
}
