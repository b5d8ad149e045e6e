/**
 * The project's masks as an immutable, content-addressed dataset snapshot for the Python
 * runtime: `<project>/datasets/<hash>/` with `annotations.json` (COCO instance segmentation,
 * uncompressed RLE, a `split` per image) and `images/*.png`. Runtime: node.
 *
 * Each labelled frame is stored as SAM saw it in the app: rendered to 8 bits through the
 * window the user drew in (else the one window policy), with the same function the SAM service
 * uses (sam-window.ts). The runtime reads 8-bit PNGs as stored, so training, evaluation and
 * the app see identical pixels; there is no second windowing formula to drift.
 *
 * The hash covers the annotations file, which names every image by the hash of its pixels,
 * so equal content gives the same folder and any change gives a new one. The folder is
 * written under a temporary name and renamed into place: a crash leaves no half snapshot.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { ImageDetail, PixelFrame } from '../../contract/api.js';
import type { DisplayWindow } from '../../contract/windowing.js';
import { countsFromBlob } from '../store/counts-blob.js';
import { LabelsRepository } from '../store/labels.repository.js';
import { MasksRepository, parseWindow, type LabelledFrameRow, type TrainingMaskRow } from '../store/masks.repository.js';
import type { Db } from '../store/project-database.js';
import { renderForSam, samplesOf, samWindowFor } from '../inference/sam-window.js';
import { splitByGroup, type Split } from './split.js';

export const DATASETS_DIR = 'datasets';

type MaskRow = TrainingMaskRow;
type FrameRow = LabelledFrameRow;

/** The labelled frames of a project and how they split, without reading any pixels. */
export interface LabelledFrames {
  frames: FrameRow[];
  masks: MaskRow[];
  labels: { id: number; name: string }[];
  split: Split;
}

const frameKey = (imageId: number, frame: number) => `${imageId}:${frame}`;

export function labelledFrames(db: Db, valFraction = 0.2): LabelledFrames {
  const repo = new MasksRepository(db);
  const masks = repo.forTraining();
  const frames = repo.labelledFrames();
  const labels = new LabelsRepository(db).list().map((l) => ({ id: l.id, name: l.name }));
  const split = splitByGroup(
    frames.map((f) => ({
      key: frameKey(f.imageId, f.frame),
      patientId: f.patientId,
      studyUid: f.studyUid,
      seriesUid: f.seriesUid,
      folder: f.folder,
      order: f.seriesIndex * 100_000 + f.frame,
      pinned: f.pinned === 1,
    })),
    valFraction,
  );
  return { frames, masks, labels, split };
}

export interface SnapshotSources {
  db: Db;
  projectDir: string;
  pixels(imageId: number, frame: number): Promise<PixelFrame>;
  detail(imageId: number): ImageDetail;
}

export interface Snapshot {
  hash: string;
  dir: string;
  images: number;
  annotations: number;
  train: number;
  val: number;
  groupBy: string;
  /** True when an identical snapshot was already there (nothing was written). */
  reused: boolean;
}

/** The most recent window any mask of the frame was drawn through (what the user looked at). */
function drawnWindow(masks: readonly MaskRow[]): DisplayWindow | null {
  let best: MaskRow | null = null;
  for (const m of masks) if (m.viewWindow && (!best || m.updatedAt > best.updatedAt)) best = m;
  return parseWindow(best?.viewWindow ?? null);
}

export async function writeSnapshot(src: SnapshotSources, opts: { valFraction?: number; onProgress?: (done: number, total: number) => void } = {}): Promise<Snapshot> {
  const { frames, masks, labels, split } = labelledFrames(src.db, opts.valFraction);
  if (frames.length === 0) throw new Error('The project has no masks to train on');
  const root = path.join(src.projectDir, DATASETS_DIR);
  mkdirSync(root, { recursive: true });
  const tmp = path.join(root, `.tmp-${randomUUID().slice(0, 8)}`);
  mkdirSync(path.join(tmp, 'images'), { recursive: true });
  try {
    const byFrame = new Map<string, MaskRow[]>();
    for (const m of masks) {
      const k = frameKey(m.imageId, m.frame);
      let list = byFrame.get(k);
      if (!list) byFrame.set(k, (list = []));
      list.push(m);
    }
    const cocoImages: unknown[] = [];
    const cocoAnns: unknown[] = [];
    let annId = 0;
    for (const [n, f] of frames.entries()) {
      const k = frameKey(f.imageId, f.frame);
      const frameMasks = byFrame.get(k)!;
      const d = src.detail(f.imageId);
      const px = await src.pixels(f.imageId, f.frame);
      const window = samWindowFor(px, d.windows, drawnWindow(frameMasks));
      const { rgb, width, height } = renderForSam({ ...px, samples: samplesOf(px.dtype, px.data) }, window);
      const grey = px.samplesPerPixel === 1;
      const raw = grey ? rgb.filter((_, i) => i % 3 === 0) : rgb;
      const pixelHash = createHash('sha256').update(raw).update(`${width}x${height}x${grey ? 1 : 3}`).digest('hex');
      const fileName = `images/${pixelHash.slice(0, 24)}.png`;
      const file = path.join(tmp, fileName);
      if (!existsSync(file)) {
        await sharp(raw, { raw: { width, height, channels: grey ? 1 : 3 } })
          .png({ compressionLevel: 6 })
          .toFile(file);
      }
      const imageIndex = n + 1;
      cocoImages.push({
        id: imageIndex,
        file_name: fileName,
        width,
        height,
        split: split.side.get(k),
        pixels_sha256: pixelHash,
        delineate: { image_id: f.imageId, frame: f.frame, window, group: split.group.get(k) },
      });
      for (const m of frameMasks) {
        cocoAnns.push({
          id: ++annId,
          image_id: imageIndex,
          category_id: m.labelId,
          iscrowd: 0,
          segmentation: { size: [m.height, m.width], counts: countsFromBlob(m.counts) },
          delineate: { instance: m.instance },
        });
      }
      opts.onProgress?.(n + 1, frames.length);
    }
    const usedLabels = new Set(masks.map((m) => m.labelId));
    const coco = {
      info: { description: 'Delineate dataset snapshot', version: 1 },
      categories: labels.filter((l) => usedLabels.has(l.id)).map((l) => ({ id: l.id, name: l.name })),
      images: cocoImages,
      annotations: cocoAnns,
      delineate: { split_by: split.groupBy, groups: split.groups },
    };
    const json = JSON.stringify(coco);
    const hash = createHash('sha256').update(json).digest('hex').slice(0, 16);
    writeFileSync(path.join(tmp, 'annotations.json'), json);
    const dir = path.join(root, hash);
    const summary = { hash, dir, images: frames.length, annotations: cocoAnns.length, train: split.train, val: split.val, groupBy: split.groupBy };
    if (existsSync(path.join(dir, 'annotations.json')) && readFileSync(path.join(dir, 'annotations.json'), 'utf8') === json) {
      rmSync(tmp, { recursive: true, force: true });
      return { ...summary, reused: true };
    }
    rmSync(dir, { recursive: true, force: true }); // a damaged earlier copy under this name
    renameSync(tmp, dir);
    return { ...summary, reused: false };
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
