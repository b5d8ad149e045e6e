/**
 * The project's SAM models as last listed (models.list): one copy for the model manager and
 * the training panel, so both show the same active model and names. Also the .pth import
 * running now (a model-import job), so its progress survives the panel being folded.
 *
 * Runtime: renderer (Svelte runes).
 */
import { api } from '../transport';
import type { ModelInfo } from '../../../electron/contract/api';
import type { JobInfo } from '../../../electron/contract/training';
import { watchJob } from '../lib/watchJob';

export type VariantChoice = 'auto' | 'int8' | 'fp32';

export class ModelsList {
  models = $state.raw<ModelInfo[]>([]);
  /** null until listed, or when the project has no model. */
  activeId = $state<string | null>(null);
  /** The checkpoint import job being watched, as last read. */
  importJob = $state.raw<JobInfo | null>(null);
  names = $derived(Object.fromEntries(this.models.map((m) => [m.id, m.name])) as Record<string, string>);

  async refresh(report: (e: unknown) => void): Promise<void> {
    try {
      const r = await api.call('models.list', {});
      this.models = r.models;
      this.activeId = r.activeId;
    } catch (e) {
      report(e);
    }
  }

  /**
   * Convert and install a .pth as a job, watching it until it ends; resolves with the job as it
   * ended (succeeded with its modelId, failed with its error, or cancelled).
   */
  async importCheckpoint(path: string, variant: VariantChoice): Promise<JobInfo> {
    const { jobId } = await api.call('models.importStart', { path, variant });
    try {
      return await watchJob(jobId, (j) => (this.importJob = j), 500);
    } finally {
      this.importJob = null;
    }
  }

  async cancelImport(): Promise<void> {
    const j = this.importJob;
    if (j) this.importJob = await api.call('jobs.cancel', { jobId: j.id });
  }

  /** Project closed or switched: nothing is known until the next listing. */
  clear(): void {
    this.models = [];
    this.activeId = null;
    this.importJob = null;
  }
}

export const modelsList = new ModelsList();
