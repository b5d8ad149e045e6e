/**
 * Carrying a mask through the slices (SAM propagation as a job), fill between slices, and reviewing drafts; owned by the propagation service.
 * Runtime: pure (bundled into the renderer).
 */
import { z } from 'zod';

export const propagationMethods = {} as const satisfies Record<string, { params: z.ZodTypeAny; result: z.ZodTypeAny }>;
