/**
 * The view's rotation and flips, and the image <-> canvas mapping they give, exactly as
 * cornerstone-core 2.6 computes it (internal/calculateTransform.js): the canvas centre, then
 * rotation, the scale (per axis for non-square pixels), the pan, and the flips about the image
 * centre. View-only: masks, brush, SAM and polygon points stay in image pixels, and the
 * viewport maps the pointer through cornerstone (pageToPixel), which this module mirrors so
 * that markers, the scale bar, zoom about the cursor and the tests can reason about it.
 *
 * Runtime: pure.
 */
import { directionLetters, type Orientation, type Vec3 } from '../../../electron/contract/geometry';

export type Rotation = 0 | 90 | 180 | 270;

/** How the image is turned on screen: cornerstone's viewport.rotation (clockwise degrees), hflip and vflip. */
export interface ViewOrientation {
  rotation: Rotation;
  hflip: boolean;
  vflip: boolean;
}

export const UPRIGHT: ViewOrientation = { rotation: 0, hflip: false, vflip: false };

/** A 2x2 matrix [a, b, c, d]: x' = a x + b y, y' = c x + d y (y points down, as on screen). */
export type Mat2 = [number, number, number, number];

const mul = (m: Mat2, n: Mat2): Mat2 => [m[0] * n[0] + m[1] * n[2], m[0] * n[1] + m[1] * n[3], m[2] * n[0] + m[3] * n[2], m[2] * n[1] + m[3] * n[3]];
const apply = (m: Mat2, x: number, y: number): [number, number] => [m[0] * x + m[1] * y, m[2] * x + m[3] * y];

/** Canvas rotation by `deg` (clockwise on screen, since y points down), as CanvasRenderingContext2D.rotate. */
function rot(deg: number): Mat2 {
  const r = (deg * Math.PI) / 180;
  const c = Math.round(Math.cos(r) * 1e12) / 1e12;
  const s = Math.round(Math.sin(r) * 1e12) / 1e12;
  return [c, -s, s, c];
}

/** Image direction -> screen direction: the flips act on the image first, then the rotation (cornerstone's order). */
export function orientationMatrix(v: ViewOrientation): Mat2 {
  return mul(rot(v.rotation), [v.hflip ? -1 : 1, 0, 0, v.vflip ? -1 : 1]);
}

const ROTATIONS: readonly Rotation[] = [0, 90, 180, 270];

/** The orientation with this matrix (one of the eight a square has), written without vflip (a vertical flip is a horizontal one turned 180°). */
export function orientationOf(m: Mat2): ViewOrientation {
  for (const rotation of ROTATIONS) {
    for (const hflip of [false, true]) {
      const v: ViewOrientation = { rotation, hflip, vflip: false };
      if (orientationMatrix(v).every((x, i) => Math.abs(x - m[i]!) < 1e-9)) return v;
    }
  }
  throw new Error(`not a rotation or flip of the image: ${m.join(', ')}`);
}

/** Turn the view a quarter clockwise (`turns` = 1) or counter-clockwise (-1) as the user sees it. */
export function rotateView(v: ViewOrientation, turns: number): ViewOrientation {
  return orientationOf(mul(rot((((turns % 4) + 4) % 4) * 90), orientationMatrix(v)));
}

/**
 * Mirror the view as the user sees it: 'horizontal' swaps left and right on screen,
 * 'vertical' top and bottom, whatever the rotation (cornerstone's own hflip acts on the image
 * before its rotation, so after a quarter turn it would mirror top and bottom).
 */
export function flipView(v: ViewOrientation, axis: 'horizontal' | 'vertical'): ViewOrientation {
  return orientationOf(mul(axis === 'horizontal' ? [-1, 0, 0, 1] : [1, 0, 0, -1], orientationMatrix(v)));
}

/**
 * Orientation markers at the four screen edges of an image shown with view `v`: the patient
 * direction each edge faces, from Image Orientation (Patient) (row, then column cosines).
 * UPRIGHT gives geometry.ts' orientationMarkers.
 */
export function viewedMarkers(o: Orientation, v: ViewOrientation): { left: string; right: string; top: string; bottom: string } {
  const m = orientationMatrix(v);
  // The matrix is orthogonal: its transpose takes a screen direction back to the image.
  const toImage = (sx: number, sy: number) => apply([m[0], m[2], m[1], m[3]], sx, sy);
  const patient = (sx: number, sy: number): Vec3 => {
    const [ix, iy] = toImage(sx, sy);
    return [o[0] * ix + o[3] * iy, o[1] * ix + o[4] * iy, o[2] * ix + o[5] * iy];
  };
  return { right: directionLetters(patient(1, 0)), left: directionLetters(patient(-1, 0)), bottom: directionLetters(patient(0, 1)), top: directionLetters(patient(0, -1)) };
}

