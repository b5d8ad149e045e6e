/**
 * Segment list: list, show/hide, rename, recolour, lock, delete and restore (undo) segments; owned by the segments service.
 *
 * A segment is one lesion or defect: (series stack, label, instance) across the slices it
 * spans (electron/services/segments/series-stack.ts says which slices belong together). The
 * API names a segment by any image of its stack plus label and instance. The default name
 * and colour rules live here too, so the renderer draws a segment it has just made in the
 * colour the service will list it with.
 *
 * Runtime: pure (bundled into the renderer).
 */
import { z } from 'zod';

const id = z.number().int().positive();
const hexColor = z.string().regex(/^#[0-9a-fA-F]{6}$/);

/** Names a segment: any image of its series stack, its label and its instance. */
export const SegmentKey = z.object({ imageId: id, labelId: id, instance: z.number().int().positive() });
export type SegmentKey = z.infer<typeof SegmentKey>;

/**
 * How a segment's masks were made, from the masks' source column: brush, eraser, polygon,
 * undo and redo are 'manual'; several kinds over its slices make it 'mixed'.
 */
export const SegmentOrigin = z.enum(['manual', 'sam', 'propagated', 'interpolated', 'automatic', 'imported', 'mixed']);
export type SegmentOrigin = z.infer<typeof SegmentOrigin>;

/** One slice a segment has pixels on. */
export const SegmentSlice = z.object({
  imageId: id,
  frame: z.number().int().nonnegative(),
  area: z.number().int().nonnegative(),
  /** The mask's source column (how its last write came about). */
  source: z.string(),
  /** Proposed by propagation, awaiting review. */
  draft: z.boolean(),
});
export type SegmentSlice = z.infer<typeof SegmentSlice>;

export const Segment = z.object({
  labelId: id,
  instance: z.number().int().positive(),
  /** What the list shows: the user's name, else "<label> <instance>". */
  name: z.string(),
  /** True when the user named it (false: the default, which follows the label's name). */
  named: z.boolean(),
  /** The colour it is drawn in: the user's, else derived from the label's colour and the instance. */
  color: hexColor,
  /** True when the user chose the colour. */
  colored: z.boolean(),
  hidden: z.boolean(),
  locked: z.boolean(),
  origin: SegmentOrigin,
  /** The slices with pixels, in the stack's order (drafts included, marked). */
  slices: z.array(SegmentSlice),
  /** The accepted slice with the most pixels (a draft only when there is nothing else); null for an empty segment. */
  largest: z.object({ imageId: id, frame: z.number().int().nonnegative(), area: z.number().int().nonnegative() }).nullable(),
  /** Draft masks of this segment awaiting review (propagation proposals). */
  draftCount: z.number().int().nonnegative(),
});
export type Segment = z.infer<typeof Segment>;

export const SegmentList = z.object({
  /** segments.series_key of the stack (the series UID, or "image:<id>"). */
  seriesKey: z.string(),
  /** Every slice of the stack, in display order. */
  sliceCount: z.number().int().nonnegative(),
  /** By label, then instance. */
  segments: z.array(Segment),
});
export type SegmentList = z.infer<typeof SegmentList>;

// ------------------------------------------------------------------ defaults (pure; shared by the service and the renderer)

export function defaultSegmentName(labelName: string, instance: number): string {
  return `${labelName} ${instance}`;
}

function hexToHsl(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  const r = ((n >> 16) & 255) / 255;
  const g = ((n >> 8) & 255) / 255;
  const b = (n & 255) / 255;
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  const l = (max + min) / 2;
  if (max === min) return [0, 0, l];
  const d = max - min;
  const s = l > 0.5 ? d / (2 - max - min) : d / (max + min);
  const h = max === r ? (g - b) / d + (g < b ? 6 : 0) : max === g ? (b - r) / d + 2 : (r - g) / d + 4;
  return [h * 60, s, l];
}

function hslToHex(h: number, s: number, l: number): string {
  const f = (n: number): number => {
    const k = (n + h / 30) % 12;
    const a = s * Math.min(l, 1 - l);
    return l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
  };
  return `#${[f(0), f(8), f(4)].map((v) => Math.round(v * 255).toString(16).padStart(2, '0')).join('')}`;
}

/** Hue steps (degrees) away from the label's hue, alternating sides, near ones first. */
const HUE_STEPS = [0, 36, -36, 72, -72, 108, -108, 144, -144, 180];

/**
 * The colour instance `instance` of a label is drawn in when the user chose none: instance 1
 * is the label's own colour, so a one-lesion series looks as it always did; later instances
 * turn the hue away from it step by step, alternating sides, so lesions of one class stay
 * kin yet distinguishable. Greys (no hue to turn) step through lightness instead. After the
 * hue steps run out the cycle repeats lighter or darker.
 */
export function defaultInstanceColor(labelColor: string, instance: number): string {
  if (instance <= 1) return labelColor.toLowerCase();
  const [h, s0, l0] = hexToHsl(labelColor);
  const i = instance - 1;
  const round = Math.floor(i / HUE_STEPS.length);
  const step = HUE_STEPS[i % HUE_STEPS.length]!;
  // A faint colour would not turn visibly: give later instances enough saturation to read.
  const s = Math.max(s0, 0.55);
  const shade = [0, 0.14, -0.14, 0.24, -0.24][round % 5]!;
  if (s0 < 0.08) {
    // Grey labels: lightness steps only (a hue would make the class look like another).
    return hslToHex(0, 0, 0.25 + ((l0 - 0.25 + 0.17 * i) % 0.6 + 0.6) % 0.6);
  }
  const l = Math.min(0.78, Math.max(0.32, l0 + shade));
  return hslToHex((((h + step) % 360) + 360) % 360, s, l);
}

export const segmentMethods = {
  /** The segments of the series stack `imageId` belongs to: those with masks, and those the user has named, coloured, hidden or locked. */
  'segments.list': { params: z.object({ imageId: id }).strict(), result: SegmentList },
  /**
   * Change how a segment is shown or protected. Fields left out stay; `name` or `color` null
   * goes back to the default. A locked segment refuses paint, erase, SAM and delete.
   */
  'segments.update': {
    params: SegmentKey.extend({
      name: z.string().trim().min(1).max(200).nullable().optional(),
      color: hexColor.nullable().optional(),
      hidden: z.boolean().optional(),
      locked: z.boolean().optional(),
    }).strict(),
    result: Segment,
  },
  /**
   * Delete a segment: all its masks on every slice of the stack (drafts included) and its
   * settings, in one transaction with audit rows. `token` gives it back through
   * segments.restore (the deletion's audit row, which keeps what was deleted). A locked
   * segment is refused (conflict).
   */
  'segments.delete': {
    params: SegmentKey.strict(),
    result: z.object({ token: id, masks: z.number().int().nonnegative() }),
  },
  /** Put back exactly what segments.delete removed (same RLEs, sources, drafts, settings); once per token. */
  'segments.restore': { params: z.object({ token: id }).strict(), result: Segment },
} as const satisfies Record<string, { params: z.ZodTypeAny; result: z.ZodTypeAny }>;
