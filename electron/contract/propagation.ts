/**
 * Carrying a mask through the slices (SAM propagation as a job), fill between slices, and reviewing drafts; owned by the propagation service.
 * Runtime: pure (bundled into the renderer).
 *
 * A segment is named by any image of its series stack plus (labelId, instance), as everywhere
 * in the segments API. What propagation and interpolation produce are drafts (masks.draft = 1):
 * shown for review, never trained on or exported, and never written over a mask someone
 * accepted. Accepting a draft is an ordinary save; so is editing it.
 */
import { z } from 'zod';

const id = z.number().int().positive();
const frame = z.number().int().nonnegative();
const instance = z.number().int().positive();
const jobId = z.string().regex(/^[a-z0-9-]{1,64}$/);

/** The thresholds the panel starts with: SAM's own score and the slice-to-slice area change that end a lesion. */
export const PROPAGATION_DEFAULTS = { minIoU: 0.75, minAreaRatio: 0.35 } as const;

/** up: towards the first slice of the stack (lower index); down: towards the last; both: up, then down. */
export const PropagationDirection = z.enum(['both', 'up', 'down']);
export type PropagationDirection = z.infer<typeof PropagationDirection>;

export const SegmentRef = z.object({ imageId: id, labelId: id, instance }).strict();
export type SegmentRef = z.infer<typeof SegmentRef>;

/** One slice of a stack. */
export const SliceRef = z.object({ imageId: id, frame }).strict();
export type SliceRef = z.infer<typeof SliceRef>;

export const PropagateParams = z
  .object({
    imageId: id,
    frame,
    labelId: id,
    instance,
    /** The window the viewer shows the series through: SAM sees the slices as the user does, and shares embeddings with clicks. */
    window: z.object({ center: z.number().finite(), width: z.number().finite().positive() }).nullable(),
    /** Stop where SAM's predicted IoU for a slice falls below this. */
    minIoU: z.number().min(0).max(1),
    /** Stop where a slice's area falls below this fraction of the previous slice's (or grows beyond its inverse: a leak). */
    minAreaRatio: z.number().min(0).max(1),
    direction: PropagationDirection.default('both'),
  })
  .strict();
export type PropagateParams = z.input<typeof PropagateParams>;

/** A draft mask awaiting review, where it sits in its stack, and how sure its maker was (SAM's IoU; null for interpolation). */
export const DraftSlice = z.object({
  imageId: id,
  frame,
  /** Position in the series stack (0-based, display order). */
  index: z.number().int().nonnegative(),
  labelId: id,
  instance,
  /** How it was proposed: SAM carried it, filled between slices, or a model's AUTOMATIC SEG (the headless node's output). */
  source: z.enum(['propagate', 'interpolate', 'automatic']),
  area: z.number().int().nonnegative(),
  score: z.number().nullable(),
});
export type DraftSlice = z.infer<typeof DraftSlice>;

/** Why propagation stopped in one direction. */
export const PropagationStop = z.enum([
  /** the first or last slice of the stack was reached */
  'end',
  /** SAM's predicted IoU fell below minIoU */
  'iou',
  /** the area fell below minAreaRatio of the previous slice's, or grew beyond its inverse */
  'area',
  /** SAM found nothing */
  'empty',
  'cancelled',
  /** the direction was not asked for */
  'skipped',
]);
export type PropagationStop = z.infer<typeof PropagationStop>;

export const PropagationEnd = z.object({
  direction: z.enum(['up', 'down']),
  reason: PropagationStop,
  /** The slice that ended it (not drafted); null when the stack ended or nothing ran. */
  at: z.object({ imageId: id, frame, index: z.number().int().nonnegative() }).nullable(),
  /** The measured value that ended it (IoU or area ratio), else null. */
  value: z.number().nullable(),
});
export type PropagationEnd = z.infer<typeof PropagationEnd>;

/** What a propagation job did (JobInfo.propagated). */
export const PropagationOutcome = z.object({
  drafted: z.number().int().nonnegative(),
  /** Slices passed because someone had accepted a mask there (kept as it was, and carried on from). */
  keptAccepted: z.number().int().nonnegative(),
  ends: z.array(PropagationEnd),
  /** Slices SAM ran on (the drafted ones and those that ended a direction). */
  samSlices: z.number().int().nonnegative(),
  /** Mean time per SAM slice (embedding + decode), ms. */
  msPerSlice: z.number().nonnegative().nullable(),
});
export type PropagationOutcome = z.infer<typeof PropagationOutcome>;

/** Accept or discard the drafts of a segment: one slice (`slice`) or all of them in its stack. */
const DraftSelection = z
  .object({ imageId: id, labelId: id, instance, slice: SliceRef.optional() })
  .strict();

export const propagationMethods = {
  /** Start carrying the accepted mask on (imageId, frame) up and/or down its series; returns at once with the job id (jobs.get, jobs.cancel). */
  'segments.propagateStart': { params: PropagateParams, result: z.object({ jobId }) },
  /**
   * Fill between slices: every slice between two slices with an accepted mask of the segment
   * gets a draft interpolated from their shapes (signed distances).
   */
  'segments.interpolate': { params: SegmentRef, result: z.object({ drafted: z.array(DraftSlice) }) },
  /** The drafts of every segment in the stack `imageId` belongs to, in stack order. */
  'segments.drafts': { params: z.object({ imageId: id }).strict(), result: z.array(DraftSlice) },
  /** Accept drafts (they become ordinary masks, as a save would make them). */
  'segments.acceptDrafts': { params: DraftSelection, result: z.object({ accepted: z.number().int().nonnegative() }) },
  /** Delete drafts; accepted masks are never touched. */
  'segments.discardDrafts': { params: DraftSelection, result: z.object({ discarded: z.number().int().nonnegative() }) },
} as const satisfies Record<string, { params: z.ZodTypeAny; result: z.ZodTypeAny }>;
