/**
 * DICOM Segmentations (and images) whose header claims more pixels than a study file holds:
 * a compressed frame costs a few bytes whatever size it claims, so the size is checked before
 * anything is decoded (one limit for images and SEGs, dicom-header.ts), the RLE decoder refuses
 * to allocate past it, and a SEG is checked against the project's images (its sources there,
 * of its size) before its frames are decoded. Then: an import holds no SEG's bytes until its
 * end, reports progress while it attaches SEGs, and a cancel stops before the next SEG.
 *
 * Every file is written here (dcmjs); real SQLite, no Python.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { decodeDicomFrame, parseDicomFile } from '../../electron/services/imaging/dicom-file.js';
import { MAX_FRAME_PIXELS } from '../../electron/services/imaging/dicom-header.js';
import { decodeDicomRle } from '../../electron/services/imaging/dicom-rle.js';
import { FileProblem } from '../../electron/services/imaging/file-problem.js';
import { SEGMENTATION_STORAGE } from '../../electron/services/imaging/sop-classes.js';
import { sourcesFromPaths, type ImportSource } from '../../electron/services/importer/import-sources.js';
import { ImportService } from '../../electron/services/importer/import.service.js';
import { parseSeg } from '../../electron/services/importer/seg-import.js';
import type { ProjectService } from '../../electron/services/index.js';
import { AuditRepository } from '../../electron/services/store/audit.repository.js';
import { ImagesRepository } from '../../electron/services/store/images.repository.js';
import { CT_IMAGE_STORAGE, TS, int16PixelModule, le, writeDicom } from '../fixtures/dicom-writer.js';
import { newProject, removeDir, tempDir } from './helpers.js';

const ROOT = '1.2.826.0.1.3680043.10.1234.77';
const CT_SOP = `${ROOT}.1.1`;
const SIZE = 32;

/** One RLE frame of one 8-bit segment: `runs` runs of 128 bytes of 0xFF (PackBits: -127, value). */
function rleFrame(runs: number, segments = 1): Uint8Array {
  const f = new Uint8Array(64 + 2 * runs);
  const v = new DataView(f.buffer);
  v.setUint32(0, segments, true);
  for (let s = 0; s < segments; s++) v.setUint32(4 + 4 * s, 64, true);
  for (let r = 0; r < runs; r++) f.set([0x81, 0xff], 64 + 2 * r);
  return f;
}

/** A FRACTIONAL SEG, RLE-compressed: `frames` frames of segment 1, each derived from `ref` when given. */
function seg(o: { rows: number; columns: number; frames: number; pixelFrames: Uint8Array[]; ref?: string; label?: string; sop?: string }): Buffer {
  return writeDicom(
    {
      SOPClassUID: SEGMENTATION_STORAGE,
      SOPInstanceUID: o.sop ?? `${ROOT}.9.1`,
      StudyInstanceUID: `${ROOT}.1`,
      SeriesInstanceUID: `${ROOT}.9`,
      Modality: 'SEG',
      SegmentationType: 'FRACTIONAL',
      MaximumFractionalValue: 255,
      Rows: o.rows,
      Columns: o.columns,
      NumberOfFrames: String(o.frames),
      SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME2',
      BitsAllocated: 8,
      BitsStored: 8,
      HighBit: 7,
      PixelRepresentation: 0,
      SegmentSequence: [{ SegmentNumber: 1, SegmentLabel: o.label ?? 'x', SegmentAlgorithmType: 'MANUAL' }],
      PerFrameFunctionalGroupsSequence: Array.from({ length: o.frames }, () => ({
        SegmentIdentificationSequence: [{ ReferencedSegmentNumber: 1 }],
        ...(o.ref ? { DerivationImageSequence: [{ SourceImageSequence: [{ ReferencedSOPClassUID: CT_IMAGE_STORAGE, ReferencedSOPInstanceUID: o.ref }] }] } : {}),
      })),
    },
    { transferSyntax: TS.rle, pixelFrames: o.pixelFrames },
  );
}

/** The 65535 x 65535 FRACTIONAL SEG of the review: one frame of 4 bytes of runs. */
const bomb = () => seg({ rows: 65535, columns: 65535, frames: 1, pixelFrames: [rleFrame(1)] });