// ------------------------------------------------------------------ the full mapping

export interface Point {
  x: number;
  y: number;
}

/** Everything cornerstone's transform depends on. Image coordinates are continuous: pixel (i, j) spans [i, i+1) x [j, j+1). */
export interface ViewGeometry {
  canvasWidth: number;
  canvasHeight: number;
  imageWidth: number;
  imageHeight: number;
  /** Pixel Spacing [between rows, between columns] in mm; null: square pixels. */
  spacing: [number, number] | null;
  scale: number;
  /** cornerstone's viewport.translation (image pixels at scale 1, on screen axes). */
  translation: Point;
  orientation: ViewOrientation;
}

/** cornerstone's per-axis scale: the axis with the larger spacing is stretched so pixels show their true shape. */
export function axisScales(scale: number, spacing: [number, number] | null): [number, number] {
  const row = spacing?.[0] || 1;
  const col = spacing?.[1] || 1;
  if (row < col) return [scale * (col / row), scale];
  if (col < row) return [scale, scale * (row / col)];
  return [scale, scale];
}

/** Canvas position of image point `p`. */
export function imageToCanvas(g: ViewGeometry, p: Point): Point {
  const r = rot(g.orientation.rotation);
  const rInv = rot(-g.orientation.rotation);
  const [ws, hs] = axisScales(g.scale, g.spacing);
  let [x, y] = [p.x - g.imageWidth / 2, p.y - g.imageHeight / 2];
  if (g.orientation.hflip) x = -x;
  if (g.orientation.vflip) y = -y;
  [x, y] = apply(r, x, y);
  [x, y] = [x + g.translation.x, y + g.translation.y];
  [x, y] = apply(rInv, x, y);
  [x, y] = [x * ws, y * hs];
  [x, y] = apply(r, x, y);
  return { x: x + g.canvasWidth / 2, y: y + g.canvasHeight / 2 };
}

/** Image point under canvas position `c` (the inverse of imageToCanvas). */
export function canvasToImage(g: ViewGeometry, c: Point): Point {
  const r = rot(g.orientation.rotation);
  const rInv = rot(-g.orientation.rotation);
  const [ws, hs] = axisScales(g.scale, g.spacing);
  let [x, y] = [c.x - g.canvasWidth / 2, c.y - g.canvasHeight / 2];
  [x, y] = apply(rInv, x, y);
  [x, y] = [x / ws, y / hs];
  [x, y] = apply(r, x, y);
  [x, y] = [x - g.translation.x, y - g.translation.y];
  [x, y] = apply(rInv, x, y);
  if (g.orientation.hflip) x = -x;
  if (g.orientation.vflip) y = -y;
  return { x: x + g.imageWidth / 2, y: y + g.imageHeight / 2 };
}

/**
 * The change of viewport.translation that moves the image by (dx, dy) canvas pixels: the pan
 * is applied on screen axes but scaled per image axis, so with a rotation and non-square
 * pixels it is not simply (dx, dy) / scale.
 */
export function translationForShift(rotation: Rotation, scale: number, spacing: [number, number] | null, dx: number, dy: number): Point {
  const [ws, hs] = axisScales(scale, spacing);
  let [x, y] = apply(rot(-rotation), dx, dy);
  [x, y] = [x / ws, y / hs];
  [x, y] = apply(rot(rotation), x, y);
  return { x, y };
}

/** cornerstone's fitToWindow scale (getImageFitScale) for the image turned by `rotation`. */
export function fitScale(g: Pick<ViewGeometry, 'canvasWidth' | 'canvasHeight' | 'imageWidth' | 'imageHeight' | 'spacing'>, rotation: Rotation): number {
  const turned = rotation === 90 || rotation === 270;
  const w = turned ? g.imageHeight : g.imageWidth;
  const h = turned ? g.imageWidth : g.imageHeight;
  const row = g.spacing?.[0] || 1;
  const col = g.spacing?.[1] || 1;
  const horizontalRatio = row < col ? col / row : 1;
  const verticalRatio = row < col ? 1 : row / col;
  return Math.min(g.canvasWidth / w / horizontalRatio, g.canvasHeight / h / verticalRatio);
}
