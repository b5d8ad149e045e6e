/**
 * The one API contract between the renderer and the services.
 *
 * Every call is `method(params) -> result`, described once here as zod schemas. The
 * preload bridge, the Electron IPC handler, the browser host (HTTP) and the renderer all
 * import this module; the receiving side of every hop parses with these schemas, so a
 * malformed message is rejected where it arrives, never trusted.
 *
 * Runtime: pure (no `electron`, no `node:*`), so it bundles into the renderer unchanged.
 *
 * Binary payloads are `Uint8Array` fields (`bytes` below). Transports carry them natively
 * (structured clone over IPC) or encode them (the HTTP host); the schemas stay the same.
 */
import { z } from 'zod';
import { deidentifyMethods } from './deidentify.js';
import { exportMethods } from './exports.js';
import { ImageListing } from './image-listing.js';
import { ImportReport } from './imports.js';
import { pacsMethods } from './pacs.js';
import { pacsQueryMethods } from './pacs-query.js';
import { measurementMethods } from './measurements.js';
import { propagationMethods } from './propagation.js';
import { SEGMENT_CODE_KEYS } from './segment-codes.js';
import { segmentMethods } from './segments.js';
import { trainingMethods } from './training.js';

export const bytes = z.instanceof(Uint8Array);

const id = z.number().int().positive();
const nonEmpty = z.string().min(1).max(4096);

// ---------------------------------------------------------------- domain shapes

/** Largest mask, in pixels, a request may carry (16384 x 16384). */
export const MAX_MASK_PIXELS = 16384 * 16384;

/**
 * COCO-style uncompressed RLE: column-major run lengths, starting with a run of 0s.
 *
 * Validated by one plain loop rather than a per-element zod schema: a mask can carry
 * millions of runs, and the runs are bounded by the mask's own size first (an RLE cannot have
 * more runs than pixels, plus the leading 0-run), so a hostile request is refused before any
 * per-run work.
 */
export const Rle = z
  .object({
    size: z.tuple([z.number().int().positive(), z.number().int().positive()]), // [height, width]
    counts: z.custom<number[]>((v) => Array.isArray(v), { message: 'counts must be an array of run lengths' }),
  })
  .superRefine((rle, ctx) => {
    const [h, w] = rle.size;
    const pixels = h * w;
    if (pixels > MAX_MASK_PIXELS) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['size'], message: `a mask of ${w}x${h} is larger than the ${MAX_MASK_PIXELS}-pixel limit` });
      return;
    }
    const counts = rle.counts;
    if (counts.length > pixels + 1) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['counts'], message: `${counts.length} runs cannot describe ${pixels} pixels` });
      return;
    }
    for (let i = 0; i < counts.length; i++) {
      const n = counts[i];
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['counts', i], message: 'run lengths are non-negative integers' });
        return;
      }
    }
  });
export type Rle = z.infer<typeof Rle>;

export const ImageStatus = z.enum(['unlabelled', 'in_progress', 'done']);
export type ImageStatus = z.infer<typeof ImageStatus>;

export const WindowPreset = z.object({
  center: z.number(),
  width: z.number().positive(),
  explanation: z.string().optional(),
});
export type WindowPreset = z.infer<typeof WindowPreset>;

export const ProjectInfo = z.object({
  path: z.string(),
  name: z.string(),
  schemaVersion: z.number().int(),
  imageCount: z.number().int().nonnegative(),
  /** Records found unsafe when the project was opened (paths leading out of its folder): refused, never used. */
  warnings: z.array(z.string()),
});
export type ProjectInfo = z.infer<typeof ProjectInfo>;

/** One row of the image browser. DICOM rows carry patient/study/series for grouping; others carry folder. */
export const ImageSummary = z.object({
  id,
  kind: z.enum(['dicom', 'raster']),
  fileName: z.string(),
  folder: z.string(),
  status: ImageStatus,
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  frames: z.number().int().positive(),
  modality: z.string().nullable(),
  patientName: z.string().nullable(),
  patientId: z.string().nullable(),
  studyUid: z.string().nullable(),
  studyDescription: z.string().nullable(),
  seriesUid: z.string().nullable(),
  seriesDescription: z.string().nullable(),
  seriesNumber: z.number().nullable(),
  /** Position of this image inside its series (0-based), by ImagePositionPatient then InstanceNumber. */
  seriesIndex: z.number().int().nonnegative(),
  maskCount: z.number().int().nonnegative(),
  /** Kept on the validation side of every retrain split (with its whole patient/study). */
  validationPinned: z.boolean(),
  accessionNumber: z.string().nullable(),
  /** DICOM Study Date (YYYYMMDD) as stored. */
  studyDate: z.string().nullable(),
  /** Image Position (Patient) projected on the slice normal (mm): what orders a series ("slice location"). */
  slicePosition: z.number().nullable(),
  /** Slice Thickness (mm) as stated in the file: shown only; distances between slices come from positions. */
  sliceThickness: z.number().nullable(),
});
export type ImageSummary = z.infer<typeof ImageSummary>;

