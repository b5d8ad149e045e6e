/**
 * Segment list: list, show/hide, rename, recolour, lock, delete and restore (undo) segments; owned by the segments service.
 * Runtime: pure (bundled into the renderer).
 */
import { z } from 'zod';

export const segmentMethods = {} as const satisfies Record<string, { params: z.ZodTypeAny; result: z.ZodTypeAny }>;
