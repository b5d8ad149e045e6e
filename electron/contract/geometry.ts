/**
 * Patient geometry of images and masks, from DICOM's Image Orientation/Position (Patient) and
 * Pixel Spacing, never from Slice Thickness alone: orientation markers, the slice normal and a
 * slice's position along it, slice order (the importer's series_index, hence every stack the
 * browser, propagation, interpolation and measurements walk) and the distance between slices
 * (gaps and uneven spacing included), and the measurements a radiologist reports (area,
 * volume, RECIST long and short axis). The one place this arithmetic lives. Runtime: pure.
 *
 * Without pixel spacing every length and area is in pixels and says so; nothing is ever
 * labelled mm that was not measured in mm.
 */

export type Vec3 = [number, number, number];
/** Image Orientation (Patient): the row direction then the column direction, unit vectors in LPS. */
export type Orientation = [number, number, number, number, number, number];
/** Pixel Spacing: [between rows (down), between columns (across)] in mm. */
export type Spacing = [number, number];

const dot = (a: Vec3, b: Vec3) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a: Vec3, b: Vec3): Vec3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];

/**
 * The unit slice normal (row × column): the direction slice positions are measured along.
 * Normalised, because files write the cosines rounded (0.99999, 0.00436, 0): a normal a
 * little off unit length would scale every distance along it. Null when the orientation is
 * not six finite numbers or its row and column are parallel (no plane).
 */
export function sliceNormal(o: readonly number[]): Vec3 | null {
  if (o.length !== 6 || o.some((v) => !Number.isFinite(v))) return null;
  const n = cross([o[0]!, o[1]!, o[2]!], [o[3]!, o[4]!, o[5]!]);
  const len = Math.hypot(...n);
  return len > 1e-6 ? [n[0] / len, n[1] / len, n[2] / len] : null;
}

/**
 * Where a slice lies along its normal (mm): Image Position (Patient) projected on the unit
 * normal, the "slice location" that orders a series. Null when the position or orientation is
 * missing or malformed.
 */
export function slicePosition(position: readonly number[] | null, orientation: readonly number[] | null): number | null {
  if (!position || !orientation || position.length !== 3 || position.some((v) => !Number.isFinite(v))) return null;
  const n = sliceNormal(orientation);
  return n ? dot(position as Vec3, n) : null;
}

/** What orders one slice of a series: its position along the normal (null without geometry), Instance Number, file name. */
export interface SliceKey {
  id: number;
  slicePosition: number | null;
  instanceNumber: number | null;
  fileName: string;
}

/**
 * Ids in display order (index in the returned array = series_index): by position along the
 * normal, the true spatial order even when instance numbers or file names lie; when any slice
 * lacks geometry, the whole series by Instance Number (none last), then file name (numeric
 * aware), then id.
 */
export function orderSlices(slices: readonly SliceKey[]): number[] {
  const byPosition = slices.every((s) => s.slicePosition !== null);
  const byName = (a: SliceKey, b: SliceKey) => a.fileName.localeCompare(b.fileName, undefined, { numeric: true }) || a.id - b.id;
  const byInstance = (a: SliceKey, b: SliceKey) =>
    (a.instanceNumber ?? Number.MAX_SAFE_INTEGER) - (b.instanceNumber ?? Number.MAX_SAFE_INTEGER) || byName(a, b);
  const sorted = [...slices].sort(byPosition ? (a, b) => a.slicePosition! - b.slicePosition! || byInstance(a, b) : byInstance);
  return sorted.map((s) => s.id);
}

/**
 * The patient direction a vector points to, as the letters viewers show at the image edges
 * (L/R, P/A, H/F in DICOM's LPS axes), strongest first; components under `minor` of the
 * strongest are left out (so an axial image says "L", a 30° oblique "LA").
 */
export function directionLetters(v: Vec3, minor = 0.25): string {
  const letters: [number, string][] = [
    [v[0], v[0] > 0 ? 'L' : 'R'],
    [v[1], v[1] > 0 ? 'P' : 'A'],
    [v[2], v[2] > 0 ? 'H' : 'F'],
  ];
  const top = Math.max(...letters.map(([c]) => Math.abs(c)));
  if (top === 0) return '';
  return letters
    .filter(([c]) => Math.abs(c) >= minor * top && Math.abs(c) > 1e-6)
    .sort((a, b) => Math.abs(b[0]) - Math.abs(a[0]))
    .map(([, l]) => l)
    .join('');
}

