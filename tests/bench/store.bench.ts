/**
 * Store benchmarks:
 * - mask save latency: brush-like edits on a 512x512 image, each a full masks.save
 *   (validate, RLE area, upsert, audit, commit). Goal: < 20 ms per edit. RLE encoding of
 *   the mask (done in the renderer) is timed separately.
 * - project open time with 5,000 images (rows generated directly in the DB): project.open,
 *   then images.list. Goal: < 1 s.
 *
 *   node --import tsx tests/bench/store.bench.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeRle } from '../../electron/contract/rle.js';
import { createServices, PROJECT_DB } from '../../electron/services/index.js';
import { AuditRepository } from '../../electron/services/store/audit.repository.js';
import { ImagesRepository, type NewImage } from '../../electron/services/store/images.repository.js';
import { MasksRepository } from '../../electron/services/store/masks.repository.js';
import { openProjectDatabase } from '../../electron/services/store/project-database.js';
import { generateBenchSeries } from '../fixtures/generate-corpus.js';

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => Number(s[Math.min(s.length - 1, Math.floor(p * s.length))]!.toFixed(3));
  return { median: q(0.5), p95: q(0.95), max: q(1), n: s.length };
}

async function maskSaveLatency(root: string) {
  const size = 512;
  const [file] = generateBenchSeries(path.join(root, 'one'), 1, size);
  const s = createServices({ user: 'bench', transport: 'browser', version: 'bench' });
  s['project.create']({ path: path.join(root, 'masks-project') });
  const { imported } = await s['images.importPaths']({ paths: [file!] });
  const imageId = imported[0]!.imageId;
  const mask = new Uint8Array(size * size);
  const encodeMs: number[] = [];
  const saveMs: number[] = [];
  for (let edit = 0; edit < 300; edit++) {
    // a brush dab of radius 12 moving along a spiral, as a stroke would
    const a = edit * 0.15;
    const cx = Math.round(256 + Math.cos(a) * (40 + edit * 0.5));
    const cy = Math.round(256 + Math.sin(a) * (40 + edit * 0.5));
    for (let y = cy - 12; y <= cy + 12; y++)
      for (let x = cx - 12; x <= cx + 12; x++)
        if (x >= 0 && y >= 0 && x < size && y < size && (x - cx) ** 2 + (y - cy) ** 2 <= 144) mask[y * size + x] = 1;
    let t = performance.now();
    const rle = encodeRle(mask, size, size);
    encodeMs.push(performance.now() - t);
    t = performance.now();
    s['masks.save']({ imageId, frame: 0, labelId: 1, instance: 1 + (edit % 3), rle, source: 'sam', prompts: { points: [{ x: edit % 512, y: 7, label: 1 }] } });
    saveMs.push(performance.now() - t);
  }
  s.close();
  const save = stats(saveMs);
  return { image: `${size}x${size}`, edits: saveMs.length, saveMs: save, encodeRleMs: stats(encodeMs), goalMs: 20, meetsGoal: save.p95 < 20 };
}

function fakeImage(i: number): NewImage {
  const series = Math.floor(i / 100);
  return {
    sha256: i.toString(16).padStart(64, '0'), kind: 'dicom', format: 'dicom', fileName: `img_${i}.dcm`, folder: `study${series % 10}`,
    mediaPath: `media/${i}.dcm`, byteSize: 524_288, width: 512, height: 512, frames: 1, samplesPerPixel: 1, bitsAllocated: 16,
    bitsStored: 12, signed: true, photometric: 'MONOCHROME2', rescaleSlope: 1, rescaleIntercept: -1024, pixelSpacing: [0.7, 0.7],
    windows: [{ center: 40, width: 400 }], transferSyntax: '1.2.840.10008.1.2.1', modality: 'CT',
    patientName: `Patient ${series % 25}`, patientId: `P${series % 25}`, studyUid: `1.2.3.${series % 10}`, studyDescription: 'CT',
    seriesUid: `1.2.3.${series % 10}.${series}`, seriesDescription: 'AXIAL', seriesNumber: series, sopInstanceUid: `1.2.3.4.${i}`,
    instanceNumber: i % 100, slicePosition: i % 100, 
  };
}

function projectOpen(root: string, count = 5000) {
  const dir = path.join(root, 'big-project');
  const s = createServices({ user: 'bench', transport: 'browser', version: 'bench' });
  s['project.create']({ path: dir });
  s.close();
  const db = openProjectDatabase(path.join(dir, PROJECT_DB), { create: false });
  const images = new ImagesRepository(db);
  const masks = new MasksRepository(db);
  const audit = new AuditRepository(db);
  const at = new Date().toISOString();
  db.transaction(() => {
    for (let i = 0; i < count; i++) {
      const id = images.insert(fakeImage(i), at, 'bench');
      audit.record({ at, author: 'bench', action: 'create', entity: 'image', entityId: id, imageId: id, detail: {} });
      if (i % 5 === 0) masks.insert({ imageId: id, frame: 0, labelId: 1, instance: 1 }, { height: 512, width: 512, counts: [1000, 500, 260_644], area: 500, prompts: undefined, source: 'brush', author: 'bench', at });
    }
  })();
  db.close();
  const openMs: number[] = [];
  const listMs: number[] = [];
  let listed = 0;
  for (let run = 0; run < 5; run++) {
    const s2 = createServices({ user: 'bench', transport: 'browser', version: 'bench' });
    let t = performance.now();
    s2['project.open']({ path: dir });
    openMs.push(performance.now() - t);
    t = performance.now();
    listed = (s2['images.list']({}) as unknown[]).length;
    listMs.push(performance.now() - t);
    s2.close();
  }
  const total = openMs.map((o, k) => o + listMs[k]!);
  const t = stats(total);
  return { images: listed, openMs: stats(openMs), listMs: stats(listMs), openPlusListMs: t, goalMs: 1000, meetsGoal: t.median < 1000 };
}

export default async function storeBench() {
  const root = mkdtempSync(path.join(os.tmpdir(), 'delineate-store-bench-'));
  try {
    return { maskSave: await maskSaveLatency(root), projectOpen: projectOpen(root) };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await storeBench(), null, 2));
}
