/**
 * Measurements per segment (areas, volume, RECIST axes, HU statistics), CSV and DICOM SR; owned by the measurements service.
 * Runtime: pure (bundled into the renderer).
 */
import { z } from 'zod';

export const measurementMethods = {} as const satisfies Record<string, { params: z.ZodTypeAny; result: z.ZodTypeAny }>;
