/** Why a file cannot be imported or read, as a code the import report shows. Runtime: pure. */
import type { ImportFailure } from '../../contract/api.js';

export type ProblemCode = ImportFailure['code'];

export class FileProblem extends Error {
  constructor(
    readonly code: ProblemCode,
    message: string,
  ) {
    super(message);
    this.name = 'FileProblem';
  }
}
