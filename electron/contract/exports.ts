/**
 * Exports besides the SEG: RTSTRUCT of a DICOM series and a COCO folder of non-DICOM images,
 * each a job like export.segStart. Runtime: pure.
 */
import { z } from 'zod';

const id = z.number().int().positive();

/** What exportCoco wrote (the job's `exported` carries it as kind "coco"). */
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
  /** The export's content UID (2.25...), which its annotations.json names too. */
  uid: z.string(),
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
   * project (no imageId), as a COCO folder: annotations.json (compressed RLE) + PNG label
   * masks. A job of kind export: progress in images, cancel through jobs.cancel.
   */
  'export.cocoStart': { params: z.object({ imageId: id.optional() }).strict(), result: z.object({ jobId: z.string() }) },
} as const;