export const ImageDetail = ImageSummary.extend({
  sha256: z.string(),
  photometric: z.string(),
  samplesPerPixel: z.number().int().positive(),
  bitsStored: z.number().int().positive(),
  signed: z.boolean(),
  rescaleSlope: z.number(),
  rescaleIntercept: z.number(),
  pixelSpacing: z.tuple([z.number(), z.number()]).nullable(),
  /** Window settings stored in the file (DICOM) or derived from the pixel range (raster). */
  windows: z.array(WindowPreset),
  transferSyntax: z.string().nullable(),
  // slicePosition, sliceThickness, accessionNumber and studyDate come with ImageSummary (the browser lists them).
  /** Image Position (Patient) of the first pixel, mm in LPS; null when the file has none. */
  imagePosition: z.tuple([z.number(), z.number(), z.number()]).nullable(),
  /** Image Orientation (Patient): row then column direction cosines; null when the file has none. */
  imageOrientation: z.tuple([z.number(), z.number(), z.number(), z.number(), z.number(), z.number()]).nullable(),
});
export type ImageDetail = z.infer<typeof ImageDetail>;

/**
 * Decoded stored pixel values of one frame, row-major, interleaved samples.
 * Modality values = stored * rescaleSlope + rescaleIntercept (HU for CT).
 * MONOCHROME1 is NOT inverted here; `photometric` tells the viewer to invert.
 */
export const PixelFrame = z.object({
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  samplesPerPixel: z.number().int().positive(),
  dtype: z.enum(['uint8', 'int8', 'uint16', 'int16', 'float32']),
  photometric: z.string(),
  rescaleSlope: z.number(),
  rescaleIntercept: z.number(),
  minValue: z.number(),
  maxValue: z.number(),
  data: bytes, // little-endian typed-array bytes of `dtype`
});
export type PixelFrame = z.infer<typeof PixelFrame>;
/** Frames one image.pixelsMany call asks for at most, and the decoded bytes it returns at most. */
export const MAX_PIXELS_BATCH = 8;
export const PIXELS_BATCH_BYTES = 16 * 1024 * 1024;

export { ImportFailure, ImportReport } from './imports.js';

