/**
 * HTTP status for each contract error code. Runtime: pure.
 */
import type { ErrorCode } from '../contract/api.js';

const STATUS: Readonly<Record<ErrorCode, number>> = {
  bad_request: 400,
  not_found: 404,
  no_project: 409,
  conflict: 409,
  schema_too_new: 409,
  io: 500,
  internal: 500,
};

export function httpStatusFor(code: ErrorCode): number {
  return STATUS[code];
}
