/**
 * What an import reports, file by file: shared by the held import calls and the import jobs
 * of the jobs API (contract/training.ts), so it lives apart from both.
 *
 * Runtime: pure (zod only).
 */
import { z } from 'zod';

const id = z.number().int().positive();

export const ImportFailure = z.object({
  file: z.string(),
  /**
   * write_failed: the file was readable but could not be stored (disk full, database error); nothing of it was kept.
   * seg_sources_missing: a DICOM Segmentation none of whose source images is in the project (import the series, then the SEG again).
   */
  code: z.enum(['not_dicom', 'truncated', 'no_pixel_data', 'unsupported_syntax', 'unreadable', 'unsupported_format', 'write_failed', 'seg_sources_missing']),
  /** A plain sentence: what is wrong with the file. */
  reason: z.string(),
  /** Technical detail (parser or codec message, tag, byte offset) for whoever digs further. */
  detail: z.string().optional(),
});
export type ImportFailure = z.infer<typeof ImportFailure>;

/**
 * A DICOM Segmentation met by an import: not an image, its segments are attached as masks
 * to the project's source images (importer/seg-import*.ts). One entry per SEG file that
 * found at least one of its source images; one that found none, or could not be read, is
 * in `failed` instead.
 */
export const SegmentationImport = z.object({
  file: z.string(),
  sopInstanceUid: z.string().nullable(),
  /** attached: masks were written; unchanged: the project already had every one of them; kept: none written, see `kept`. */
  outcome: z.enum(['attached', 'unchanged', 'kept']),
  /** Masks written (new, or replacing an automatic one). */
  written: z.number().int().nonnegative(),
  /** Masks the project already had, pixel for pixel. */
  unchanged: z.number().int().nonnegative(),
  /** Masks not written because a person drew or corrected a mask there, or its segment is locked (never overwritten). */
  kept: z.number().int().nonnegative(),
  /** SEG frames whose source image is not in the project (import its series, then the SEG again). */
  missing: z.number().int().nonnegative(),
  /** SEG frames whose size differs from their source image's: not attached. */
  mismatched: z.number().int().nonnegative(),
  /** The source the masks were written with: 'automatic' (segments the SEG says are AUTOMATIC), 'import', or 'mixed'. */
  source: z.enum(['automatic', 'import', 'mixed']),
  /** The images that received masks, and the labels they went to (created when missing). */
  imageIds: z.array(id),
  labels: z.array(z.string()),
  /** A plain sentence saying what happened. */
  message: z.string(),
});
export type SegmentationImport = z.infer<typeof SegmentationImport>;

export const ImportReport = z.object({
  imported: z.array(z.object({ file: z.string(), imageId: id })),
  duplicates: z.array(z.object({ file: z.string(), imageId: id })),
  failed: z.array(ImportFailure),
  /** Imported, but the file is not quite what it says (a bad header value the data overrides, a mislabelled encoding). */
  warnings: z.array(z.object({ file: z.string(), imageId: id, message: z.string() })),
  /** Files not looked at because the import was cancelled (an import job). */
  cancelled: z.number().int().nonnegative(),
  /** DICOM Segmentations attached to the project's images (absent in reports written before SEG import). */
  segmentations: z.array(SegmentationImport).optional(),
  elapsedMs: z.number().nonnegative(),
});
export type ImportReport = z.infer<typeof ImportReport>;
