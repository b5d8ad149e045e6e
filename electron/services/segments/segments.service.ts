/**
 * The segment list: every lesion or defect (label + instance) of a series with how it is
 * shown (name, colour, hidden, locked), deleted and restored as a whole. Runtime: node.
 */
import type { SegmentsHandlers } from '../../contract/api.js';
import type { ProjectService } from '../project.service.js';

export class SegmentsService implements SegmentsHandlers {
  constructor(
    private readonly project: ProjectService,
    private readonly opts: { user: string },
  ) {}
}
