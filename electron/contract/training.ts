/**
 * Contract of the "Retrain on my data" loop and of long-running jobs: plan, start, watch,
 * cancel, resume, validation pins, rollback. Spread into `methods` in api.ts.
 *
 * Runtime: pure (zod only), bundled into the renderer unchanged.
 */
import { z } from 'zod';
import { ImportReport } from './imports.js';
import { PropagationOutcome } from './propagation.js';

const id = z.number().int().positive();
const jobId = z.string().regex(/^[a-z0-9-]{1,64}$/);

// ---------------------------------------------------------------- jobs

/** training: Retrain on my data; import: a folder import (images.importStart); model-import: a .pth conversion (models.importStart); export: a DICOM SEG or RTSTRUCT (export.segStart, export.rtstructStart); propagate: a mask carried through a series (segments.propagateStart). */
export const JobKind = z.enum(['training', 'import', 'model-import', 'export', 'send', 'propagate']);
export type JobKind = z.infer<typeof JobKind>;
export const JobState = z.enum(['running', 'cancelling', 'succeeded', 'failed', 'cancelled', 'interrupted']);
export type JobState = z.infer<typeof JobState>;

/** The states of a job that is still going: one definition for the store and the renderer. */
export const LIVE_JOB_STATES: readonly JobState[] = ['running', 'cancelling'];
export function jobIsLive(state: JobState): boolean {
  return LIVE_JOB_STATES.includes(state);
}

/** Stages of a training job, in order, then an import job's (reading, storing); the renderer names them. */
export const TrainingStage = z.enum(['queued', 'environment', 'snapshot', 'caching', 'training', 'evaluating', 'exporting', 'gating', 'done', 'reading', 'storing', 'sending', 'waiting', 'propagating']);
export type TrainingStage = z.infer<typeof TrainingStage>;

/** One point of the live curves: a finished epoch. */
export const EpochPoint = z.object({ epoch: z.number().int().nonnegative(), trainLoss: z.number().nullable(), valDice: z.number().nullable() });
export type EpochPoint = z.infer<typeof EpochPoint>;

/** Dice per (mode, label) for the model in use and the new one, on the same validation images and prompts. */
export const EvalRow = z.object({ mode: z.string(), label: z.string(), n: z.number().int().nonnegative(), before: z.number(), after: z.number() });
export type EvalRow = z.infer<typeof EvalRow>;

export const GateDecision = z.object({
  /** The rule in words, stored with the model and shown. */
  rule: z.string(),
  minGain: z.number(),
  before: z.number(),
  after: z.number(),
  parityOk: z.boolean(),
  parity: z.record(z.unknown()),
  passed: z.boolean(),
  /** Why the new model was (or was not) made active, in a sentence. */
  reason: z.string(),
});
export type GateDecision = z.infer<typeof GateDecision>;

export const TrainingOutcome = z.object({
  datasetHash: z.string(),
  modelId: z.string().nullable(),
  previousModelId: z.string().nullable(),
  activated: z.boolean(),
  gate: GateDecision,
  evaluation: z.array(EvalRow),
  trainSeconds: z.number().nonnegative(),
  totalSeconds: z.number().nonnegative(),
  /**
   * The embeddings the app had computed while the user annotated, offered to training: how
   * many it took instead of computing them again, and how far the ones it checked were from
   * its own (relative L2; taken only within `bound`). Null when none were offered.
   */
  embeddingSeeds: z
    .object({
      offered: z.number().int().nonnegative(),
      reused: z.number().int().nonnegative(),
      maxRelError: z.number().nullable(),
      bound: z.number(),
      refused: z.string().nullable(),
    })
    .nullable()
    .default(null),
});
export type TrainingOutcome = z.infer<typeof TrainingOutcome>;

export const JobError = z.object({ code: z.string(), message: z.string(), file: z.string().optional() });

export const JobInfo = z.object({
  id: jobId,
  kind: JobKind,
  state: JobState,
  stage: TrainingStage,
  /** A sentence for the user: what is happening now. */
  detail: z.string(),
  step: z.number().int().nullable(),
  steps: z.number().int().nullable(),
  epoch: z.number().int().nullable(),
  epochs: z.number().int().nullable(),
  etaS: z.number().nullable(),
  curves: z.array(EpochPoint),
  /** Per-step training loss, thinned to at most a few hundred points. */
  lossSteps: z.array(z.tuple([z.number(), z.number()])),
  outcome: TrainingOutcome.nullable(),
  /** An import job's report, as far as it got (complete once the job has ended). */
  importReport: ImportReport.nullable(),
  /** The model a model-import job installed (once it succeeded). */
  modelId: z.string().nullable(),
  /** What an export job wrote (once it succeeded); `reused`: those masks had been exported already. */
  exported: z
    .object({
      /**
       * What was written: a DICOM SEG (also when absent: jobs recorded before RTSTRUCT), an
       * RTSTRUCT, or a COCO folder (file: the folder; both UIDs: its content UID; frames: COCO
       * images; segments: annotations), or a measurement report (SR: frames are the slices its
       * calipers are on; segments the segments measured).
       */
      kind: z.enum(['seg', 'rtstruct', 'coco', 'sr']).optional(),
      file: z.string(),
      sopInstanceUid: z.string(),
      seriesInstanceUid: z.string(),
      version: z.number().int(),
      frames: z.number().int(),
      segments: z.number().int(),
      reused: z.boolean(),
    })
    .nullable(),
  error: JobError.nullable(),
  /** What a propagation job drafted and why it stopped each way (as far as it got). */
  propagated: PropagationOutcome.nullable().optional(),
  /** A stopped run (cancelled, crashed, app closed) can continue from its last checkpoint. */
  resumable: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
  author: z.string(),
});
export type JobInfo = z.infer<typeof JobInfo>;

