/**
 * "Export model": an installed model of the open project as a deployable package, its card
 * filled from what the project knows about it: the training run that made it (dataset
 * snapshot, split, studies and modalities, the gate's before/after evaluation), the label
 * classes with their DICOM codes, and the export's measured parity. Runtime: node.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { PackageManifest } from '../../contract/model-package.js';
import { codesForLabel } from '../../contract/segment-codes.js';
import { JobsRepository } from '../jobs/jobs.repository.js';
import { insideProject } from '../project-folder.node.js';
import { LabelsRepository } from '../store/labels.repository.js';
import type { Db } from '../store/project-database.js';
import { variantsOf, variantToRun } from './bundle-manifest.js';
import type { ModelManager } from './model-manager.node.js';
import { PackageError, writePackage } from './model-package.node.js';
import { packageWindow, type PackageWindow } from './package-window.js';

export interface PackageExportDeps {
  mgr: ModelManager;
  db: Db;
  projectDir: string;
  user: string;
  appVersion: string;
  now: () => string;
}

interface Snapshot {
  images: { split?: string; delineate?: { image_id?: number; window?: { center: number; width: number } | null } }[];
  annotations: unknown[];
  categories: { id: number; name: string }[];
  delineate?: { split_by?: string };
}

/** The training run behind a model (its job and dataset snapshot), when the project still has them. */
function trainingOf(deps: PackageExportDeps, jobId: string | null) {
  if (!jobId) return null;
  const job = new JobsRepository(deps.db, deps.now).get(jobId);
  if (!job || job.info.kind !== 'training') return null;
  const runDir = insideProject(deps.projectDir, job.runDir);
  let snapshot: Snapshot | null = null;
  let datasetHash = job.datasetHash;
  try {
    const run = runDir ? (JSON.parse(readFileSync(path.join(runDir, 'run.json'), 'utf8')) as { datasetDir?: string; datasetHash?: string }) : null;
    datasetHash = run?.datasetHash ?? datasetHash;
    const file = run?.datasetDir ? path.join(run.datasetDir, 'annotations.json') : null;
    if (file && existsSync(file)) snapshot = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  } catch {
    snapshot = null; // a damaged run folder: the card says what the job row still knows
  }
  return { job, snapshot, datasetHash };
}

/** The snapshot's images as the project knows them (study and modality), by image id, in one query. */
function snapshotImages(db: Db, s: Snapshot | null): Map<number, { studyUid: string | null; modality: string | null }> {
  const ids = [...new Set((s?.images ?? []).map((i) => i.delineate?.image_id).filter((x): x is number => typeof x === 'number'))];
  if (ids.length === 0) return new Map();
  const rows = db.prepare(`SELECT id, study_uid AS studyUid, modality FROM images WHERE id IN (${ids.map(() => '?').join(',')})`).all(...ids) as { id: number; studyUid: string | null; modality: string | null }[];
  return new Map(rows.map((r) => [r.id, r]));
}

type SnapshotImages = ReturnType<typeof snapshotImages>;

/** The window the node should render with, from the windows the snapshot's images were rendered through. */
function fixedWindow(s: Snapshot | null, images: SnapshotImages): PackageWindow | null {
  if (!s) return null;
  return packageWindow(
    s.images.map((i) => ({
      modality: typeof i.delineate?.image_id === 'number' ? (images.get(i.delineate.image_id)?.modality ?? null) : null,
      window: i.delineate?.window ?? null,
    })),
  );
}

function trainingSummary(datasetHash: string | null, s: Snapshot | null, images: SnapshotImages): PackageManifest['card']['training'] {
  if (!s || !datasetHash) return null;
  const rows = [...images.values()];
  return {
    dataset_hash: datasetHash,
    images: s.images.length,
    annotations: s.annotations.length,
    train_images: s.images.filter((i) => i.split === 'train').length,
    validation_images: s.images.filter((i) => i.split === 'val').length,
    studies: new Set(rows.map((r) => r.studyUid).filter(Boolean)).size,
    modalities: [...new Set(rows.map((r) => r.modality).filter((m): m is string => !!m))].sort(),
    split_by: s.delineate?.split_by ?? null,
  };
}

