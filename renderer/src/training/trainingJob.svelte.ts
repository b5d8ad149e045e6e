/**
 * The retrain loop's state in the renderer: the job being watched (polled every 700 ms while
 * it runs) and the model choice after it ends (keep / switch back / use anyway).
 *
 * Runtime: browser (Svelte runes).
 */
import { api } from '../transport';
import type { JobInfo, TrainingSettings } from '../../../electron/contract/training';
import { modelsList } from '../sam/modelsList.svelte';
import { samSession } from '../sam/samSession.svelte';
import { workspace } from '../state/workspace.svelte';
import { isActive, showOnOpen, EMPTY_FORM, type AdvancedForm } from './format';

const POLL_MS = 700;
/** Consecutive failed polls before the error is shown and polling stops. */
const MAX_POLL_FAILURES = 3;

export class TrainingJobs {
  /** The run shown in the training panel (null: none). */
  job = $state.raw<JobInfo | null>(null);
  /** The panel was closed by the user (the job is still known; the tools panel can show it again). */
  dismissed = $state(false);
  collapsed = $state(false);
  /** The Advanced settings as last typed (kept between openings of the dialog). */
  form = $state<AdvancedForm>({ ...EMPTY_FORM });
  busy = $state(false);

  private timer: ReturnType<typeof setTimeout> | null = null;
  private generation = 0;
  private failures = 0;

  constructor(private readonly report: (e: unknown) => void) {}

  get visible(): boolean {
    return this.job !== null && !this.dismissed;
  }

  get running(): boolean {
    return this.job !== null && isActive(this.job.state);
  }

  /** On opening a project: show the newest run if it is still going or can be resumed. */
  async attachLatest(): Promise<void> {
    this.reset();
    const gen = this.generation;
    try {
      const jobs = await api.call('jobs.list', {});
      if (gen !== this.generation) return;
      const j = jobs.find((x) => x.kind === 'training'); // newest first; imports are jobs too
      if (j && showOnOpen(j)) this.show(j);
    } catch (e) {
      this.report(e);
    }
  }

  /** Forget everything (project closed or switched). */
  reset(): void {
    this.stop();
    this.generation++;
    this.job = null;
    this.dismissed = false;
    this.collapsed = false;
    modelsList.clear();
  }

  /** Watch `jobId` from now on (a new run, a resumed one, or one found running). */
  async watch(jobId: string): Promise<void> {
    this.stop();
    const gen = ++this.generation;
    this.dismissed = false;
    this.collapsed = false;
    try {
      const j = await api.call('jobs.get', { jobId });
      if (gen === this.generation) this.show(j);
    } catch (e) {
      this.report(e);
    }
  }

  private show(j: JobInfo): void {
    this.job = j;
    this.dismissed = false;
    this.failures = 0;
    if (isActive(j.state)) this.schedule(this.generation);
    else void this.ended(j, false);
  }

  private schedule(gen: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.poll(gen), POLL_MS);
  }

  private stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async poll(gen: number): Promise<void> {
    this.timer = null;
    const id = this.job?.id;
    if (!id || gen !== this.generation) return;
    let j: JobInfo;
    try {
      j = await api.call('jobs.get', { jobId: id });
    } catch (e) {
      if (gen !== this.generation) return;
      if (++this.failures >= MAX_POLL_FAILURES) this.report(e);
      else this.schedule(gen);
      return;
    }
    if (gen !== this.generation) return;
    this.failures = 0;
    const was = this.job;
    this.job = j;
    if (isActive(j.state)) this.schedule(gen);
    else void this.ended(j, was !== null && isActive(was.state));
  }

  /** A run ended (`live`: we saw it end now, so a model it activated must reach the SAM tool). */
  private async ended(j: JobInfo, live: boolean): Promise<void> {
    if (j.state === 'succeeded' && j.outcome?.modelId) {
      if (live && j.outcome.activated) samSession.modelChanged();
      await modelsList.refresh(this.report);
    }
  }

  async start(settings: TrainingSettings): Promise<boolean> {
    this.busy = true;
    try {
      const { jobId } = await api.call('training.start', { settings });
      await this.watch(jobId);
      return true;
    } catch (e) {
      this.report(e);
      return false;
    } finally {
      this.busy = false;
    }
  }

  async cancel(): Promise<void> {
    const id = this.job?.id;
    if (!id) return;
    try {
      const j = await api.call('jobs.cancel', { jobId: id });
      if (this.job?.id === id) this.job = j;
    } catch (e) {
      this.report(e);
    }
  }

  async resume(): Promise<void> {
    const id = this.job?.id;
    if (!id) return;
    this.busy = true;
    try {
      const r = await api.call('training.resume', { jobId: id });
      await this.watch(r.jobId);
    } catch (e) {
      this.report(e);
    } finally {
      this.busy = false;
    }
  }

  /** Make `id` the active SAM model (Switch back / Use it anyway / Use the new model). */
  async useModel(id: string): Promise<void> {
    this.busy = true;
    try {
      await api.call('models.setActive', { id });
      samSession.modelChanged();
      await modelsList.refresh(this.report);
    } catch (e) {
      this.report(e);
    } finally {
      this.busy = false;
    }
  }

  dismiss(): void {
    if (!this.running) this.dismissed = true;
  }
}

export const training = new TrainingJobs((e) => workspace.report(e));