export const LabelClass = z.object({
  id,
  name: z.string().min(1).max(200),
  color: z.string().regex(/^#[0-9a-fA-F]{6}$/),
  /** The DICOM code it is exported with: a key of SEGMENT_CODES, "local", or null (from its name). */
  code: z.enum(SEGMENT_CODE_KEYS).nullable(),
});
export type LabelClass = z.infer<typeof LabelClass>;

/**
 * How a mask write came about. 'propagate': SAM carried a mask from a neighbouring slice;
 * 'interpolate': filled between drawn slices; 'automatic': a model without prompts (the
 * headless node, or a SEG it sent back).
 */
export const MaskSource = z.enum(['brush', 'eraser', 'polygon', 'sam', 'undo', 'redo', 'import', 'propagate', 'interpolate', 'automatic']);

export const MaskRecord = z.object({
  id,
  imageId: id,
  frame: z.number().int().nonnegative(),
  labelId: id,
  instance: z.number().int().positive(),
  rle: Rle,
  area: z.number().int().nonnegative(),
  updatedAt: z.string(),
  author: z.string(),
  /** How the last write came about (MaskSource, or an older project's value). */
  source: z.string(),
  /** Proposed by propagation and not yet accepted: shown for review, never trained on or exported. */
  draft: z.boolean(),
});
export type MaskRecord = z.infer<typeof MaskRecord>;

export const AuditEntry = z.object({
  id,
  at: z.string(),
  author: z.string(),
  action: z.enum(['create', 'update', 'delete']),
  entity: z.string(),
  entityId: z.number().int(),
  detail: z.string(),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

// ---------------------------------------------------------------- SAM and models

/** An installed SAM model bundle (the project's models/ folder). */
export const ModelInfo = z.object({
  id: z.string(),
  name: z.string(),
  arch: z.string(),
  baseModel: z.string().nullable(),
  imageSize: z.number().int().positive(),
  sizeBytes: z.number().int().nonnegative(),
  /** What the bundle has (int8 first when it has it). */
  variants: z.array(z.enum(['int8', 'fp32'])),
  /** The variant SAM runs: the user's choice, or on 'auto' int8 only where it measured >= 0.98 mask IoU against fp32. */
  variant: z.enum(['int8', 'fp32']),
  variantChoice: z.enum(['auto', 'int8', 'fp32']),
  /** The exporter's measured mean mask IoU of int8 against fp32; null when not measured. */
  int8MaskIou: z.number().nullable(),
  /** Measured on this machine while it ran (the variant in use): medians of recent embeddings and clicks. */
  speed: z
    .object({
      encodeMs: z.number().nullable(),
      decodeMs: z.number().nullable(),
      encodes: z.number().int(),
      decodes: z.number().int(),
      provider: z.string().nullable(),
      updated: z.string(),
    })
    .nullable(),
  created: z.string(),
  metrics: z.record(z.unknown()),
  /** Where a model came from: set for models trained in the app (dataset snapshot, settings, gate). */
  lineage: z
    .object({
      datasetHash: z.string().nullable(),
      trainedBy: z.string().nullable(),
      parentModelId: z.string().nullable(),
      config: z.record(z.unknown()),
      gate: z.record(z.unknown()).nullable(),
    })
    .nullable(),
});
export type ModelInfo = z.infer<typeof ModelInfo>;

/** The window SAM sees the frame through (the one the viewer shows); null for 8-bit images shown as stored. */
const SamWindow = z.object({ center: z.number().finite(), width: z.number().finite().positive() }).nullable();
export const SamPoint = z.object({ x: z.number().finite(), y: z.number().finite(), label: z.union([z.literal(0), z.literal(1)]) });
export type SamPoint = z.infer<typeof SamPoint>;
export const SamBox = z.object({ x0: z.number().finite(), y0: z.number().finite(), x1: z.number().finite(), y1: z.number().finite() });
export type SamBox = z.infer<typeof SamBox>;
const samTarget = { imageId: id, frame: z.number().int().nonnegative(), window: SamWindow };

export const SamPrediction = z.object({
  /**
   * Candidates (3 with multimask, else 1), image-sized RLE, with SAM's predicted IoU. Only the
   * best one is always upsampled to the image: another may come without `rle` (null); ask
   * `sam.candidate` with its `lowRes` handle when the user shows it.
   */
  masks: z.array(z.object({ rle: Rle.nullable(), score: z.number(), lowRes: z.string() })),
  /** Index of the candidate with the highest predicted IoU. */
  best: z.number().int().nonnegative(),
  decodeMs: z.number().nonnegative(),
  /** Which decoder graph answered: a runtime bundle's fast one, or the canonical one. */
  decoder: z.enum(['fast', 'canonical']),
  /** The execution provider that ran it, e.g. "CPU" or "CPU (CUDA not available: ...)". */
  provider: z.string(),
});
export type SamPrediction = z.infer<typeof SamPrediction>;

/** The SAM prompts that produced a mask, kept with it for the audit trail. Bounded: it is stored as given. */
export const MaskPrompts = z
  .object({ points: z.array(SamPoint).max(200).optional(), box: SamBox.nullable().optional(), model: z.string().max(200).optional() })
  .strict();
export type MaskPrompts = z.infer<typeof MaskPrompts>;

// ---------------------------------------------------------------- methods

const empty = z.object({}).strict();
const maskKey = z.object({
  imageId: id,
  frame: z.number().int().nonnegative(),
  labelId: id,
  instance: z.number().int().positive(),
});

/** Each method defined once, as a value: params schema and result schema. */
export const methods = {
  'app.info': {
    params: empty,
    result: z.object({ version: z.string(), transport: z.enum(['electron', 'browser']), user: z.string() }),
  },
  'project.create': { params: z.object({ path: nonEmpty, name: z.string().max(200).optional() }).strict(), result: ProjectInfo },
  'project.open': { params: z.object({ path: nonEmpty }).strict(), result: ProjectInfo },
  'project.current': { params: empty, result: ProjectInfo.nullable() },
  /**
   * Make (or reopen) the sample project at `path` (default: Delineate/Sample project in the
   * home folder): a synthetic CT with lesions, some accepted masks and a starter model.
   */
  'project.openSample': { params: z.object({ path: nonEmpty.optional() }).strict(), result: ProjectInfo },
  'project.close': { params: empty, result: z.null() },

  /** Every image as an object: for scripts and tests. The app's browser uses images.listing. */
  'images.list': { params: empty, result: z.array(ImageSummary) },
  /** The same rows in columns (see image-listing.ts): what the browser loads, fast at 50,000 images. */
  'images.listing': { params: empty, result: ImageListing },
  /** Import files or folders (recursively) by path on the service's machine. */
  'images.importPaths': { params: z.object({ paths: z.array(nonEmpty).min(1).max(100_000) }).strict(), result: ImportReport },
  /** The same as a job (kind "import"): progress through jobs.get, stop with jobs.cancel, the report in the job when it ends. */
  'images.importStart': { params: z.object({ paths: z.array(nonEmpty).min(1).max(100_000) }).strict(), result: z.object({ jobId: z.string() }) },
  /** Import file contents sent by the renderer (browser drag-and-drop / file input). */
  'images.importFiles': {
    params: z.object({ files: z.array(z.object({ name: nonEmpty, bytes })).min(1).max(10_000) }).strict(),
    result: ImportReport,
  },
  'images.setStatus': { params: z.object({ imageId: id, status: ImageStatus }).strict(), result: z.null() },
  'image.get': { params: z.object({ imageId: id }).strict(), result: ImageDetail },
  'image.pixels': { params: z.object({ imageId: id, frame: z.number().int().nonnegative() }).strict(), result: PixelFrame },
  /**
   * Several frames in one round trip, for the viewer's prefetcher: what a request costs the
   * browser, its network service and the host is then paid once per batch, not per slice.
   * null where a frame could not be read or did not fit PIXELS_BATCH_BYTES; asking for that
   * frame alone gives the pixels or the error in words.
   */
  'image.pixelsMany': {
    params: z.object({ items: z.array(z.object({ imageId: id, frame: z.number().int().nonnegative() }).strict()).min(1).max(MAX_PIXELS_BATCH) }).strict(),
    result: z.array(PixelFrame.nullable()),
  },
  /** PNG thumbnail (longest side <= 128), windowed with the file's first window. */
  'image.thumbnail': { params: z.object({ imageId: id }).strict(), result: z.object({ png: bytes }) },

  'labels.list': { params: empty, result: z.array(LabelClass) },
  'labels.upsert': {
    /** `code` left out keeps the label's code (a new label: null, from its name). */
    params: z.object({ id: id.optional(), name: z.string().min(1).max(200), color: LabelClass.shape.color, code: LabelClass.shape.code.optional() }).strict(),
    result: LabelClass,
  },
  'labels.delete': { params: z.object({ id }).strict(), result: z.null() },

  'masks.list': { params: z.object({ imageId: id }).strict(), result: z.array(MaskRecord) },
  /** Create or replace the mask at (image, frame, label, instance). An all-zero mask deletes it. */
  'masks.save': {
    params: maskKey
      .extend({
        rle: Rle,
        source: MaskSource,
        prompts: MaskPrompts.optional(),
        /** The window the image was shown through while the mask was drawn (modality units); null for 8-bit shown as stored. */
        window: z.object({ center: z.number().finite(), width: z.number().finite().positive() }).nullable().optional(),
      })
      .strict(),
    result: z.object({ id: id.nullable(), savedAt: z.string() }),
  },
  'masks.delete': { params: maskKey.strict(), result: z.null() },

  /** Installed models, the active one (explicit choice, else the newest), and a running import. */
  'models.list': {
    params: empty,
    result: z.object({ models: z.array(ModelInfo), activeId: z.string().nullable() }),
  },
  /** Install a model: a bundle folder or an encoder + canonical decoder ONNX pair (checked and copied: seconds). */
  'models.import': {
    params: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('bundle'), path: nonEmpty }).strict(),
      z.object({ kind: z.literal('onnx'), encoder: nonEmpty, decoder: nonEmpty, name: z.string().max(200).optional() }).strict(),
      /** A model package (folder or .tar): verified against its hashes before anything is installed. */
      z.object({ kind: z.literal('package'), path: nonEmpty }).strict(),
    ]),
    result: ModelInfo,
  },
  /**
   * "Export model": the model as a deployable package in `folder` (contract/model-package.ts):
   * <folder>/<name>-<id>/ and the same as one .tar, with its card and file hashes.
   */
  'models.exportPackage': {
    params: z.object({ id: nonEmpty, folder: nonEmpty }).strict(),
    result: z.object({ folder: z.string(), archive: z.string(), files: z.number().int(), bytes: z.number().int() }),
  },
  /**
   * Convert and install an official .pth checkpoint through the Python runtime (minutes): a
   * job of kind model-import; watch it with jobs.get, stop it with jobs.cancel; its modelId
   * names the installed model.
   */
  'models.importStart': {
    params: z
      .object({
        path: nonEmpty,
        arch: z.enum(['vit_b', 'vit_l', 'vit_h', 'vit_t', 'efficientsam_ti']).optional(),
        /** Which variant to run once installed (default auto: int8 where it measures up). */
        variant: z.enum(['auto', 'int8', 'fp32']).optional(),
      })
      .strict(),
    result: z.object({ jobId: z.string() }),
  },
  'models.delete': { params: z.object({ id: nonEmpty }).strict(), result: z.null() },
  'models.setActive': { params: z.object({ id: nonEmpty.nullable() }).strict(), result: z.null() },
  /**
   * Export the masks of the series `imageId` belongs to as a DICOM Segmentation (one segment
   * per label class), written under the project's exports/ folder: a job of kind export.
   */
  'export.segStart': { params: z.object({ imageId: id }).strict(), result: z.object({ jobId: z.string() }) },
  /** Run a model as int8 or fp32, or let the app choose ('auto'). */
  'models.setVariant': { params: z.object({ id: nonEmpty, variant: z.enum(['auto', 'int8', 'fp32']) }).strict(), result: z.null() },
  /**
   * Compute (or load from the cache) the active model's embedding of a frame as the viewer
   * shows it; `next` frames are embedded afterwards in the background (next slices).
   */
  'sam.prepare': {
    params: z.object({ ...samTarget, next: z.array(z.object({ imageId: id, frame: z.number().int().nonnegative() })).max(16).optional() }).strict(),
    result: z.object({
      modelId: z.string(),
      cached: z.boolean(),
      encodeMs: z.number().nonnegative(),
      /** Set when the embedding was computed but could not be kept on disk (a full disk): it is used from memory. */
      cacheWarning: z.string().optional(),
    }),
  },
  /** Embedding progress, for the indicator: what is being computed and how much is queued. */
  'sam.status': {
    params: empty,
    result: z.object({
      modelId: z.string().nullable(),
      variant: z.enum(['int8', 'fp32']).nullable(),
      computing: z.object({ imageId: id, frame: z.number().int() }).nullable(),
      queued: z.number().int().nonnegative(),
      lastEncodeMs: z.number().nullable(),
      /** The execution providers of the last embed and click ("CPU", "CUDA", or the CPU with why a GPU was passed over); null before any. */
      encoderProvider: z.string().nullable(),
      decoderProvider: z.string().nullable(),
      decoder: z.enum(['fast', 'canonical']).nullable(),
    }),
  },
  /** The image-sized mask of a candidate that `sam.predict` returned without one (Tab to it). */
  'sam.candidate': {
    params: z.object({ imageId: id, frame: z.number().int().nonnegative(), lowRes: z.string().max(100) }).strict(),
    result: z.object({ rle: Rle }),
  },
  /** Masks for prompts; `maskInput` is the `lowRes` handle of a previous candidate (refinement). */
  'sam.predict': {
    params: z
      .object({
        ...samTarget,
        points: z.array(SamPoint).max(200),
        box: SamBox.nullable(),
        maskInput: z.string().max(100).nullable(),
        multimask: z.boolean(),
      })
      .strict(),
    result: SamPrediction,
  },

  ...trainingMethods,
  ...pacsMethods,
  ...exportMethods,
  ...pacsQueryMethods,
  ...deidentifyMethods,
  ...segmentMethods,
  ...measurementMethods,
  ...propagationMethods,

  'audit.list': {
    params: z.object({ imageId: id.optional(), limit: z.number().int().positive().max(10_000).default(200) }).strict(),
    result: z.array(AuditEntry),
  },
} as const;