function ctImage(): Buffer {
  return writeDicom(
    { SOPClassUID: CT_IMAGE_STORAGE, SOPInstanceUID: CT_SOP, StudyInstanceUID: `${ROOT}.1`, SeriesInstanceUID: `${ROOT}.2`, Modality: 'CT', ...int16PixelModule(SIZE, SIZE) },
    { transferSyntax: TS.explicitLE, pixelFrames: [le(new Int16Array(SIZE * SIZE))] },
  );
}

const problem = (re: RegExp) => (e: unknown) => e instanceof FileProblem && re.test(e.message);

test('a 65535 x 65535 RLE SEG of a few hundred bytes is refused before a frame is decoded', async () => {
  const bytes = bomb();
  assert.ok(bytes.length < 2000, `${bytes.length} bytes`);
  const rss = process.memoryUsage().rss;
  const t0 = performance.now();
  await assert.rejects(parseSeg(bytes), problem(/65535 x 65535 pixels, more than the 268435456 pixels/));
  const ms = performance.now() - t0;
  assert.ok(ms < 1000, `${ms.toFixed(0)} ms`);
  assert.ok(process.memoryUsage().rss - rss < 100e6, 'no frame-sized allocation');
});

test('frames x rows x columns past the file limit is refused too (each frame under the frame limit)', async () => {
  // 300 frames of 4096 x 4096: 5.0e9 pixels, past 2^32; 136 bytes a frame on disk.
  const bytes = seg({ rows: 4096, columns: 4096, frames: 300, pixelFrames: Array.from({ length: 300 }, () => rleFrame(36)) });
  const t0 = performance.now();
  await assert.rejects(parseSeg(bytes), problem(/300 frames of 4096 x 4096 pixels add up to more than the 4294967296 pixels/));
  assert.ok(performance.now() - t0 < 1000);
});

test('the RLE decoder refuses an output past the frame limit, whatever it is asked', () => {
  assert.throws(() => decodeDicomRle(rleFrame(1), { rows: 65535, columns: 65535, samplesPerPixel: 1, bitsAllocated: 8 }), /larger than the 268435456-pixel limit/);
  const side = Math.sqrt(MAX_FRAME_PIXELS);
  assert.throws(() => decodeDicomRle(rleFrame(1), { rows: side + 1, columns: side, samplesPerPixel: 1, bitsAllocated: 8 }), /limit/);
  assert.equal(decodeDicomRle(rleFrame(1), { rows: 8, columns: 16, samplesPerPixel: 1, bitsAllocated: 8 }).length, 128, 'a frame within the limit decodes');
});

test('an image claiming the same size is refused with the same limit', async () => {
  const huge = writeDicom(
    { SOPClassUID: CT_IMAGE_STORAGE, SOPInstanceUID: `${ROOT}.3.1`, StudyInstanceUID: `${ROOT}.1`, SeriesInstanceUID: `${ROOT}.3`, Modality: 'CT', ...int16PixelModule(65535, 65535) },
    { transferSyntax: TS.rle, pixelFrames: [rleFrame(1, 2)] },
  );
  assert.throws(() => parseDicomFile(huge), problem(/65535 x 65535 pixels, more than the 268435456 pixels/));
  // Under the limit, the same kind of file decodes.
  const small = writeDicom(
    { SOPClassUID: CT_IMAGE_STORAGE, SOPInstanceUID: `${ROOT}.3.2`, StudyInstanceUID: `${ROOT}.1`, SeriesInstanceUID: `${ROOT}.3`, Modality: 'CT', ...int16PixelModule(8, 16) },
    { transferSyntax: TS.rle, pixelFrames: [rleFrame(1, 2)] },
  );
  assert.equal((await decodeDicomFrame(parseDicomFile(small), 0)).width, 16);
});

let s: ProjectService;
let dir: string;
let files: string;

before(async () => {
  ({ s, dir } = newProject());
  files = tempDir('seg-size');
  const report = await s['images.importFiles']({ files: [{ name: 'ct.dcm', bytes: new Uint8Array(ctImage()) }] });
  assert.equal(report.imported.length, 1, JSON.stringify(report.failed));
});

after(async () => {
  await s.close();
  removeDir(path.dirname(dir));
  removeDir(files);
});