export async function exportModelPackage(id: string, outDir: string, deps: PackageExportDeps): Promise<{ folder: string; archive: string; manifest: PackageManifest }> {
  const info = deps.mgr.list().find((m) => m.id === id);
  if (!info) throw new PackageError(`No model ${id} in this project`);
  const bundle = deps.mgr.manifest(id);
  const lineage = info.lineage;
  const jobId = typeof lineage?.config.jobId === 'string' ? lineage.config.jobId : null;
  const run = trainingOf(deps, jobId);
  const stamp = { created: deps.now(), created_by: deps.user, app_version: deps.appVersion };
  const runs = { variants: variantsOf(bundle), default_variant: variantToRun(bundle, 'auto'), manifest: 'model/model.json' };
  // Installed from a package and not retrained here: the package's own record is the model's
  // history (this project has none), so a re-export passes it on instead of saying "no training record".
  const origin = run ? null : deps.mgr.packageOrigin(id);
  if (origin) {
    return writePackage({
      modelDir: deps.mgr.folderOf(id),
      outDir,
      manifest: { name: info.name, version: origin.version, ...stamp, model: { ...origin.model, ...runs }, labels: origin.labels, card: { ...origin.card, parity: bundle.parity } },
    });
  }
  const images = snapshotImages(deps.db, run?.snapshot ?? null);
  const training = trainingSummary(run?.datasetHash ?? lineage?.datasetHash ?? null, run?.snapshot ?? null, images);
  const evaluation = run?.job.info.outcome?.evaluation ?? [];
  // The labels it was trained on (the snapshot's categories), else every label of the project.
  const projectLabels = new LabelsRepository(deps.db).list();
  const trainedOn = run?.snapshot ? new Set(run.snapshot.categories.map((c) => c.id)) : null;
  const labels = projectLabels
    .filter((l) => !trainedOn || trainedOn.has(l.id))
    .map((l) => {
      const { category, type } = codesForLabel(l.name, l.code);
      return { name: l.name, color: l.color, category, type };
    });
  const modes = [...new Set(evaluation.map((r) => r.mode))];
  const int8Iou = (bundle.parity.int8_vs_fp32 as { mask_iou_mean?: unknown } | undefined)?.mask_iou_mean;
  const limits = [
    'Not a medical device: its masks are drafts for a qualified reader to review and correct.',
    training
      ? `Evaluated only on the ${training.validation_images} validation images of its training snapshot${training.modalities.length ? ` (${training.modalities.join(', ')})` : ''}; images unlike them (another modality, scanner, protocol, contrast or resolution) may give wrong masks.`
      : 'No training record: evaluate it on your own images before use.',
    ...(typeof int8Iou === 'number' ? [`The int8 variant's masks agree with fp32's at mean IoU ${int8Iou.toFixed(3)}.`] : []),
  ];
  const what = labels.length ? labels.map((l) => l.name).join(', ') : 'the structures it was trained on';
  return writePackage({
    modelDir: deps.mgr.folderOf(id),
    outDir,
    manifest: {
      name: info.name,
      version: info.id,
      ...stamp,
      model: {
        architecture: bundle.architecture,
        preprocessing: bundle.preprocessing,
        window:
          'each frame rendered to 8-bit through the window it is shown with (CT and other DICOM: the stored or chosen window; 8-bit images as stored; MONOCHROME1 inverted), then SAM preprocessing (longest side resized to the input size, normalised, padded); fixed_window, when given, is the window the training images agreed on, and the node uses it for that modality',
        fixed_window: fixedWindow(run?.snapshot ?? null, images),
        prompt_modes: modes,
        ...runs,
      },
      labels,
      card: {
        base_model: info.baseModel ?? lineage?.parentModelId ?? null,
        trained_by: lineage?.trainedBy ?? null,
        trained_at: run?.job.info.updatedAt ?? null,
        training,
        metrics: evaluation.map((r) => ({ mode: r.mode, label: r.label, n: r.n, before: r.before, after: r.after })),
        gate: lineage?.gate ?? null,
        parity: bundle.parity,
        intended_use: `Segmenting ${what}${training?.modalities.length ? ` on ${training.modalities.join(', ')} images` : ''} like those it was trained on, prompted or prompt-free, as drafts a qualified reader reviews in Delineate or the PACS viewer.`,
        limits,
      },
    },
  });
}
