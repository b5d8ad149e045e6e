/**
 * Carrying a mask through the slices with SAM (a job: progress, cancel), filling between
 * drawn slices, and accepting or discarding the drafts both produce. Runtime: node.
 */
import type { PropagationHandlers } from '../../contract/api.js';
import type { SamService } from '../inference/sam.service.js';
import type { ProjectService } from '../project.service.js';

export class PropagationService implements PropagationHandlers {
  constructor(
    private readonly project: ProjectService,
    private readonly sam: SamService,
    private readonly opts: { user: string },
  ) {}
}
