/**
 * Measurements per segment in patient units (geometry.ts): areas, volume, RECIST axes, HU
 * statistics; CSV and DICOM SR. Runtime: node.
 */
import type { MeasurementsHandlers } from '../../contract/api.js';
import type { ProjectService } from '../project.service.js';

export class MeasurementsService implements MeasurementsHandlers {
  constructor(
    private readonly project: ProjectService,
    private readonly opts: { user: string; appVersion: string },
  ) {}
}