// ---------------------------------------------------------------- plan

/**
 * Where training runs: this computer, or a server reached over SSH that runs the same runtime
 * over the same stdio JSON-RPC (the snapshot is copied there, the model comes back). Every
 * field ends up in an ssh command line, so each is held to a narrow, option-free form.
 */
export const TrainingHost = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('local') }).strict(),
  z
    .object({
      kind: z.literal('ssh'),
      host: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9._:-]{0,252}$/, 'a host name or address'),
      port: z.number().int().min(1).max(65535).default(22),
      user: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/, 'a user name'),
      /** Private key file on this computer (else ssh's defaults and agent). */
      identityFile: z.string().regex(/^\/[^\0\n]{1,4095}$/, 'an absolute path').optional(),
      /** known_hosts file to use (else ssh's own). */
      knownHostsFile: z.string().regex(/^\/[^\0\n]{1,4095}$/, 'an absolute path').optional(),
      /** Folder on the server for the runtime, snapshots and runs. */
      remoteDir: z.string().regex(/^\/[A-Za-z0-9._/ -]{0,1023}$/, 'an absolute path of letters, digits, . _ / - and spaces'),
      /** The server's python 3.11+ that builds the runtime's environment. */
      python: z.string().regex(/^[A-Za-z0-9._/-]{1,255}$/).default('python3'),
    })
    .strict(),
]);
export type TrainingHost = z.infer<typeof TrainingHost>;

export const TrainingSettings = z
  .object({
    preset: z.enum(['auto', 'decoder', 'last_blocks', 'progressive']).default('auto'),
    epochs: z.number().int().min(1).max(500).optional(),
    unfreezeLastN: z.number().int().min(0).max(32).optional(),
    lr: z.number().positive().max(1).optional(),
    /** Choose the learning rate with a range test before the first epoch; `lr` is then only the fallback. */
    lrFind: z.boolean().optional(),
    host: TrainingHost.optional(),
  })
  .strict();
export type TrainingSettings = z.infer<typeof TrainingSettings>;

export const LabelReadiness = z.object({ labelId: id, name: z.string(), masks: z.number().int(), images: z.number().int(), need: z.number().int() });

export const TrainingPlan = z.object({
  ready: z.boolean(),
  /** Why not ready, in a sentence (too few masks, no model to start from, ...). */
  blocker: z.string().nullable(),
  labels: z.array(LabelReadiness),
  images: z.number().int(),
  masks: z.number().int(),
  split: z.object({ train: z.number().int(), val: z.number().int(), groups: z.number().int(), pinned: z.number().int(), groupBy: z.string() }),
  baseModel: z.object({ id: z.string(), name: z.string(), arch: z.string() }).nullable(),
  /** What the button will run (resolved from `auto`). */
  settings: z.object({ preset: z.string(), mode: z.string(), epochs: z.number().int(), lr: z.number(), lrFind: z.boolean(), unfreezeLastN: z.number().int(), batchSize: z.number().int() }),
  device: z.string(),
  estimateS: z.number().nullable(),
  environment: z.object({ ready: z.boolean(), path: z.string().nullable(), note: z.string() }),
  running: jobId.nullable(),
});
export type TrainingPlan = z.infer<typeof TrainingPlan>;

// ---------------------------------------------------------------- methods

const empty = z.object({}).strict();

export const trainingMethods = {
  /** What pressing Retrain would do now; cheap (no Python). */
  'training.plan': { params: z.object({ settings: TrainingSettings.optional() }).strict(), result: TrainingPlan },
  /** Start a run; returns at once with the job id. */
  'training.start': { params: z.object({ settings: TrainingSettings.optional() }).strict(), result: z.object({ jobId }) },
  /** Continue a cancelled or crashed run from its last checkpoint. */
  'training.resume': { params: z.object({ jobId }).strict(), result: z.object({ jobId }) },
  /** Keep an image (and its study) on the validation side of every split. */
  'training.pinValidation': { params: z.object({ imageId: id, pinned: z.boolean() }).strict(), result: z.null() },
  /** Unlabelled images, most uncertain first (the current model's predicted IoU). */
  'training.labelNext': {
    params: z.object({ limit: z.number().int().positive().max(500).default(20) }).strict(),
    result: z.object({ modelId: z.string().nullable(), images: z.array(z.object({ imageId: id, score: z.number(), reason: z.string() })) }),
  },
  'jobs.list': { params: empty, result: z.array(JobInfo) },
  'jobs.get': { params: z.object({ jobId }).strict(), result: JobInfo },
  'jobs.cancel': { params: z.object({ jobId }).strict(), result: JobInfo },
} as const;
