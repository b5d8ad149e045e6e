/**
 * A project for retrain tests: the lesion phantom imported as DICOM, the tiny blob model as
 * the starting model (it goes for bright blobs, the task's lesions are dark), and the ground
 * truth of some slices saved as accepted masks, the way the app saves them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodeRle } from '../../../electron/contract/rle.js';
import { createServices, type Services } from '../../../electron/services/index.js';
import { pythonTrainingEnvironment } from '../../../electron/services/training/environment.node.js';
import type { TrainingEnvironment } from '../../../electron/services/training/training.service.js';
import { phantomSeries, PHANTOM, type PhantomSlice } from '../../fixtures/lesion-phantom.js';
import { tinyBlobBundle } from '../../inference/test-models.js';

export interface RetrainProject {
  s: Services;
  dir: string;
  slices: (PhantomSlice & { imageId: number })[];
  labelId: number;
  starterId: string;
}

/** One torch thread: on a shared 2-core machine OpenMP spinning makes training much slower. */
export const TRAIN_ENV = { OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };

export async function retrainProject(
  opts: { patients?: number; slices?: number; labelled?: (s: PhantomSlice) => boolean; environment?: TrainingEnvironment } = {},
): Promise<RetrainProject> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'retrain-'));
  const s = createServices({ user: 'tester', transport: 'browser', version: 'test', trainingEnvironment: opts.environment ?? pythonTrainingEnvironment(TRAIN_ENV) });
  await s['project.create']({ path: path.join(dir, 'proj'), name: 'Retrain' });
  const series = phantomSeries(opts.patients ?? 6, opts.slices ?? 4);
  const report = await s['images.importFiles']({ files: series.map((p) => ({ name: p.fileName, bytes: new Uint8Array(p.dicom) })) });
  assert.equal(report.imported.length, series.length, JSON.stringify(report.failed));
  const byName = new Map(report.imported.map((r) => [r.file, r.imageId]));
  const slices = series.map((p) => ({ ...p, imageId: byName.get(p.fileName)! }));
  const labelId = (await s['labels.list']({})).find((l) => l.name === 'lesion')!.id;
  const starter = await s['models.import']({ kind: 'bundle', path: tinyBlobBundle() });
  const labelled = opts.labelled ?? (() => true);
  for (const p of slices.filter(labelled)) {
    await s['masks.save']({
      imageId: p.imageId, frame: 0, labelId, instance: 1,
      rle: encodeRle(p.lesion, PHANTOM.size, PHANTOM.size), source: 'brush', window: PHANTOM.window,
    });
  }
  return { s, dir, slices, labelId, starterId: starter.id };
}