/** Orientation markers for the four edges of an image shown as stored (not rotated or flipped). */
export function orientationMarkers(o: Orientation): { left: string; right: string; top: string; bottom: string } {
  const row: Vec3 = [o[0], o[1], o[2]];
  const col: Vec3 = [o[3], o[4], o[5]];
  const neg = (v: Vec3): Vec3 => [-v[0], -v[1], -v[2]];
  return { right: directionLetters(row), left: directionLetters(neg(row)), bottom: directionLetters(col), top: directionLetters(neg(col)) };
}

export interface SliceIn {
  position: Vec3;
  orientation: Orientation;
}

export interface StackGeometry {
  /** Indices of the input slices, ordered along the normal. */
  order: number[];
  /** Position of each ordered slice along the normal (mm), ascending. */
  positions: number[];
  /** Distance between each ordered slice and the next (mm). */
  steps: number[];
  /** The most common step (mm); what "slice spacing" means for this stack. */
  spacing: number;
  /** Steps more than 1.5 times `spacing`: missing slices, named by the ordered index before the gap. */
  gaps: number[];
  /** Steps differ by more than 1 % of `spacing` (a variable-spacing acquisition). */
  uneven: boolean;
}

/**
 * Order a stack of parallel slices along its normal (the first slice's, see sliceNormal); null
 * when they are not one stack (orientations differ) or the orientation has no normal.
 */
export function stackGeometry(slices: readonly SliceIn[]): StackGeometry | null {
  if (slices.length === 0) return null;
  const o0 = slices[0]!.orientation;
  const parallel = slices.every((s) => s.orientation.every((v, i) => Math.abs(v - o0[i]!) < 1e-3));
  if (!parallel) return null;
  const n = sliceNormal(o0);
  if (!n) return null;
  const along = slices.map((s) => dot(s.position, n));
  const order = along.map((_, i) => i).sort((a, b) => along[a]! - along[b]!);
  const positions = order.map((i) => along[i]!);
  const steps = positions.slice(1).map((p, k) => p - positions[k]!);
  const rounded = steps.map((s) => Math.round(s * 1000) / 1000);
  const counts = new Map<number, number>();
  for (const s of rounded) counts.set(s, (counts.get(s) ?? 0) + 1);
  const spacing = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]?.[0] ?? 0;
  return {
    order,
    positions,
    steps,
    spacing,
    gaps: steps.flatMap((s, k) => (spacing > 0 && s > 1.5 * spacing ? [k] : [])),
    uneven: steps.some((s) => Math.abs(s - spacing) > 0.01 * spacing),
  };
}

export type Unit = 'mm' | 'px';

/** A length, area or volume with the unit it was measured in. */
export interface Measure {
  value: number;
  unit: Unit;
}

/** Area of `pixels` pixels: mm² with spacing, else pixels. */
export function area(pixels: number, spacing: Spacing | null): Measure {
  return spacing ? { value: pixels * spacing[0] * spacing[1], unit: 'mm' } : { value: pixels, unit: 'px' };
}

/**
 * Volume of a segment from its area on each slice (mm²) and the slices' positions along the
 * normal (mm), by the midpoint rule: each slice stands for the slab halfway to its neighbours,
 * so uneven spacing is weighed as it is (a slice alone: the stack's spacing). In mL.
 */
export function volumeMl(areasMm2: readonly number[], positions: readonly number[], spacing: number): number {
  let mm3 = 0;
  for (let i = 0; i < areasMm2.length; i++) {
    const a = areasMm2[i]!;
    if (a === 0) continue;
    const prev = i > 0 ? positions[i]! - positions[i - 1]! : null;
    const next = i < positions.length - 1 ? positions[i + 1]! - positions[i]! : null;
    const slab = prev !== null && next !== null ? (prev + next) / 2 : (prev ?? next ?? spacing);
    mm3 += a * slab;
  }
  return mm3 / 1000;
}

