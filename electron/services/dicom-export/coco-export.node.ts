/**
 * Non-DICOM (industrial) images and their masks as a COCO instance-segmentation folder, in
 * Node alone (no Python): annotation-only users get it without any runtime. Runtime: node.
 *
 *   exports/coco/<scope>-v<n>/
 *     annotations.json   info, licenses, images, categories (the project's label classes,
 *                        ids = label ids), annotations: one per mask instance, with
 *                        `segmentation` in COCO's compressed RLE ({size: [h, w], counts:
 *                        string}, as pycocotools writes it), `area`, `bbox` [x, y, w, h],
 *                        `iscrowd` 0, and Delineate's own fields: `instance`, `frame`,
 *                        `source` (sam, brush...), `model_id`, `mask_value`
 *     images/<id>-<name>  the imported files, byte for byte
 *     masks/<id>-<stem>[-f<frame>].png
 *                        one 16-bit greyscale label mask per COCO image, instance-indexed:
 *                        0 background, else the `mask_value` (1, 2, ...) of the annotation
 *                        that covers the pixel; where two masks overlap the later annotation
 *                        wins (annotations.json keeps both exactly)
 *
 * Scope: one image, or every non-DICOM image of the project (images without masks included:
 * a defect-free part is data too). A multi-page image gives one COCO image per page (`frame`).
 * The folder is written under a temporary name and renamed into place; the export is recorded
 * in the exports table (kind 'coco') and the audit log. The same content again returns the
 * recorded folder; changed masks write version n+1.
 */
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ApiError } from '../../contract/api.js';
import type { CocoExportResult } from '../../contract/exports.js';
import { decodeRle, rleArea } from '../../contract/rle.js';
import { countsFromBlob } from '../store/counts-blob.js';
import { ExportsRepository } from '../store/exports.repository.js';
import { LabelsRepository } from '../store/labels.repository.js';
import type { Db } from '../store/project-database.js';
import { insideProject } from '../project-folder.node.js';
import { MasksRepository } from '../store/masks.repository.js';
import { recordExport, sha256hex } from './export-writer.node.js';
import { cocoBbox, toCocoRle } from './coco-rle.js';
import { encodePng16 } from './png16.node.js';
import { uidFromHash } from './seg-request.js';

export interface CocoExportDeps {
  projectDir: string;
  db: Db;
  user: string;
  appVersion: string;
  now: () => string;
  signal?: AbortSignal;
  /** Images written of all (called at most every 200 ms, and at the end). */
  onProgress?: (done: number, total: number) => void;
}

/** One COCO image (an image, or a frame of a multi-page one) and the masks its label PNG numbers. */
interface FramePlan {
  width: number;
  height: number;
  maskFile: string;
  /** mask_value k + 1 for masks[k]; a later mask wins where they overlap. */
  masks: MaskRow[];
}

interface ImageRow {
  id: number;
  sha256: string;
  kind: string;
  fileName: string;
  mediaPath: string;
  width: number;
  height: number;
  frames: number;
}

type MaskRow = ReturnType<MasksRepository['forExport']>[number];


const safeName = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '').slice(0, 120) || 'image';
const stem = (s: string) => s.replace(/\.[^.]*$/, '');

function imagesFor(db: Db, imageId: number | undefined): { scope: string; images: ImageRow[] } {
  const columns = 'id, sha256, kind, file_name AS fileName, media_path AS mediaPath, width, height, frames';
  if (imageId !== undefined) {
    const one = db.prepare(`SELECT ${columns} FROM images WHERE id = ?`).get(imageId) as ImageRow | undefined;
    if (!one) throw new ApiError('not_found', `No image with id ${imageId}`);
    if (one.kind !== 'raster') throw new ApiError('bad_request', `${one.fileName} is a DICOM image: export it as a DICOM SEG or RTSTRUCT, not COCO`);
    return { scope: `image-${one.sha256}`, images: [one] };
  }
  const all = db.prepare(`SELECT ${columns} FROM images WHERE kind = 'raster' ORDER BY folder, file_name, id`).all() as ImageRow[];
  if (all.length === 0) throw new ApiError('bad_request', 'This project has no non-DICOM images to export as COCO');
  return { scope: 'project', images: all };
}


