/**
 * The arithmetic of a segment's measurements, apart from any I/O: per-slice areas, the volume
 * over the slices' actual positions, RECIST 1.1 axes on the slice with the longest in-plane
 * diameter (over every slice, not the one of largest area), and modality-value
 * statistics over every voxel. The geometry itself (stack order, areas, volumes, axes) is
 * contract/geometry.ts; this module decides which figures a segment gets, in which unit, and
 * what the user is told about them. Runtime: pure.
 */
import { area, maskExtent, recistAxes, stackGeometry, volumeMl, type Axes, type Orientation, type Spacing, type Vec3 } from '../../contract/geometry.js';
import type { SegmentMeasurement } from '../../contract/measurements.js';

/**
 * Running statistics of values (count, mean, sum of squared deviations, extremes), merged
 * slice by slice with Chan's formula: no sum of squares of raw HU values to cancel out.
 */
export interface ValueSums {
  count: number;
  mean: number;
  m2: number;
  min: number;
  max: number;
}

/** Statistics of the modality values (stored × slope + intercept) under `mask`; null when the mask is empty. */
export function valueSums(mask: ArrayLike<number>, stored: ArrayLike<number>, slope: number, intercept: number): ValueSums | null {
  let count = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    const v = stored[i]! * slope + intercept;
    count++;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (count === 0) return null;
  const mean = sum / count;
  let m2 = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) m2 += (stored[i]! * slope + intercept - mean) ** 2;
  return { count, mean, m2, min, max };
}

export function mergeSums(a: ValueSums | null, b: ValueSums | null): ValueSums | null {
  if (!a) return b;
  if (!b) return a;
  const count = a.count + b.count;
  const delta = b.mean - a.mean;
  return {
    count,
    mean: a.mean + (delta * b.count) / count,
    m2: a.m2 + b.m2 + (delta * delta * a.count * b.count) / count,
    min: Math.min(a.min, b.min),
    max: Math.max(a.max, b.max),
  };
}

/** One slice of the series stack, as the service read it. */
export interface StackSliceIn {
  imageId: number;
  frame: number;
  width: number;
  height: number;
  spacing: Spacing | null;
  position: Vec3 | null;
  orientation: Orientation | null;
  /** The segment's mask on this slice (row-major, non-zero inside); null where it has none. */
  mask: Uint8Array | null;
  /** Modality values under the mask (valueSums); null without a mask or for colour pixels. */
  sums: ValueSums | null;
}

export type SegmentFigures = Omit<SegmentMeasurement, 'imageId' | 'labelId' | 'instance' | 'name' | 'label' | 'seriesKey'>;

const mm = (v: number) => `${Number(v.toFixed(2))} mm`;

/**
 * The figures of a segment from its series stack (every slice, in stack order). `valueUnit`:
 * 'HU' for CT, null for other modalities (values as rescaled); `colour`: the pixels are not
 * one value each, so no statistics. Null when the segment has no pixels.
 */
