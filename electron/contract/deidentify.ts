/**
 * A de-identified copy of a series or study, for sharing outside the hospital: the source
 * images and their SEGs, through DICOM PS3.15's Basic Application Level Confidentiality
 * Profile, with UIDs replaced consistently (python-runtime/delineate_dicom/deid.py).
 * Runtime: pure.
 */
import { z } from 'zod';
import { absolutePath } from './pacs.js';

const id = z.number().int().positive();

export const deidentifyMethods = {
  /**
   * Write a de-identified copy of the series (or the whole study) `imageId` belongs to into
   * `folder` (absolute; made if missing): every source image, and a SEG of each series that
   * has masks (exported as export.segStart does, or that export reused). A job of kind
   * export; its detail says what was written where.
   */
  'export.deidentifiedStart': {
    params: z.object({ imageId: id, scope: z.enum(['series', 'study']), folder: absolutePath }).strict(),
    result: z.object({ jobId: z.string() }),
  },
} as const;