/** A rectangle of pixels in image coordinates (pixel edges: x1, y1 exclusive). */
export interface PixelBox {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** The bounds of a mask's set pixels (x1, y1 exclusive) and how many there are, in one pass; null when it is empty. */
export function maskExtent(mask: ArrayLike<number>, width: number, height: number): (PixelBox & { pixels: number }) | null {
  let pixels = 0;
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (!mask[row + x]) continue;
      pixels++;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  return pixels === 0 ? null : { pixels, x0, y0, x1: x1 + 1, y1: y1 + 1 };
}

/** The bounds of a mask's set pixels (x1, y1 exclusive); null when it is empty. */
export function maskBox(mask: ArrayLike<number>, width: number, height: number): PixelBox | null {
  const e = maskExtent(mask, width, height);
  return e && { x0: e.x0, y0: e.y0, x1: e.x1, y1: e.y1 };
}

export interface Axes {
  /** The longest in-plane diameter, edge to edge, with its two ends (pixel coordinates, x right, y down). */
  long: Measure & { from: [number, number]; to: [number, number] };
  /** The longest extent perpendicular to it (RECIST's short axis), with its two ends. */
  short: Measure & { from: [number, number]; to: [number, number] };
}

/**
 * RECIST 1.1 axes of a mask on one slice: the longest diameter of its outline (mm with
 * spacing, so anisotropic pixels are measured right), and the longest extent at right angles
 * to it. The outline is the midpoints of the mask's outer pixel sides: the boundary a
 * radiologist's calipers sit on, within half a pixel (corners would overshoot a round lesion
 * by up to a pixel, centres fall short by one). Exact extents for convex shapes; a concave
 * one's short axis is its width across the long axis. Null for an empty mask.
 */
export function recistAxes(mask: ArrayLike<number>, width: number, height: number, spacing: Spacing | null): Axes | null {
  const sx = spacing ? spacing[1] : 1;
  const sy = spacing ? spacing[0] : 1;
  const unit: Unit = spacing ? 'mm' : 'px';
  // The midpoint of every pixel side between the mask and the outside, in physical units.
  const inside = (x: number, y: number) => x >= 0 && y >= 0 && x < width && y < height && !!mask[y * width + x];
  const pts: [number, number][] = [];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!inside(x, y)) continue;
      if (!inside(x - 1, y)) pts.push([x * sx, (y + 0.5) * sy]);
      if (!inside(x + 1, y)) pts.push([(x + 1) * sx, (y + 0.5) * sy]);
      if (!inside(x, y - 1)) pts.push([(x + 0.5) * sx, y * sy]);
      if (!inside(x, y + 1)) pts.push([(x + 0.5) * sx, (y + 1) * sy]);
    }
  }
  if (pts.length === 0) return null;
  const hull = convexHull(pts);
  let best = -1;
  let a: [number, number] = hull[0]!;
  let b: [number, number] = hull[0]!;
  for (let i = 0; i < hull.length; i++) {
    for (let j = i + 1; j < hull.length; j++) {
      const d = (hull[i]![0] - hull[j]![0]) ** 2 + (hull[i]![1] - hull[j]![1]) ** 2;
      if (d > best) [best, a, b] = [d, hull[i]!, hull[j]!];
    }
  }
  const len = Math.sqrt(best);
  const u: [number, number] = len > 0 ? [(b[0] - a[0]) / len, (b[1] - a[1]) / len] : [1, 0];
  const perp: [number, number] = [-u[1], u[0]];
  let lo = Infinity;
  let hi = -Infinity;
  for (const p of hull) {
    const t = p[0] * perp[0] + p[1] * perp[1];
    lo = Math.min(lo, t);
    hi = Math.max(hi, t);
  }
  // The short axis drawn across the middle of the long one, as long as the extent found.
  const mid: [number, number] = [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
  const half = (hi - lo) / 2;
  const centre = (lo + hi) / 2 - (mid[0] * perp[0] + mid[1] * perp[1]);
  const c: [number, number] = [mid[0] + perp[0] * centre, mid[1] + perp[1] * centre];
  const px = (p: [number, number]): [number, number] => [p[0] / sx, p[1] / sy];
  return {
    long: { value: len, unit, from: px(a), to: px(b) },
    short: { value: hi - lo, unit, from: px([c[0] - perp[0] * half, c[1] - perp[1] * half]), to: px([c[0] + perp[0] * half, c[1] + perp[1] * half]) },
  };
}

/** Andrew's monotone chain. */
function convexHull(points: [number, number][]): [number, number][] {
  const p = [...new Map(points.map((q) => [`${q[0]},${q[1]}`, q])).values()].sort((s, t) => s[0] - t[0] || s[1] - t[1]);
  if (p.length < 3) return p;
  const turn = (o: [number, number], a: [number, number], b: [number, number]) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower: [number, number][] = [];
  for (const q of p) {
    while (lower.length >= 2 && turn(lower[lower.length - 2]!, lower[lower.length - 1]!, q) <= 0) lower.pop();
    lower.push(q);
  }
  const upper: [number, number][] = [];
  for (const q of [...p].reverse()) {
    while (upper.length >= 2 && turn(upper[upper.length - 2]!, upper[upper.length - 1]!, q) <= 0) upper.pop();
    upper.push(q);
  }
  return [...lower.slice(0, -1), ...upper.slice(0, -1)];
}
