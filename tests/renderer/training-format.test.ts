import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  evalTable,
  formatDelta,
  formatDuration,
  formatElapsed,
  formatLr,
  isActive,
  modeName,
  modeSummary,
  progressFraction,
  progressText,
  settingsFromForm,
  showOnOpen,
  shortHash,
  splitText,
  stageName,
  STAGE_NAMES,
  EMPTY_FORM,
} from '../../renderer/src/training/format.ts';
import { lineageView } from '../../renderer/src/training/lineage.ts';
import { TrainingStage, type JobInfo } from '../../electron/contract/training.ts';
import type { ModelInfo } from '../../electron/contract/api.ts';

const job = (p: Partial<JobInfo>): JobInfo => ({
  id: 'train-1',
  kind: 'training',
  importReport: null,
  modelId: null,
  exported: null,
  state: 'running',
  stage: 'training',
  detail: '',
  step: null,
  steps: null,
  epoch: null,
  epochs: null,
  etaS: null,
  curves: [],
  lossSteps: [],
  outcome: null,
  error: null,
  resumable: false,
  createdAt: '2025-01-01T00:00:00Z',
  updatedAt: '2025-01-01T00:00:00Z',
  author: 'me',
  ...p,
});

test('every stage has a human name', () => {
  for (const s of TrainingStage.options) assert.ok(STAGE_NAMES[s] && STAGE_NAMES[s] !== s, s);
  assert.equal(stageName('environment'), 'Preparing environment');
  assert.equal(stageName('caching'), 'Caching embeddings');
  assert.equal(stageName('gating'), 'Deciding');
  assert.equal(stageName('something-new'), 'something-new');
});

test('durations read like people say them', () => {
  assert.equal(formatDuration(null), 'unknown');
  assert.equal(formatDuration(20), 'less than a minute');
  assert.equal(formatDuration(100), 'about 2 min');
  assert.equal(formatDuration(59 * 60), 'about 59 min');
  assert.equal(formatDuration(3600), 'about 1 h');
  assert.equal(formatDuration(5000), 'about 1 h 23 min');
  assert.equal(formatElapsed(8.4), '8 s');
  assert.equal(formatElapsed(200), '3 min 20 s');
  assert.equal(formatElapsed(180), '3 min');
  assert.equal(formatElapsed(3900), '1 h 5 min');
});

test('progress over the whole run', () => {
  assert.equal(progressFraction(job({ stage: 'queued' })), null, 'nothing to measure yet: indeterminate');
  assert.equal(progressFraction(job({ stage: 'environment' })), null);
  const start = progressFraction(job({ stage: 'training', epoch: 1, epochs: 10, step: 0, steps: 20 }))!;
  const mid = progressFraction(job({ stage: 'training', epoch: 6, epochs: 10, step: 0, steps: 20 }))!;
  const end = progressFraction(job({ stage: 'training', epoch: 10, epochs: 10, step: 20, steps: 20 }))!;
  assert.ok(start < mid && mid < end && end < 1, `${start} ${mid} ${end}`);
  assert.ok(progressFraction(job({ stage: 'evaluating' }))! >= end);
  assert.equal(progressFraction(job({ state: 'succeeded', stage: 'done' })), 1);
  assert.equal(progressText(job({ stage: 'training', epoch: 3, epochs: 20, step: 12, steps: 40 })), 'Epoch 3/20 · step 12/40');
  assert.equal(progressText(job({ stage: 'snapshot', step: 4, steps: 9 })), '4/9');
  assert.equal(progressText(job({ stage: 'evaluating' })), '');
});

test('states: active ones poll; which run to show on opening a project', () => {
  assert.ok(isActive('running') && isActive('cancelling'));
  assert.ok(!isActive('succeeded') && !isActive('interrupted'));
  assert.ok(showOnOpen({ state: 'running', resumable: false }));
  assert.ok(showOnOpen({ state: 'interrupted', resumable: true }));
  assert.ok(showOnOpen({ state: 'failed', resumable: true }), 'a failed run that can continue is shown');
  assert.ok(showOnOpen({ state: 'cancelled', resumable: true }));
  assert.ok(!showOnOpen({ state: 'succeeded', resumable: false }));
  assert.ok(!showOnOpen({ state: 'failed', resumable: false }));
});

