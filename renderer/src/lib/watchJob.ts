/**
 * Follow a job of the services (jobs.get) until it ends: every reading goes to `onUpdate`
 * (progress for the UI); resolves with the job as it ended. Runtime: renderer.
 */
import { api } from '../transport';
import { jobIsLive, type JobInfo } from '../../../electron/contract/training';

export async function watchJob(jobId: string, onUpdate: (j: JobInfo) => void, intervalMs = 300): Promise<JobInfo> {
  for (;;) {
    const j = await api.call('jobs.get', { jobId });
    onUpdate(j);
    if (!jobIsLive(j.state)) return j;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
