/**
 * The training environment as the training service sees it: the runtime's python (built on
 * first use, with progress) and a fast readiness check for the plan. Runtime: node.
 */
import { findPython, pythonEnvStatus } from '../runtime/python-path.node.js';
import type { TrainingEnvironment } from './training.service.js';

/**
 * `env`: extra environment for the runtime process; `where`: another lock file or
 * environments folder (tests of the failure path).
 */
export function pythonTrainingEnvironment(env?: Record<string, string>, where: { lock?: string; root?: string } = {}): TrainingEnvironment {
  return {
    python: (onProgress, signal) =>
      findPython({
        build: true,
        signal,
        ...where,
        onProgress: (p) => onProgress(p.steps ? `Preparing the Python environment (step ${p.step}/${p.steps}): ${p.message}` : `Preparing the Python environment: ${p.message}`),
      }),
    status: () => pythonEnvStatus(where),
    ...(env ? { env } : {}),
  };
}
