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
import { createHash, randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ApiError } from '../../contract/api.js';
import type { CocoExportResult } from '../../contract/exports.js';
import { decodeRle, rleArea } from '../../contract/rle.js';
import { AuditRepository } from '../store/audit.repository.js';
import { countsFromBlob } from '../store/counts-blob.js';
import { ExportsRepository } from '../store/exports.repository.js';
import { LabelsRepository } from '../store/labels.repository.js';
import type { Db } from '../store/project-database.js';
import { insideProject } from '../project-folder.node.js';
import { maskBbox, toCocoRle } from './coco-rle.js';
import { encodePng16 } from './png16.node.js';
import { uidFromHash } from './seg-request.js';

export interface CocoExportDeps {
  projectDir: string;
  db: Db;
  user: string;
  appVersion: string;
  now: () => string;
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

interface MaskRow {
  id: number;
  imageId: number;
  frame: number;
  labelId: number;
  instance: number;
  height: number;
  width: number;
  counts: Uint8Array;
  source: string;
  modelId: string | null;
  updatedAt: string;
}

const sha256hex = (s: string) => createHash('sha256').update(s).digest('hex');
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

function masksOf(db: Db, images: ImageRow[]): MaskRow[] {
  const stmt = db.prepare(
    `SELECT id, image_id AS imageId, frame, label_id AS labelId, instance, height, width, counts, source, model_id AS modelId, updated_at AS updatedAt
     FROM masks WHERE image_id = ? AND area > 0 ORDER BY frame, label_id, instance`,
  );
  return images.flatMap((i) => stmt.all(i.id) as MaskRow[]);
}

/** annotations.json and the label masks, in memory: what the folder will hold. */
function build(images: ImageRow[], masks: MaskRow[], labels: { id: number; name: string; color: string }[], scope: string, version: number, info: { user: string; appVersion: string; now: string }) {
  const cocoImages: Record<string, unknown>[] = [];
  const annotations: Record<string, unknown>[] = [];
  const pngs: { file: string; values: Uint16Array; width: number; height: number }[] = [];
  const copies: { from: string; to: string }[] = [];
  const byFrame = new Map<string, MaskRow[]>();
  for (const m of masks) byFrame.set(`${m.imageId}:${m.frame}`, [...(byFrame.get(`${m.imageId}:${m.frame}`) ?? []), m]);
  for (const img of images) {
    const file = `images/${img.id}-${safeName(img.fileName)}`;
    copies.push({ from: img.mediaPath, to: file });
    for (let frame = 0; frame < img.frames; frame++) {
      const cocoId = cocoImages.length + 1;
      const maskFile = `masks/${img.id}-${safeName(stem(img.fileName))}${img.frames > 1 ? `-f${frame}` : ''}.png`;
      cocoImages.push({ id: cocoId, file_name: file, width: img.width, height: img.height, ...(img.frames > 1 ? { frame } : {}), mask_file: maskFile, sha256: img.sha256 });
      const values = new Uint16Array(img.width * img.height);
      const here = byFrame.get(`${img.id}:${frame}`) ?? [];
      if (here.length > 0xffff) throw new ApiError('bad_request', `${img.fileName} has more masks than a 16-bit label mask can number`);
      here.forEach((m, k) => {
        const rle = { size: [m.height, m.width] as [number, number], counts: countsFromBlob(m.counts) };
        if (m.height !== img.height || m.width !== img.width) throw new ApiError('io', `A mask of ${img.fileName} is ${m.width}x${m.height}, not the image's ${img.width}x${img.height}`);
        const pixels = decodeRle(rle);
        for (let i = 0; i < pixels.length; i++) if (pixels[i]) values[i] = k + 1;
        annotations.push({
          id: annotations.length + 1,
          image_id: cocoId,
          category_id: m.labelId,
          segmentation: toCocoRle(rle),
          area: rleArea(rle),
          bbox: maskBbox(pixels, m.height, m.width),
          iscrowd: 0,
          instance: m.instance,
          frame: m.frame,
          source: m.source,
          model_id: m.modelId,
          mask_value: k + 1,
        });
      });
      pngs.push({ file: maskFile, values, width: img.width, height: img.height });
    }
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
  return { json, pngs, copies, hash, uid, counts: { images: cocoImages.length, annotations: annotations.length, categories: categories.length } };
}

export function exportCoco(imageId: number | undefined, deps: CocoExportDeps): CocoExportResult {
  const { db, projectDir } = deps;
  const { scope, images } = imagesFor(db, imageId);
  const masks = masksOf(db, images);
  const labels = new LabelsRepository(db).list();
  const repo = new ExportsRepository(db);
  const previous = repo.latest('coco', scope);
  let version = (previous?.version ?? 0) + 1;
  const now = deps.now();
  const probe = build(images, masks, labels, scope, version, { user: deps.user, appVersion: deps.appVersion, now });
  const same = repo.byHash('coco', scope, probe.hash);
  if (same && existsSync(path.join(projectDir, same.file, 'annotations.json'))) {
    return { folder: same.file, ...probe.counts, version: same.version, reused: true };
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
    for (const c of built.copies) {
      const from = insideProject(projectDir, c.from);
      if (!from) throw new ApiError('bad_request', `The stored path of ${c.to} leads out of the project; it is not exported`, c.from);
      try {
        copyFileSync(from, path.join(tmp, c.to));
      } catch (e) {
        throw new ApiError('io', `${c.from} could not be copied into the COCO export (${(e as Error).message})`, c.from);
      }
    }
    for (const p of built.pngs) writeFileSync(path.join(tmp, p.file), encodePng16(p.values, p.width, p.height));
    writeFileSync(path.join(tmp, 'annotations.json'), JSON.stringify(built.json));
    rmSync(final, { recursive: true, force: true }); // a folder left by an export that was never recorded
    renameSync(tmp, final);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  if (!same) {
    db.transaction(() => {
      const id = repo.insert({
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
      });
      new AuditRepository(db).record({ at: now, author: deps.user, action: 'create', entity: 'export', entityId: id, imageId: imageId ?? null, detail: { kind: 'coco', folder, version, ...built.counts } });
    }).immediate();
  }
  return { folder, ...built.counts, version, reused: false };
}
