/**
 * A deployable model package: what a fine-tuned model leaves the app as, for a hospital to
 * run next to its PACS (the headless node) or for another Delineate to install. Runtime: pure.
 *
 * Layout (a folder, and the same folder as one .tar archive):
 *
 *   delineate-package.json   this manifest: what the model is, its labels, its card, and the
 *                            size and SHA-256 of every other file
 *   MODEL_CARD.md            the card for people
 *   model/                   the ONNX bundle: model.json, encoder/decoder fp32 and int8, the
 *                            fast decoder (no PyTorch checkpoint: a package runs, it does not train)
 *
 * `package_version` says which layout this is; a reader refuses a newer one by name, and a
 * package whose files do not match their hashes, naming the file.
 */
import { z } from 'zod';

export const PACKAGE_FORMAT = 'delineate-model-package';
export const PACKAGE_VERSION = 1;
export const PACKAGE_MANIFEST = 'delineate-package.json';
export const PACKAGE_CARD = 'MODEL_CARD.md';
export const PACKAGE_MODEL_DIR = 'model';

const Code = z.object({ scheme: z.string(), value: z.string(), meaning: z.string() });
const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
/** A path inside the package: forward slashes, no absolute paths, no "..". */
const InsidePath = z
  .string()
  .min(1)
  .max(500)
  .refine((p) => !p.startsWith('/') && !/^[A-Za-z]:/.test(p) && !p.split(/[\\/]/).includes('..') && !p.includes('\\'), 'a relative path inside the package');

/** The runtime evaluation's name for the prompt-free mode the headless node runs (evaluate.py MODES). */
export const PROMPT_FREE_MODE = 'auto';

export const PackageManifest = z.object({
  format: z.literal(PACKAGE_FORMAT),
  package_version: z.number().int().positive(),
  name: z.string().min(1).max(200),
  /** The model's id in the project it came from: a package of the same model has the same version. */
  version: z.string().min(1).max(200),
  created: z.string(),
  created_by: z.string(),
  app_version: z.string(),
  model: z.object({
    architecture: z.record(z.unknown()),
    /** The model's input: SAM's longest-side resize and padding to image_size, after the window. */
    preprocessing: z.record(z.unknown()),
    /** How an image is windowed before SAM sees it: as the app showed it when the labels were drawn. */
    window: z.string(),
    /**
     * The window the training images agreed on, in absolute units (CT), which the node renders
     * every slice of that modality through; absent or null: each file's stored window.
     * Optional, so packages written before it read as they did.
     */
    fixed_window: z
      .object({ center: z.number().finite(), width: z.number().finite().positive(), modality: z.string().min(1).max(16) })
      .strict()
      .nullable()
      .optional(),
    variants: z.array(z.enum(['int8', 'fp32'])).min(1),
    /** The variant to run when nothing else is said: int8 where it measured up against fp32. */
    default_variant: z.enum(['int8', 'fp32']),
    /** Prompt modes it was evaluated with (the runtime's names: click1, click3, box, and PROMPT_FREE_MODE). */
    prompt_modes: z.array(z.string()),
    manifest: InsidePath,
  }),
  labels: z.array(z.object({ name: z.string(), color: z.string(), category: Code, type: Code })),
  card: z.object({
    base_model: z.string().nullable(),
    trained_by: z.string().nullable(),
    trained_at: z.string().nullable(),
    training: z
      .object({
        dataset_hash: z.string(),
        images: z.number().int().nonnegative(),
        annotations: z.number().int().nonnegative(),
        train_images: z.number().int().nonnegative(),
        validation_images: z.number().int().nonnegative(),
        studies: z.number().int().nonnegative(),
        modalities: z.array(z.string()),
        split_by: z.string().nullable(),
      })
      .nullable(),
    /** Validation Dice per prompt mode and label, before and after fine-tuning (the gate's evaluation). */
    metrics: z.array(z.object({ mode: z.string(), label: z.string(), n: z.number(), before: z.number(), after: z.number() })),
    gate: z.record(z.unknown()).nullable(),
    parity: z.record(z.unknown()),
    intended_use: z.string(),
    limits: z.array(z.string()),
  }),
  files: z.record(InsidePath, z.object({ bytes: z.number().int().nonnegative(), sha256 })),
});
export type PackageManifest = z.infer<typeof PackageManifest>;
