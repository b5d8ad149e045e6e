/** A send's job, as the outbox item's state reads in the jobs API (every state of the item). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OutboxItem } from '../../../electron/contract/pacs.js';
import { itemOfSendJob, sendJobId, sendJobView } from '../../../electron/services/dicom-export/send-job.js';

const item = (over: Partial<OutboxItem>): OutboxItem => ({
  id: 7, destinationId: 'pacs', destinationName: 'Hospital PACS', file: 'exports/seg/x.dcm', sopInstanceUid: '2.25.1', description: 'SEG v2 of AXIAL',
  state: 'queued', attempts: 0, lastError: null, nextAttemptAt: null, createdAt: '2026-12-02T00:00:00Z', sentAt: null, afterId: null, ...over,
});

test('each outbox state reads as a job state with a sentence', () => {
  assert.deepEqual(sendJobView(item({})), { state: 'running', stage: 'queued', detail: 'Queued: SEG v2 of AXIAL to Hospital PACS', error: null });
  assert.deepEqual(sendJobView(item({ state: 'sending' })).stage, 'sending');
  assert.deepEqual(sendJobView(item({ state: 'sent' })), { state: 'succeeded', stage: 'done', detail: 'Sent SEG v2 of AXIAL to Hospital PACS', error: null });
  const retrying = sendJobView(item({ state: 'failed', lastError: 'PACS@h:104 rejected the association', nextAttemptAt: '2026-12-02T00:01:00Z' }));
  assert.deepEqual([retrying.state, retrying.stage, retrying.error], ['running', 'waiting', null]);
  assert.equal(retrying.detail, 'Not sent yet (PACS@h:104 rejected the association); trying again at 2026-12-02T00:01:00Z');
  // No retry time (the destination was removed, the path leads out of the project): the job failed.
  const given = sendJobView(item({ state: 'failed', lastError: 'The destination "Hospital PACS" was removed from the settings' }));
  assert.equal(given.state, 'failed');
  assert.deepEqual(given.error, { code: 'send_failed', message: 'The destination "Hospital PACS" was removed from the settings', file: 'exports/seg/x.dcm' });
});

test('job ids name their outbox item and nothing else', () => {
  assert.equal(itemOfSendJob(sendJobId(42)), 42);
  assert.equal(itemOfSendJob('export-abc'), null);
  assert.equal(itemOfSendJob('send-1x'), null);
});