/**
 * annotations.json and what to write: the images to copy and, per COCO image, the masks its
 * label PNG numbers. The PNGs are drawn one at a time while writing: all of a big project's
 * label masks at once would not fit in memory.
 */
function build(images: ImageRow[], masks: MaskRow[], labels: { id: number; name: string; color: string }[], scope: string, version: number, info: { user: string; appVersion: string; now: string }) {
  const cocoImages: Record<string, unknown>[] = [];
  const annotations: Record<string, unknown>[] = [];
  const frames = new Map<number, FramePlan[]>();
  const copies: { imageId: number; from: string; to: string }[] = [];
  const byFrame = new Map<string, MaskRow[]>();
  for (const m of masks) byFrame.set(`${m.imageId}:${m.frame}`, [...(byFrame.get(`${m.imageId}:${m.frame}`) ?? []), m]);
  for (const img of images) {
    const file = `images/${img.id}-${safeName(img.fileName)}`;
    copies.push({ imageId: img.id, from: img.mediaPath, to: file });
    const planned: FramePlan[] = [];
    for (let frame = 0; frame < img.frames; frame++) {
      const cocoId = cocoImages.length + 1;
      const maskFile = `masks/${img.id}-${safeName(stem(img.fileName))}${img.frames > 1 ? `-f${frame}` : ''}.png`;
      cocoImages.push({ id: cocoId, file_name: file, width: img.width, height: img.height, ...(img.frames > 1 ? { frame } : {}), mask_file: maskFile, sha256: img.sha256 });
      const here = byFrame.get(`${img.id}:${frame}`) ?? [];
      if (here.length > 0xffff) throw new ApiError('bad_request', `${img.fileName} has more masks than a 16-bit label mask can number`);
      here.forEach((m, k) => {
        const rle = { size: [m.height, m.width] as [number, number], counts: countsFromBlob(m.counts) };
        if (m.height !== img.height || m.width !== img.width) throw new ApiError('io', `A mask of ${img.fileName} is ${m.width}x${m.height}, not the image's ${img.width}x${img.height}`);
        annotations.push({
          id: annotations.length + 1,
          image_id: cocoId,
          category_id: m.labelId,
          segmentation: toCocoRle(rle),
          area: rleArea(rle),
          bbox: cocoBbox(rle),
          iscrowd: 0,
          instance: m.instance,
          frame: m.frame,
          source: m.source,
          model_id: m.modelId,
          mask_value: k + 1,
        });
      });
      planned.push({ width: img.width, height: img.height, maskFile, masks: here });
    }
    frames.set(img.id, planned);
  }
  const categories = labels.map((l) => ({ id: l.id, name: l.name, supercategory: 'label', color: l.color }));
  // What makes the export what it is (not when or by whom): its hash names the version.
  const content = JSON.stringify({ scope, images: cocoImages, categories, annotations });
  const hash = sha256hex(content);
  const uid = uidFromHash(sha256hex(`coco|${hash}`));
  const json = {
    info: {
      description: `Delineate COCO export (${scope === 'project' ? 'all non-DICOM images' : images[0]!.fileName}), version ${version}`,
      version: String(version),
      year: Number(info.now.slice(0, 4)),
      date_created: info.now,
      contributor: info.user,
      delineate: { uid, content_hash: hash, app_version: info.appVersion, mask_png: 'uint16 instance index: 0 background, else the annotation with that mask_value (later annotations win where masks overlap)' },
    },
    licenses: [],
    images: cocoImages,
    categories,
    annotations,
  };
  return { json, frames, copies, hash, uid, counts: { images: cocoImages.length, annotations: annotations.length, categories: categories.length } };
}

/** The 16-bit label mask of one COCO image. */
function labelPng(f: FramePlan): Buffer {
  const values = new Uint16Array(f.width * f.height);
  f.masks.forEach((m, k) => {
    const pixels = decodeRle({ size: [m.height, m.width], counts: countsFromBlob(m.counts) });
    for (let i = 0; i < pixels.length; i++) if (pixels[i]) values[i] = k + 1;
  });
  return encodePng16(values, f.width, f.height);
}

