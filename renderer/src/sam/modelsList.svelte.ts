/**
 * The project's SAM models as last listed (models.list): one copy for the model manager and
 * the training panel, so both show the same active model and names.
 *
 * Runtime: renderer (Svelte runes).
 */
import { api } from '../transport';
import type { ModelInfo } from '../../../electron/contract/api';

export type ModelImportProgress = { stage: string; step: number | null; steps: number | null; file: string };

export class ModelsList {
  models = $state.raw<ModelInfo[]>([]);
  /** null until listed, or when the project has no model. */
  activeId = $state<string | null>(null);
  importing = $state.raw<ModelImportProgress | null>(null);
  names = $derived(Object.fromEntries(this.models.map((m) => [m.id, m.name])) as Record<string, string>);

  async refresh(report: (e: unknown) => void): Promise<void> {
    try {
      const r = await api.call('models.list', {});
      this.models = r.models;
      this.activeId = r.activeId;
      this.importing = r.importing;
    } catch (e) {
      report(e);
    }
  }

  /** Project closed or switched: nothing is known until the next listing. */
  clear(): void {
    this.models = [];
    this.activeId = null;
    this.importing = null;
  }
}

export const modelsList = new ModelsList();