export type Methods = typeof methods;
export type MethodName = keyof Methods;
export type Params<M extends MethodName> = z.input<Methods[M]['params']>;
export type ParsedParams<M extends MethodName> = z.output<Methods[M]['params']>;
export type Result<M extends MethodName> = z.output<Methods[M]['result']>;

/** What the services implement; each transport dispatches to it after validation. */
export type Handlers = { [M in MethodName]: (params: ParsedParams<M>) => Promise<Result<M>> | Result<M> };

/** The SAM methods (SAM service) and the model methods (models service); the rest are the project service's. */
export type SamMethodName = Extract<MethodName, `sam.${string}`>;
export type ModelsMethodName = Extract<MethodName, `models.${string}`>;
/** The retrain loop and its jobs (implemented by the training service). */
export type TrainingMethodName = Extract<MethodName, `training.${string}` | `jobs.${string}`>;
/** DICOM output (the export service): SEG export, PACS destinations and the outbox. */
export type ExportMethodName = Extract<MethodName, `export.${string}` | `pacs.${string}`>;
/** Composite calls wired in the composition root (they span the project and the models). */
export type CompositeMethodName = 'project.openSample';
/** Segments, their measurements and propagation: each its own service (electron/services/segments/). */
export type SegmentsMethodName = Extract<MethodName, keyof typeof segmentMethods>;
export type MeasurementsMethodName = Extract<MethodName, keyof typeof measurementMethods>;
export type PropagationMethodName = Extract<MethodName, keyof typeof propagationMethods>;
export type SegmentsHandlers = Pick<Handlers, SegmentsMethodName>;
export type MeasurementsHandlers = Pick<Handlers, MeasurementsMethodName>;
export type PropagationHandlers = Pick<Handlers, PropagationMethodName>;
export type ProjectHandlers = Omit<
  Handlers,
  SamMethodName | ModelsMethodName | TrainingMethodName | ExportMethodName | CompositeMethodName | SegmentsMethodName | MeasurementsMethodName | PropagationMethodName