test('a SEG is checked against the images it refers to before its frames are decoded', async () => {
  // Frames that cannot be decoded (two RLE segments for 8-bit samples): were they decoded first,
  // the report would say "cannot be read"; it names the size, or the missing sources, instead.
  const broken = [rleFrame(8, 2)];
  const r = await s['images.importFiles']({
    files: [
      { name: 'bigger.dcm', bytes: new Uint8Array(seg({ rows: 2 * SIZE, columns: 2 * SIZE, frames: 1, pixelFrames: broken, ref: CT_SOP, sop: `${ROOT}.9.2` })) },
      { name: 'elsewhere.dcm', bytes: new Uint8Array(seg({ rows: SIZE, columns: SIZE, frames: 1, pixelFrames: broken, ref: `${ROOT}.404`, sop: `${ROOT}.9.3` })) },
      { name: 'bomb.dcm', bytes: new Uint8Array(bomb()) },
      { name: 'fits.dcm', bytes: new Uint8Array(seg({ rows: SIZE, columns: SIZE, frames: 1, pixelFrames: broken, ref: CT_SOP, sop: `${ROOT}.9.4` })) },
    ],
  });
  const failed = new Map(r.failed.map((f) => [f.file, f]));
  assert.equal(failed.get('bigger.dcm')?.code, 'unsupported_format');
  assert.match(failed.get('bigger.dcm')!.reason, /frames are 64 x 64 pixels, a different size from the images they refer to/);
  assert.equal(failed.get('elsewhere.dcm')?.code, 'seg_sources_missing');
  assert.match(failed.get('bomb.dcm')!.reason, /cannot be read: .*65535 x 65535 pixels, more than/);
  // Of the right size, on an image here: only then are its frames decoded (and these fail).
  assert.match(failed.get('fits.dcm')!.reason, /cannot be read: The compressed image data of frame 1 could not be decoded/);
  assert.equal(r.segmentations, undefined);
});

test('SEGs are read again from their files when attached, with progress, and a cancel stops before the next one', async () => {
  const p = s.openProject()!;
  const importer = new ImportService({ db: p.db, images: new ImagesRepository(p.db), audit: new AuditRepository(p.db), projectDir: p.dir, user: 'tester', now: () => new Date().toISOString() });
  const valid = (label: string, sop: string) => seg({ rows: SIZE, columns: SIZE, frames: 1, pixelFrames: [rleFrame((SIZE * SIZE) / 128)], ref: CT_SOP, label, sop });
  writeFileSync(path.join(files, 'a-seg.dcm'), valid('Liver', `${ROOT}.9.10`));
  writeFileSync(path.join(files, 'b-seg.dcm'), valid('Spleen', `${ROOT}.9.11`));
  writeFileSync(path.join(files, 'c-seg.dcm'), valid('Kidney', `${ROOT}.9.12`));
  const { sources } = await sourcesFromPaths([files]);
  const reads = new Map<string, number>();
  const counted: ImportSource[] = sources.map((src) => ({
    ...src,
    read: () => {
      reads.set(src.fileName, (reads.get(src.fileName) ?? 0) + 1);
      return src.read();
    },
  }));
  const controller = new AbortController();
  const seen: { done: number; total: number }[] = [];
  const report = await importer.importSources(counted, {
    signal: controller.signal,
    onProgress: ({ segmentations }) => {
      if (!segmentations) return;
      seen.push(segmentations);
      if (segmentations.done === 1) controller.abort(); // while the second SEG is attached
    },
  });
  assert.deepEqual(seen, [{ done: 0, total: 3 }, { done: 1, total: 3 }]);
  assert.deepEqual(report.segmentations?.map((x) => [path.basename(x.file), x.written]), [['a-seg.dcm', 1], ['b-seg.dcm', 1]], 'the SEG under way when cancelled ends');
  assert.equal(report.cancelled, 1, 'the one after it is not attached');
  assert.equal(report.failed.length, 0, JSON.stringify(report.failed));
  // Recognised when read, read again when attached: their bytes were not held in between.
  assert.deepEqual(Object.fromEntries(reads), { 'a-seg.dcm': 2, 'b-seg.dcm': 2, 'c-seg.dcm': 1 });
});
