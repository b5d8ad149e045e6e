/**
 * "Retrain on my data" on 2 CPU cores, 50 labelled images of the lesion phantom
 * (10 patients x 5 slices):
 * - tiny (what the e2e test runs): the whole button through the services, from
 *   training.start to the new model active, with the time of each stage and the Dice gain;
 * - vit_b-shaped (random weights, the official layout and 1024 input): the run the button
 *   would start on a CPU (decoder only on cached embeddings, settings from the presets), with
 *   embedding time and training time apart. Goal: training <= 5 min once embeddings exist.
 *   Evaluation and export of vit_b are not part of it (minutes of their own, measured by the
 *   runtime's bench).
 *
 *   node --import tsx tests/bench/retrain.bench.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ImageDetail, PixelFrame } from '../../electron/contract/api.js';
import type { JobInfo } from '../../electron/contract/training.js';
import { ProjectService } from '../../electron/services/index.js';
import { findPython } from '../../electron/services/runtime/python-path.node.js';
import { RuntimeClient } from '../../electron/services/runtime/runtime-client.node.js';
import { trainStart, type JobProgress, type TrainResult } from '../../electron/services/runtime/runtime-methods.js';
import { writeSnapshot } from '../../electron/services/training/dataset-snapshot.node.js';
import { resolveSettings, trainConfigFor } from '../../electron/services/training/presets.js';
import { retrainProject } from '../services/training/retrain-harness.js';

const PATIENTS = 10;
const SLICES = 5;
const round = (x: number, d = 1) => Number(x.toFixed(d));

export async function tinyThroughTheButton() {
  const p = await retrainProject({ patients: PATIENTS, slices: SLICES });
  try {
    const t0 = performance.now();
    const { jobId } = await p.s['training.start']({});
    // Time in each stage, summed over the transitions seen while polling.
    const spent = new Map<string, number>();
    let j: JobInfo;
    let last = { stage: '', at: performance.now() };
    for (;;) {
      j = await p.s['jobs.get']({ jobId });
      const now = performance.now();
      if (j.stage !== last.stage) {
        if (last.stage) spent.set(last.stage, (spent.get(last.stage) ?? 0) + now - last.at);
        last = { stage: j.stage, at: now };
      }
      if (!['running', 'cancelling'].includes(j.state)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const end = performance.now();
    const stageSeconds = Object.fromEntries([...spent].map(([s, ms]) => [s, round(ms / 1000)]));
    const o = j.outcome;
    return {
      state: j.state,
      images: PATIENTS * SLICES,
      pressToActiveSeconds: round((end - t0) / 1000),
      stageSeconds,
      epochs: j.curves.length,
      valDiceBefore: o ? round(o.gate.before, 3) : null,
      valDiceAfter: o ? round(o.gate.after, 3) : null,
      activated: o?.activated ?? false,
      error: j.error?.message ?? null,
    };
  } finally {
    await p.s.close();
    rmSync(p.dir, { recursive: true, force: true });
  }
}

async function vitBDecoderOnly() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'retrain-vitb-'));
  const p = await retrainProject({ patients: PATIENTS, slices: SLICES });
  let runtime: RuntimeClient | null = null;
  try {
    const project = new ProjectService({ user: 'bench', transport: 'browser' });
    project['project.open']({ path: path.join(p.dir, 'proj') });
    const open = project.openProject()!;
    const snap = await writeSnapshot({
      db: open.db,
      projectDir: open.dir,
      pixels: (imageId, frame) => project['image.pixels']({ imageId, frame }) as Promise<PixelFrame>,
      detail: (imageId) => project['image.get']({ imageId }) as ImageDetail,
    });
    project.close();
    const settings = resolveSettings(undefined, { arch: 'vit_b', device: 'cpu', trainImages: snap.train });
    runtime = RuntimeClient.start({ python: await findPython() });
    let cacheStart = 0;
    let cacheEnd = 0;
    let trainStartAt = 0;
    let trainEnd = 0;
    const onProgress = (g: JobProgress) => {
      const t = performance.now();
      if (g.stage === 'caching_embeddings') {
        cacheStart ||= t;
        cacheEnd = t;
      } else if (g.stage === 'train') {
        trainStartAt ||= t;
        trainEnd = t;
      } else if (g.stage === 'epoch_end') trainEnd = t;
    };
    const t0 = performance.now();
    const result = (await runtime.runJob(
      trainStart,
      {
        config: {
          ...trainConfigFor(settings),
          dataset: snap.dir,
          run_dir: path.join(dir, 'run'),
          arch: 'vit_b',
          cache_dir: path.join(dir, 'cache'),
          eval_before: false,
        },
      },
      { onProgress },
    )) as TrainResult;
    const total = (performance.now() - t0) / 1000;
    return {
      images: snap.images,
      train: snap.train,
      val: snap.val,
      settings,
      status: result.status,
      epochs: result.epochs_completed,
      embeddingSeconds: round((cacheEnd - cacheStart) / 1000),
      embeddingSecondsPerImage: round((cacheEnd - cacheStart) / 1000 / Math.max(1, snap.images), 2),
      trainingSeconds: round((trainEnd - trainStartAt) / 1000),
      totalSeconds: round(total),
      goalTrainingSeconds: 300,
      withinGoal: (trainEnd - trainStartAt) / 1000 <= 300,
      timing: result.timing,
    };
  } finally {
    await runtime?.close();
    await p.s.close();
    rmSync(p.dir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

export default async function bench() {
  const load = os.loadavg().map((x) => round(x, 2));
  const tiny = await tinyThroughTheButton();
  const vitB = await vitBDecoderOnly();
  return { loadAverageAtStart: load, tiny, vit_b: vitB };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(JSON.stringify(await bench(), null, 2));
