/**
 * Fill between slices: shape-based interpolation of a segment drawn on some slices of a stack,
 * as 3D Slicer's "Fill between slices" offers. Each drawn slice becomes a signed distance map
 * (negative inside, positive outside, zero on the border); a slice in between gets the map
 * blended linearly by its position, and its mask is where the blend is negative. Two circles
 * give a circle of the interpolated radius; holes and concavities carry through; a shape that
 * moves moves smoothly. Runtime: pure.
 *
 * The distances are exact Euclidean distances between pixel centres (Felzenszwalb &
 * Huttenlocher's separable transform), shifted by half a pixel so that the border lies between
 * an inside and an outside pixel on both sides: interpolating a mask with itself gives it back.
 */

/** Stands for "no site": large enough never to win, small enough that the parabola arithmetic stays finite. */
const FAR = 1e20;

/**
 * Felzenszwalb & Huttenlocher's 1D squared distance transform of `f` (0 at sites, FAR
 * elsewhere) into `d`, with `w` the squared length of one step along this axis (1 for square
 * pixels); `v` and `z` are scratch.
 */
function edt1d(f: Float64Array, n: number, d: Float64Array, v: Int32Array, z: Float64Array, w = 1): void {
  let k = 0;
  v[0] = 0;
  z[0] = -Infinity;
  z[1] = Infinity;
  for (let q = 1; q < n; q++) {
    let s = (f[q]! + w * q * q - (f[v[k]!]! + w * v[k]! * v[k]!)) / (2 * w * (q - v[k]!));
    while (s <= z[k]!) {
      k--;
      s = (f[q]! + w * q * q - (f[v[k]!]! + w * v[k]! * v[k]!)) / (2 * w * (q - v[k]!));
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Infinity;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1]! < q) k++;
    d[q] = w * (q - v[k]!) * (q - v[k]!) + f[v[k]!]!;
  }
}

/**
 * How long a pixel is along x and along y, in units of the shorter side: { x: 1, y: 1 } for
 * square pixels; from DICOM Pixel Spacing [row spacing (y), column spacing (x)].
 */
export interface PixelAspect {
  x: number;
  y: number;
}
const SQUARE: PixelAspect = { x: 1, y: 1 };

/** The aspect of pixels `spacing` (DICOM order: between rows, between columns) apart; square when unknown. */
export function pixelAspect(spacing: readonly [number, number] | null | undefined): PixelAspect {
  if (!spacing || !(spacing[0] > 0) || !(spacing[1] > 0)) return SQUARE;
  const unit = Math.min(spacing[0], spacing[1]);
  return { x: spacing[1] / unit, y: spacing[0] / unit };
}

/**
 * Squared Euclidean distance from every pixel to the nearest pixel whose value is `site` (0
 * there; Infinity when there is none), in units of the shorter pixel side (`aspect`).
 */
export function squaredDistanceTo(mask: ArrayLike<number>, width: number, height: number, site: 0 | 1, aspect: PixelAspect = SQUARE): Float64Array {
  const out = new Float64Array(width * height);
  for (let i = 0; i < out.length; i++) out[i] = (mask[i] ? 1 : 0) === site ? 0 : FAR;
  const n = Math.max(width, height);
  const f = new Float64Array(n);
  const d = new Float64Array(n);
  const v = new Int32Array(n);
  const z = new Float64Array(n + 1);
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) f[y] = out[y * width + x]!;
    edt1d(f, height, d, v, z, aspect.y * aspect.y);
    for (let y = 0; y < height; y++) out[y * width + x] = d[y]!;
  }
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) f[x] = out[row + x]!;
    edt1d(f, width, d, v, z, aspect.x * aspect.x);
    for (let x = 0; x < width; x++) out[row + x] = d[x]! >= FAR / 2 ? Infinity : d[x]!;
  }
  return out;
}

/**
 * Signed distance to the mask's border in pixels (of the shorter side, `aspect`): negative
 * inside, positive outside. A mask that is empty (or full) has no border; its distances are
 * the image diagonal, so it blends as "far outside" (or "far inside").
 */
export function signedDistance(mask: ArrayLike<number>, width: number, height: number, aspect: PixelAspect = SQUARE): Float32Array {
  const toInside = squaredDistanceTo(mask, width, height, 1, aspect);
  const toOutside = squaredDistanceTo(mask, width, height, 0, aspect);
  const far = Math.hypot(width * aspect.x, height * aspect.y);
  const out = new Float32Array(width * height);
  for (let i = 0; i < out.length; i++) {
    out[i] = mask[i] ? -(Math.min(Math.sqrt(toOutside[i]!), far) - 0.5) : Math.min(Math.sqrt(toInside[i]!), far) - 0.5;
  }
  return out;
}

/** The mask `t` of the way from the shape of `a` to the shape of `b` (signed distance maps of one size). */
export function blendShapes(a: Float32Array, b: Float32Array, t: number): Uint8Array {
  if (a.length !== b.length) throw new Error(`cannot blend shapes of ${a.length} and ${b.length} pixels`);
  const out = new Uint8Array(a.length);
  const s = 1 - t;
  for (let i = 0; i < out.length; i++) out[i] = s * a[i]! + t * b[i]! < 0 ? 1 : 0;
  return out;
}

/** A slice with a drawn mask: its index in the stack and its position along the stack's normal (mm, or the index where unknown). */
export interface KeySlice {
  index: number;
  position: number;
  mask: Uint8Array;
}

/**
 * Masks for every slice strictly between two consecutive key slices (by index). `positionOf`
 * gives a slice's position (NaN when unknown); where positions do not increase or decrease
 * strictly between the two keys (missing, unknown or repeated), the indices are used instead.
 */
export function fillBetween(keys: readonly KeySlice[], positionOf: (index: number) => number, width: number, height: number, aspect: PixelAspect = SQUARE): { index: number; mask: Uint8Array }[] {
  const sorted = [...keys].sort((a, b) => a.index - b.index);
  const out: { index: number; mask: Uint8Array }[] = [];
  let prevSd: Float32Array | null = null;
  for (let k = 0; k + 1 < sorted.length; k++) {
    const a = sorted[k]!;
    const b = sorted[k + 1]!;
    if (a.mask.length !== width * height || b.mask.length !== width * height) throw new Error(`a key slice's mask is not ${width}x${height}`);
    const sdA: Float32Array = prevSd ?? signedDistance(a.mask, width, height, aspect);
    const sdB = signedDistance(b.mask, width, height, aspect);
    prevSd = sdB;
    if (b.index - a.index < 2) continue;
    const positions = Array.from({ length: b.index - a.index + 1 }, (_, i) => positionOf(a.index + i));
    const sign = Math.sign(positions[positions.length - 1]! - positions[0]!);
    const monotonic = sign !== 0 && positions.every((p, i) => Number.isFinite(p) && (i === 0 || Math.sign(p - positions[i - 1]!) === sign));
    for (let i = a.index + 1; i < b.index; i++) {
      const t = monotonic ? (positions[i - a.index]! - positions[0]!) / (positions[positions.length - 1]! - positions[0]!) : (i - a.index) / (b.index - a.index);
      out.push({ index: i, mask: blendShapes(sdA, sdB, t) });
    }
  }
  return out;
}