>;
/** PACS query/retrieve (the retrieve service): pacs.query, pacs.retrieveStart. */
export type PacsQueryMethodName = Extract<MethodName, keyof typeof pacsQueryMethods>;
export type ExportHandlers = Pick<Handlers, Exclude<ExportMethodName, PacsQueryMethodName | MeasurementsMethodName>>;
export type PacsQueryHandlers = Pick<Handlers, PacsQueryMethodName>;
export type SamHandlers = Pick<Handlers, SamMethodName>;
export type ModelsHandlers = Pick<Handlers, ModelsMethodName>;
export type TrainingHandlers = Pick<Handlers, TrainingMethodName>;

/** What the renderer calls. One function, typed by method name. */
export interface DelineateApi {
  call<M extends MethodName>(method: M, params: Params<M>): Promise<Result<M>>;
}

export const methodNames = Object.keys(methods) as MethodName[];

export function isMethodName(name: unknown): name is MethodName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(methods, name);
}

// ---------------------------------------------------------------- errors as data

export const ErrorCode = z.enum(['bad_request', 'not_found', 'no_project', 'conflict', 'schema_too_new', 'io', 'internal']);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const ApiErrorShape = z.object({
  code: ErrorCode,
  message: z.string(),
  /** The file or record the error is about, when there is one. */
  file: z.string().optional(),
});
export type ApiErrorShape = z.infer<typeof ApiErrorShape>;

/** Thrown by services; carried across transports as `ApiErrorShape`; rethrown as ApiError on the caller side. */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly file?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
  toShape(): ApiErrorShape {
    return this.file === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, file: this.file };
  }
  static from(e: unknown): ApiError {
    if (e instanceof ApiError) return e;
    const parsed = ApiErrorShape.safeParse(e);
    if (parsed.success) return new ApiError(parsed.data.code, parsed.data.message, parsed.data.file);
    return new ApiError('internal', e instanceof Error ? e.message : String(e));
  }
}

/** Validate an incoming request at the receiver. Throws ApiError('bad_request') naming what is wrong. */
export function parseRequest<M extends MethodName>(method: unknown, params: unknown): { method: M; params: ParsedParams<M> } {
  if (!isMethodName(method)) throw new ApiError('bad_request', `Unknown method: ${JSON.stringify(method)?.slice(0, 100)}`);
  const r = methods[method].params.safeParse(params ?? {});
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(params)'}: ${i.message}`).join('; ');
    throw new ApiError('bad_request', `Invalid params for ${method}: ${issues}`);
  }
  return { method: method as M, params: r.data as ParsedParams<M> };
}
