/**
 * Measurements per segment (areas, volume, RECIST axes, HU statistics), CSV and DICOM SR; owned by the measurements service.
 * Runtime: pure (bundled into the renderer).
 *
 * Every length and area carries the unit it was measured in: 'mm' where every slice of the
 * series has Pixel Spacing, else 'px' (never a figure labelled mm that was not measured in
 * mm). Distances between slices come from Image Position/Orientation (Patient), never from
 * Slice Thickness; draft masks (propagation proposals not yet accepted) are not measured.
 */
import { z } from 'zod';
import { SegmentKey } from './segments.js';

const id = z.number().int().positive();
const point = z.tuple([z.number(), z.number()]);

export const LengthUnit = z.enum(['mm', 'px']);
export type LengthUnit = z.infer<typeof LengthUnit>;

/** A caliper: its length and its two ends in pixel coordinates of its slice (x right, y down; pixel edges at integers, as DICOM SCOORD). */
export const Caliper = z.object({ value: z.number().nonnegative(), unit: LengthUnit, from: point, to: point });
export type Caliper = z.infer<typeof Caliper>;

export const MeasuredSlice = z.object({
  imageId: id,
  frame: z.number().int().nonnegative(),
  /** Index in the series stack (display order, 0-based). */
  index: z.number().int().nonnegative(),
  /** Position along the slice normal (mm); null without Image Position/Orientation. */
  positionMm: z.number().nullable(),
  /** mm² (unit 'mm') or pixels (unit 'px'). */
  area: z.number().nonnegative(),
  pixels: z.number().int().nonnegative(),
});
export type MeasuredSlice = z.infer<typeof MeasuredSlice>;

export const SegmentMeasurement = z.object({
  imageId: id,
  labelId: id,
  instance: z.number().int().positive(),
  /** The segment's name (the user's, else "<label> <instance>") and its label's. */
  name: z.string(),
  label: z.string(),
  seriesKey: z.string(),
  /** Slices in the series stack. */
  stackSlices: z.number().int().nonnegative(),
  /** Unit of every length ('mm' or 'px') and area (mm² or px). */
  unit: LengthUnit,
  /** The slices the segment has pixels on, in stack order. */
  slices: z.array(MeasuredSlice),
  /** mL over the slices' actual positions; 'voxels' without pixel spacing; null when it cannot be had (one slice, no positions). */
  volume: z.object({ value: z.number().nonnegative(), unit: z.enum(['mL', 'voxels']) }).nullable(),
  /**
   * The slice where the segment is largest by RECIST 1.1: the one with the longest in-plane
   * diameter over all its slices (equal diameters: the larger area). The axes are measured and
   * the calipers drawn on it; its area need not be the largest of `slices`.
   */
  largest: MeasuredSlice,
  /** RECIST 1.1 on that slice: the longest in-plane diameter (over every slice) and the longest extent at right angles to it. */
  longAxis: Caliper,
  shortAxis: Caliper,
  /** Modality values (rescaled: HU for CT) over all the segment's voxels; SD is the population SD. Null for colour images. */
  values: z
    .object({
      unit: z.enum(['HU']).nullable(),
      mean: z.number(),
      sd: z.number().nonnegative(),
      min: z.number(),
      max: z.number(),
      count: z.number().int().positive(),
    })
    .nullable(),
  geometry: z.object({
    pixelSpacing: point.nullable(),
    /** The series' most common distance between slices (mm), from positions; null without them. */
    sliceSpacing: z.number().nullable(),
    uneven: z.boolean(),
    /** Missing slices that bear on this segment's volume: between these positions (mm). */
    gaps: z.array(z.object({ fromMm: z.number(), toMm: z.number() })),
  }),
  /** Sentences about what the figures rest on (no spacing, a gap, uneven spacing, no positions). */
  notes: z.array(z.string()),
});
export type SegmentMeasurement = z.infer<typeof SegmentMeasurement>;

export const measurementMethods = {
  /** The measurements of one segment (`imageId`: any image of its series stack). not_found when it has no accepted pixels. */
  'segments.measure': { params: SegmentKey.strict(), result: SegmentMeasurement },
  /**
   * Every segment of `imageId`'s series stack measured, as CSV text: `csv` (measurementsCsv:
   * a header and one row per segment; `rows`: the segments) and `slicesCsv` (sliceAreasCsv:
   * one row per segment and slice with its area), two files.
   */
  'segments.measurementsCsv': {
    params: z.object({ imageId: id }).strict(),
    result: z.object({ csv: z.string(), fileName: z.string(), rows: z.number().int().nonnegative(), slicesCsv: z.string(), slicesFileName: z.string() }),
  },
  /**
   * Write the series' measurements as a DICOM Structured Report (TID 1500 Measurement Report)
   * referencing the series' SEG (exported first, or the recorded one reused) and the source
   * images: a job of kind export (the exports table records it as 'sr').
   */
  'export.srStart': { params: z.object({ imageId: id }).strict(), result: z.object({ jobId: z.string() }) },
} as const satisfies Record<string, { params: z.ZodTypeAny; result: z.ZodTypeAny }>;
