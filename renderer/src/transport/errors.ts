/**
 * Turning transport failures into ApiError, and checking results against the contract.
 * Runtime: pure (renderer and Node tests).
 */
import { ApiError, ApiErrorShape, methods, type MethodName } from '../../../electron/contract/api.js';

/** Parse an error body from the other side; anything that is not an ApiErrorShape becomes 'internal'. */
export function errorFromShape(body: unknown, fallback: string): ApiError {
  const parsed = ApiErrorShape.safeParse(body);
  return parsed.success ? ApiError.from(parsed.data) : new ApiError('internal', fallback);
}

/** Validate a result against the method's schema (used in development builds and tests). */
export function checkResult(method: MethodName, result: unknown): unknown {
  const r = methods[method].result.safeParse(result);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(result)'}: ${i.message}`).join('; ');
    throw new ApiError('internal', `Service returned an invalid result for ${method}: ${issues}`);
  }
  return r.data;
}