export function measureSegment(stack: readonly StackSliceIn[], opts: { valueUnit: 'HU' | null; colour: boolean }): SegmentFigures | null {
  const boxes = stack.map((s) => (s.mask ? maskExtent(s.mask, s.width, s.height) : null));
  const counted = boxes.map((b) => (b ? b.pixels : 0));
  if (!counted.some((n) => n > 0)) return null;
  const notes: string[] = [];

  // Lengths in mm only where every slice of the series says how large its pixels are.
  const withSpacing = stack.filter((s) => s.spacing).length;
  const unit = withSpacing === stack.length ? 'mm' : 'px';
  if (unit === 'px') {
    notes.push(
      withSpacing === 0
        ? 'No Pixel Spacing: lengths are in pixels, areas in pixels and the volume in voxels.'
        : `Pixel Spacing is missing on ${stack.length - withSpacing} of ${stack.length} slices: lengths are in pixels, areas in pixels and the volume in voxels.`,
    );
  }

  // Positions along the slice normal from Image Position/Orientation (Patient).
  const placed = stack.every((s) => s.position && s.orientation);
  const geo = stack.length > 1 && placed ? stackGeometry(stack.map((s) => ({ position: s.position!, orientation: s.orientation! }))) : null;
  const positionOf = new Map<number, number>();
  if (geo) geo.order.forEach((i, k) => positionOf.set(i, geo.positions[k]!));

  const slices = stack.flatMap((s, index) =>
    counted[index]! > 0
      ? [{ imageId: s.imageId, frame: s.frame, index, positionMm: positionOf.get(index) ?? null, area: area(counted[index]!, unit === 'mm' ? s.spacing : null).value, pixels: counted[index]! }]
      : [],
  );
  // RECIST 1.1: the longest in-plane diameter over every slice the segment is on (a long thin
  // cross-section can outrun a rounder one of larger area); its short axis is taken on the same
  // slice. Equal diameters (within rounding): the larger area, then the first in the stack.
  let largest = slices[0]!;
  let axes: Axes | null = null;
  for (const s of slices) {
    const sl = stack[s.index]!;
    const a = axesInBox(sl.mask!, sl.width, boxes[s.index]!, unit === 'mm' ? sl.spacing : null);
    const d = axes ? a.long.value - axes.long.value : 1;
    if (d > 1e-9 * a.long.value || (Math.abs(d) <= 1e-9 * a.long.value && s.area > largest.area)) [largest, axes] = [s, a];
  }
  const big = stack[largest.index]!;

  let volume: SegmentFigures['volume'] = null;
  const gaps: { fromMm: number; toMm: number }[] = [];
  let uneven = false;
  if (unit === 'px') {
    volume = { value: counted.reduce((a, b) => a + b, 0), unit: 'voxels' };
  } else if (stack.length === 1) {
    notes.push('A single slice: no volume.');
  } else if (!placed) {
    notes.push('The slice positions are not known (no Image Position/Orientation (Patient) stored for these slices): the distance between them is unknown, so no volume (Slice Thickness alone is not used).');
  } else if (!geo) {
    notes.push('The slices are not parallel (their orientations differ): no volume.');
  } else {
    const areas = geo.order.map((i) => (counted[i]! > 0 ? area(counted[i]!, stack[i]!.spacing).value : 0));
    volume = { value: volumeMl(areas, geo.positions, geo.spacing), unit: 'mL' };
    // A gap bears on the volume when it borders a slice of the segment (each slice stands for half the step to its neighbours).
    const inside = areas.flatMap((a, k) => (a > 0 ? [k] : []));
    const first = inside[0]!;
    const last = inside[inside.length - 1]!;
    for (const k of geo.gaps) if (k >= first - 1 && k <= last) gaps.push({ fromMm: geo.positions[k]!, toMm: geo.positions[k + 1]! });
    for (const g of gaps) notes.push(`Slices are missing between ${mm(g.fromMm)} and ${mm(g.toMm)} (the series is ${mm(geo.spacing)} apart): the volume is taken over the slices' actual positions.`);
    const steps = geo.steps.filter((s) => !(s > 1.5 * geo.spacing));
    uneven = steps.some((s) => Math.abs(s - geo.spacing) > 0.01 * geo.spacing);
    if (uneven) notes.push(`The slice spacing varies (${mm(Math.min(...steps))} to ${mm(Math.max(...steps))}): each slice counts for half the distance to each neighbour.`);
  }

  let values: SegmentFigures['values'] = null;
  if (!opts.colour) {
    const s = stack.reduce<ValueSums | null>((acc, sl) => mergeSums(acc, sl.sums), null);
    if (s) values = { unit: opts.valueUnit, mean: s.mean, sd: Math.sqrt(s.m2 / s.count), min: s.min, max: s.max, count: s.count };
  } else {
    notes.push('Colour pixels: no value statistics.');
  }

  return {
    stackSlices: stack.length,
    unit,
    slices,
    volume,
    largest,
    longAxis: axes!.long,
    shortAxis: axes!.short,
    values,
    geometry: { pixelSpacing: unit === 'mm' ? big.spacing : null, sliceSpacing: geo ? geo.spacing : null, uneven, gaps },
    notes,
  };
}

type CountedBox = NonNullable<ReturnType<typeof maskExtent>>;

/**
 * recistAxes on the mask's bounding box only (a lesion is a small part of a 512 x 512 slice,
 * and every slice it is on is measured), its caliper ends moved back to image coordinates.
 */
function axesInBox(mask: Uint8Array, width: number, box: CountedBox, spacing: Spacing | null): Axes {
  const w = box.x1 - box.x0;
  const h = box.y1 - box.y0;
  const crop = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) crop.set(mask.subarray((box.y0 + y) * width + box.x0, (box.y0 + y) * width + box.x1), y * w);
  const a = recistAxes(crop, w, h, spacing)!;
  const at = (p: [number, number]): [number, number] => [p[0] + box.x0, p[1] + box.y0];
  return {
    long: { ...a.long, from: at(a.long.from), to: at(a.long.to) },
    short: { ...a.short, from: at(a.short.from), to: at(a.short.to) },
  };
}
