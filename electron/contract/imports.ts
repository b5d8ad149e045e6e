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
  /** write_failed: the file was readable but could not be stored (disk full, database error); nothing of it was kept. */
  code: z.enum(['not_dicom', 'truncated', 'no_pixel_data', 'unsupported_syntax', 'unreadable', 'unsupported_format', 'write_failed']),
  /** A plain sentence: what is wrong with the file. */
  reason: z.string(),
  /** Technical detail (parser or codec message, tag, byte offset) for whoever digs further. */
  detail: z.string().optional(),
});
export type ImportFailure = z.infer<typeof ImportFailure>;

export const ImportReport = z.object({
  imported: z.array(z.object({ file: z.string(), imageId: id })),
  duplicates: z.array(z.object({ file: z.string(), imageId: id })),
  failed: z.array(ImportFailure),
  /** Imported, but the file is not quite what it says (a bad header value the data overrides, a mislabelled encoding). */
  warnings: z.array(z.object({ file: z.string(), imageId: id, message: z.string() })),
  /** Files not looked at because the import was cancelled (an import job). */
  cancelled: z.number().int().nonnegative(),
  elapsedMs: z.number().nonnegative(),
});
export type ImportReport = z.infer<typeof ImportReport>;
