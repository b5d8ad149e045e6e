/**
 * Why a file cannot be imported or read: a code the import report groups by, a sentence a
 * radiologist can act on, and the technical detail for whoever digs further. Runtime: pure.
 */
import type { ImportFailure } from '../../contract/api.js';

export type ProblemCode = ImportFailure['code'];

export class FileProblem extends Error {
  constructor(
    readonly code: ProblemCode,
    /** Plain words: what is wrong with the file and, where it helps, what to do. */
    message: string,
    /** Parser or codec text, tag numbers, byte offsets. */
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'FileProblem';
  }
}