/** The sentence that closes a COCO export's job. */
export function cocoDetail(r: CocoExportResult): string {
  const what = `${r.images} image${r.images === 1 ? '' : 's'}, ${r.annotations} annotation${r.annotations === 1 ? '' : 's'}`;
  return r.reused ? `COCO already exported as version ${r.version}: ${r.folder}` : `Wrote ${r.folder} (COCO version ${r.version}, ${what})`;
}

export async function exportCoco(imageId: number | undefined, deps: CocoExportDeps): Promise<CocoExportResult> {
  const { db, projectDir } = deps;
  const { scope, images } = imagesFor(db, imageId);
  const masks = new MasksRepository(db).forExport(images.map((i) => i.id));
  const labels = new LabelsRepository(db).list();
  const repo = new ExportsRepository(db);
  const previous = repo.latest('coco', scope);
  let version = (previous?.version ?? 0) + 1;
  const now = deps.now();
  const probe = build(images, masks, labels, scope, version, { user: deps.user, appVersion: deps.appVersion, now });
  const same = repo.byHash('coco', scope, probe.hash);
  if (same && existsSync(path.join(projectDir, same.file, 'annotations.json'))) {
    return { folder: same.file, ...probe.counts, version: same.version, reused: true, uid: same.sopInstanceUid };
  }
  // Recorded but gone: write it again under its version.
  const built = same ? build(images, masks, labels, scope, (version = same.version), { user: deps.user, appVersion: deps.appVersion, now }) : probe;

  const scopeName = scope === 'project' ? 'project' : `${images[0]!.id}-${safeName(stem(images[0]!.fileName))}`;
  const folder = `exports/coco/${scopeName}-v${version}`;
  const final = path.join(projectDir, folder);
  const tmp = path.join(projectDir, 'exports', 'coco', `.tmp-${randomUUID().slice(0, 8)}`);
  mkdirSync(path.join(tmp, 'images'), { recursive: true });
  mkdirSync(path.join(tmp, 'masks'), { recursive: true });
  try {
    let reported = 0;
    for (const [i, c] of built.copies.entries()) {
      if (deps.signal?.aborted) throw new ApiError('conflict', 'The COCO export was cancelled; nothing was written');
      const from = insideProject(projectDir, c.from);
      if (!from) throw new ApiError('bad_request', `The stored path of ${c.to} leads out of the project; it is not exported`, c.from);
      try {
        copyFileSync(from, path.join(tmp, c.to));
      } catch (e) {
        throw new ApiError('io', `${c.from} could not be copied into the COCO export (${(e as Error).message})`, c.from);
      }
      for (const f of built.frames.get(c.imageId) ?? []) writeFileSync(path.join(tmp, f.maskFile), labelPng(f));
      if (performance.now() - reported > 200 || i === built.copies.length - 1) {
        deps.onProgress?.(i + 1, built.copies.length);
        // Let the host answer other requests (and a cancel) between images.
        await new Promise((r) => setImmediate(r));
        reported = performance.now();
      }
    }
    writeFileSync(path.join(tmp, 'annotations.json'), JSON.stringify(built.json));
    rmSync(final, { recursive: true, force: true }); // a folder left by an export that was never recorded
    renameSync(tmp, final);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  if (!same) {
    recordExport(
      db,
      {
        kind: 'coco',
        sourceSeriesUid: scope,
        file: folder,
        sopInstanceUid: built.uid,
        seriesInstanceUid: built.uid,
        version,
        masksHash: built.hash,
        masks: masks.map((m) => [m.id, m.updatedAt]),
        models: [...new Set(masks.flatMap((m) => (m.modelId ? [m.modelId] : [])))].sort(),
        replaces: previous?.sopInstanceUid ?? null,
        frames: built.counts.images,
        segments: built.counts.annotations,
        author: deps.user,
        createdAt: now,
      },
      { imageId: imageId ?? null, detail: { folder, ...built.counts } },
    );
  }
  return { folder, ...built.counts, version, reused: false, uid: built.uid };
}
