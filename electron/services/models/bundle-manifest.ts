/**
 * model.json of a model bundle (written by python-runtime/delineate_runtime/export/manifest.py),
 * the part the app reads. Runtime: pure.
 *
 * Unknown fields pass through (the Python side may add some); the ones we rely on are checked.
 */
import { z } from 'zod';
import type { ModelFiles } from '../inference/sam-engine.node.js';

export const MANIFEST_NAME = 'model.json';
export const FORMAT_VERSION = 1;

const TensorSpec = z.object({ name: z.string(), dtype: z.string(), shape: z.array(z.union([z.number(), z.string()])) });
const OnnxFile = z.object({ file: z.string().min(1), inputs: z.array(TensorSpec), outputs: z.array(TensorSpec), opset: z.number().int() }).passthrough();
const QuantizedFile = z.object({ file: z.string().min(1), method: z.enum(['dynamic', 'static']) }).passthrough();
/** decoder.fast.onnx: the canonical decoder rearranged for speed, with its measured parity. */
const FastDecoderFile = OnnxFile.extend({ parity: z.object({ mask_iou_min: z.number() }).passthrough() });
/** A fast decoder is used only when it agreed with the canonical one this well (thresholded masks). */
export const FAST_DECODER_MIN_IOU = 0.999;

export const BundleManifest = z
  .object({
    format_version: z.number().int().positive(),
    created: z.string(),
    runtime_version: z.string(),
    architecture: z.record(z.unknown()),
    preprocessing: z
      .object({
        image_size: z.number().int().positive(),
        pixel_mean: z.array(z.number()).length(3),
        pixel_std: z.array(z.number().positive()).length(3),
      })
      .passthrough(),
    encoder: OnnxFile,
    decoder: OnnxFile,
    encoder_int8: QuantizedFile.nullable().optional(),
    decoder_int8: QuantizedFile.nullable().optional(),
    decoder_fast: FastDecoderFile.nullable().optional(),
    checkpoint: z.string().optional(),
    base_model: z.string().nullable().optional(),
    dataset_hash: z.string().nullable().optional(),
    metrics: z.record(z.unknown()).default({}),
    parity: z.record(z.unknown()).default({}),
    files: z.record(z.object({ bytes: z.number().int().nonnegative(), sha256: z.string() })).default({}),
  })
  .passthrough();
export type BundleManifest = z.infer<typeof BundleManifest>;

export type Variant = 'int8' | 'fp32';

/** Parse model.json text; throws an Error whose message lists what is wrong. */
export function parseManifest(text: string, where: string): BundleManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${where}: not valid JSON (${(e as Error).message})`);
  }
  const version = (raw as { format_version?: unknown } | null)?.format_version;
  if (typeof version === 'number' && version > FORMAT_VERSION) {
    throw new Error(`${where}: format_version ${version} is newer than this app reads (${FORMAT_VERSION}); update Delineate`);
  }
  const r = BundleManifest.safeParse(raw);
  if (!r.success) throw new Error(`${where}: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return r.data;
}

/** Which variants a bundle has (int8 first when present). */
export function variantsOf(m: BundleManifest): Variant[] {
  return m.encoder_int8 && m.decoder_int8 ? ['int8', 'fp32'] : ['fp32'];
}

/** int8 runs on its own only where its masks matched fp32's this well (mean mask IoU). */
export const INT8_MIN_MASK_IOU = 0.98;

/** The mean mask IoU of the int8 pair against fp32 that the exporter measured; null: not measured. */
export function int8MaskIou(m: BundleManifest): number | null {
  const v = (m.parity.int8_vs_fp32 as { mask_iou_mean?: unknown } | undefined)?.mask_iou_mean;
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export type VariantChoice = Variant | 'auto';

/**
 * The variant a model runs: the user's choice when the bundle has it; on 'auto', int8 (faster
 * on a CPU) only when the bundle has it and its masks were measured to agree with fp32's
 * (>= INT8_MIN_MASK_IOU), else fp32. An unmeasured int8 is not trusted by default.
 */
export function variantToRun(m: BundleManifest, choice: VariantChoice): Variant {
  const has = variantsOf(m);
  if (choice !== 'auto') return has.includes(choice) ? choice : 'fp32';
  const iou = int8MaskIou(m);
  return has.includes('int8') && iou !== null && iou >= INT8_MIN_MASK_IOU ? 'int8' : 'fp32';
}

export function modelFiles(dir: string, m: BundleManifest, variant: Variant, key: string, join: (...p: string[]) => string): ModelFiles {
  const int8 = variant === 'int8' && m.encoder_int8 && m.decoder_int8;
  // The fast decoder is fp32 and serves both variants: it is faster than the canonical int8
  // decoder and keeps fp32's masks.
  const fast = m.decoder_fast && m.decoder_fast.parity.mask_iou_min >= FAST_DECODER_MIN_IOU ? m.decoder_fast.file : null;
  return {
    key: `${key}:${int8 ? 'int8' : 'fp32'}`,
    encoder: join(dir, int8 ? m.encoder_int8!.file : m.encoder.file),
    decoder: join(dir, int8 ? m.decoder_int8!.file : m.decoder.file),
    ...(fast ? { fastDecoder: join(dir, fast) } : {}),
    ...(m.architecture.decoder_kind === 'efficient_sam' ? { promptPoints: EFFICIENT_SAM_PROMPT_POINTS } : {}),
    preprocessing: { image_size: m.preprocessing.image_size, pixel_mean: m.preprocessing.pixel_mean, pixel_std: m.preprocessing.pixel_std },
  };
}

/**
 * EfficientSAM pads every prompt to six points with its invalid-point token (a box counts as
 * two), and its decoder was trained on prompts so padded; SAM adds one padding point only
 * without a box. delineate_runtime/models/efficient_sam.py maps the token onto SAM's.
 */
export const EFFICIENT_SAM_PROMPT_POINTS = 6;