test('advanced form: blanks are automatic, bad values are named', () => {
  assert.deepEqual(settingsFromForm(EMPTY_FORM), { settings: { preset: 'auto' }, error: null });
  assert.deepEqual(settingsFromForm({ preset: 'last_blocks', epochs: ' 12 ', unfreezeLastN: '3', lr: '1e-4', lrFind: false }), {
    settings: { preset: 'last_blocks', epochs: 12, unfreezeLastN: 3, lr: 1e-4 },
    error: null,
  });
  assert.deepEqual(settingsFromForm({ ...EMPTY_FORM, lrFind: true }), { settings: { preset: 'auto', lrFind: true }, error: null });
  assert.match(settingsFromForm({ ...EMPTY_FORM, epochs: '0' }).error ?? '', /Epochs/);
  assert.match(settingsFromForm({ ...EMPTY_FORM, epochs: '2.5' }).error ?? '', /whole number/);
  assert.match(settingsFromForm({ ...EMPTY_FORM, unfreezeLastN: '99' }).error ?? '', /Unfrozen blocks/);
  assert.match(settingsFromForm({ ...EMPTY_FORM, lr: 'fast' }).error ?? '', /Learning rate/);
  assert.match(settingsFromForm({ ...EMPTY_FORM, lr: '2' }).error ?? '', /Learning rate/);
});

test('numbers in the plan', () => {
  assert.equal(formatLr(1e-4), '1e-4');
  assert.equal(formatLr(0.003), '0.003');
  assert.equal(formatLr(2.5e-5), '2.5e-5');
  assert.equal(splitText({ train: 12, val: 4, groups: 5, pinned: 1, groupBy: 'patient' }), '12 training / 4 validation, grouped by patient (5 groups, 1 pinned to validation)');
  assert.equal(splitText({ train: 3, val: 1, groups: 1, pinned: 0, groupBy: 'series' }), '3 training / 1 validation, grouped by series (1 group)');
  assert.equal(shortHash('sha256:0123456789abcdef'), '01234567');
  assert.equal(shortHash(null), '–');
});

test('before/after table and per-mode summary', () => {
  const rows = [
    { mode: 'box', label: 'lesion', n: 3, before: 0.5, after: 0.7 },
    { mode: 'auto', label: 'lesion', n: 3, before: 0.2, after: 0.1 },
    { mode: 'click1', label: 'nodule', n: 1, before: 0.4, after: 0.6 },
    { mode: 'click1', label: 'lesion', n: 3, before: 0.6, after: 0.8 },
    { mode: 'click3', label: 'lesion', n: 3, before: 0.7, after: 0.75 },
  ];
  const t = evalTable(rows);
  assert.deepEqual(
    t.map((r) => `${r.modeName}/${r.label}`),
    ['1 click/lesion', '1 click/nodule', '3 clicks/lesion', 'Box/lesion', 'No prompt/lesion'],
  );
  assert.ok(Math.abs(t[0]!.delta - 0.2) < 1e-9);
  const s = modeSummary(rows);
  assert.deepEqual(s.map((m) => m.mode), ['click1', 'click3', 'box', 'auto']);
  assert.ok(Math.abs(s[0]!.before - (0.6 * 3 + 0.4) / 4) < 1e-9, 'weighted by validation masks');
  assert.equal(s[0]!.n, 4);
  assert.equal(modeSummary([{ mode: 'box', label: 'x', n: 0, before: 0.2, after: 0.4 }])[0]!.after, 0.4, 'no counts: plain mean');
  assert.equal(modeName('click3'), '3 clicks');
  assert.equal(formatDelta(0.0123), '+0.012');
  assert.equal(formatDelta(-0.05), '−0.050');
  assert.equal(formatDelta(0.0001), '±0.000');
});

test('lineage of a trained model', () => {
  const base: ModelInfo = { id: 'm1', name: 'SAM ViT-B', arch: 'vit_b', baseModel: null, imageSize: 1024, sizeBytes: 1, variants: ['int8'], variant: 'int8', variantChoice: 'auto', int8MaskIou: 0.99, speed: null, created: '2025-03-04T10:00:00Z', metrics: {}, lineage: null };
  assert.equal(lineageView(base, {}), null);
  const trained: ModelInfo = {
    ...base,
    id: 'm2',
    lineage: {
      datasetHash: 'abcdef0123456789',
      trainedBy: 'dr.who',
      parentModelId: 'm1',
      config: { preset: 'auto', mode: 'decoder', epochs: 40, lr: 0.001, jobId: 'train-1' },
      gate: { before: 0.71234, after: 0.80111, passed: true, reason: 'better' },
    },
  };
  assert.deepEqual(lineageView(trained, { m1: 'SAM ViT-B' }), {
    base: 'SAM ViT-B',
    dataset: 'abcdef01',
    trainedBy: 'dr.who',
    date: '2025-03-04',
    gate: 'Dice 0.712 → 0.801',
    passed: true,
    settings: 'Decoder only · 40 epochs · lr 0.001',
  });
  const unknownParent = lineageView({ ...trained, lineage: { ...trained.lineage!, gate: null, config: {} } }, {});
  assert.equal(unknownParent?.base, 'm1');
  assert.equal(unknownParent?.gate, null);
  assert.equal(unknownParent?.passed, null);
  assert.equal(unknownParent?.settings, '');
});
