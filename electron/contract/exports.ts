/**
 * Exports besides the SEG: RTSTRUCT of a DICOM series (a job, like export.segStart) and a
 * COCO folder of non-DICOM images (a direct call: no Python, seconds). Runtime: pure.
 */
import { z } from 'zod';

const id = z.number().int().positive();

export const CocoExportResult = z.object({
  /** The folder written, relative to the project folder (annotations.json, masks/, images/). */
  folder: z.string(),
  /** COCO images (one per image, or per frame of a multi-page image) and annotations (one per mask instance). */
  images: z.number().int(),
  annotations: z.number().int(),
  categories: z.number().int(),
  version: z.number().int(),
  /** True when these masks had been exported already: nothing new was written. */
  reused: z.boolean(),
});
export type CocoExportResult = z.infer<typeof CocoExportResult>;

export const exportMethods = {
  /**
   * Export the masks of the DICOM series `imageId` belongs to as an RT Structure Set (one ROI
   * per label class, contours along pixel edges in patient coordinates): a job of kind export.
   */
  'export.rtstructStart': { params: z.object({ imageId: id }).strict(), result: z.object({ jobId: z.string() }) },
  /**
   * Export the masks of a non-DICOM image (`imageId`), or of every non-DICOM image of the
   * project (no imageId), as a COCO folder: annotations.json (compressed RLE) + PNG label masks.
   */
  'export.coco': { params: z.object({ imageId: id.optional() }).strict(), result: CocoExportResult },
} as const;
