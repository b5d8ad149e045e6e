/**
 * A send in the jobs API: every outbox item is also a job of kind "send" (id send-<item id>),
 * whose state follows the item's, so sends are listed, watched and cancelled like every other
 * long piece of work. The outbox row stays the truth (retries, backoff, restarts); this is its
 * view. Runtime: pure.
 */
import type { OutboxItem } from '../../contract/pacs.js';
import type { JobInfo, JobState, TrainingStage } from '../../contract/training.js';

export const sendJobId = (itemId: number): string => `send-${itemId}`;

/** The outbox item a send job stands for, or null for another job id. */
export function itemOfSendJob(jobId: string): number | null {
  const m = /^send-(\d+)$/.exec(jobId);
  return m ? Number(m[1]) : null;
}

export function sendJobView(it: OutboxItem): { state: JobState; stage: TrainingStage; detail: string; error: JobInfo['error'] } {
  const what = `${it.description} to ${it.destinationName}`;
  switch (it.state) {
    case 'queued':
      return { state: 'running', stage: 'queued', detail: `Queued: ${what}`, error: null };
    case 'sending':
      return { state: 'running', stage: 'sending', detail: `Sending ${what}`, error: null };
    case 'sent':
      return { state: 'succeeded', stage: 'done', detail: `Sent ${what}`, error: null };
    case 'failed':
      // A failed item with a retry time is still under way: the outbox tries it again by itself.
      return it.nextAttemptAt
        ? { state: 'running', stage: 'waiting', detail: `Not sent yet (${it.lastError ?? 'no answer'}); trying again at ${it.nextAttemptAt}`, error: null }
        : { state: 'failed', stage: 'done', detail: it.lastError ?? `${what} failed`, error: { code: 'send_failed', message: it.lastError ?? `${what} failed`, file: it.file } };
  }
}
