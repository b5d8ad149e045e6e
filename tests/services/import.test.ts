/**
 * Import of the generated corpus through the project service, as the renderer calls it:
 * every file's outcome, grouping, slice order, and decoded pixels against the phantom.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { methods, type ImageSummary, type ImportReport } from '../../electron/contract/api.js';
import { encodeRle } from '../../electron/contract/rle.js';
import type { ProjectService } from '../../electron/services/index.js';
import {
  CT, JPEG_DICOM, MONO1, MULTIFRAME, RASTER, RGB, colourValue, ctFileName, ctStored, grey16Value, grey8Value, jpegValue,
  mono1Value, multiframeValue, rgbValue, rleValue, type Expected,
} from '../fixtures/generate-corpus.js';
import { newProject, removeDir, sample, sharedCorpus } from './helpers.js';

describe('import of the generated corpus', () => {
  let s: ProjectService;
  let projectDir: string;
  let corpusDir: string;
  let manifest: Record<string, Expected>;
  let report: ImportReport;
  let images: ImageSummary[];
  const byName = (name: string) => {
    const i = images.find((x) => x.fileName === name);
    assert.ok(i, `${name} imported`);
    return i;
  };

  before(async () => {
    ({ dir: corpusDir, manifest } = await sharedCorpus());
    ({ s, dir: projectDir } = newProject());
    report = await s['images.importPaths']({ paths: [corpusDir] });
    images = await s['images.list']({});
  });
  after(() => {
    s.close();
    removeDir(path.dirname(projectDir));
  });

  test('every file has the expected outcome; failures name the file and why', () => {
    const rel = (f: string) => path.relative(corpusDir, f).split(path.sep).join('/');
    const outcome = new Map<string, string>();
    for (const i of report.imported) outcome.set(rel(i.file), 'imported');
    for (const f of report.failed) outcome.set(rel(f.file), `failed:${f.code}`);
    for (const [file, exp] of Object.entries(manifest)) {
      assert.equal(outcome.get(file), exp.outcome === 'imported' ? 'imported' : `failed:${exp.code}`, file);
    }
    assert.equal(report.imported.length + report.failed.length, Object.keys(manifest).length);
    assert.equal(report.duplicates.length, 0);
    const unsupported = report.failed.find((f) => f.code === 'unsupported_syntax')!;
    assert.match(unsupported.reason, /compressed as MPEG2 Main Profile/);
    assert.match(unsupported.detail ?? '', /1\.2\.840\.10008\.1\.2\.4\.100/);
    for (const f of report.failed) assert.ok(path.isAbsolute(f.file) && f.reason.length > 5);
    assert.equal(images.length, report.imported.length);
    // the media copies exist, named by content hash
    const media = readdirSync(path.join(projectDir, 'media'));
    assert.equal(media.length, report.imported.length);
    for (const m of media) assert.match(m, /^[0-9a-f]{64}\.(dcm|png|jpg|tif|bmp)$/);
  });

  test('CT slices: grouped by patient/study/series, ordered by IPP (not file name or InstanceNumber)', async () => {
    const ct = images.filter((i) => i.seriesUid === CT.seriesUid).sort((a, b) => a.seriesIndex - b.seriesIndex);
    assert.equal(ct.length, CT.slices);
    assert.deepEqual(ct.map((i) => i.fileName), Array.from({ length: CT.slices }, (_, k) => ctFileName(k)));
    for (const i of ct) {
      assert.equal(i.patientName, 'Phantom, Ct');
      assert.equal(i.patientId, CT.patientId);
      assert.equal(i.studyUid, CT.studyUid);
      assert.equal(i.modality, 'CT');
      assert.equal(i.seriesNumber, 3);
      assert.equal(i.status, 'unlabelled');
    }
    const d = await s['image.get']({ imageId: ct[0]!.id });
    assert.deepEqual(d.windows, CT.windows);
    assert.equal(d.rescaleIntercept, CT.intercept);
    assert.equal(d.rescaleSlope, CT.slope);
    assert.deepEqual(d.pixelSpacing, [CT.spacing, CT.spacing]);
    assert.equal(d.bitsStored, 12);
    assert.equal(d.signed, true);
    assert.equal(d.transferSyntax, '1.2.840.10008.1.2.1');
  });

  test('CT pixels: stored values and HU after rescale at known positions, including the lesion', async () => {
    const ct = images.filter((i) => i.seriesUid === CT.seriesUid);
    for (const k of [0, CT.lesion.slice, CT.slices - 1]) {
      const img = ct.find((i) => i.seriesIndex === k)!;
      const f = await s['image.pixels']({ imageId: img.id, frame: 0 });
      assert.equal(f.dtype, 'int16');
      assert.equal(f.photometric, 'MONOCHROME2');
      for (const [x, y] of [[0, 0], [128, 128], [CT.lesion.cx, CT.lesion.cy], [5, 5], [200, 140]] as const) {
        assert.equal(sample(f, x, y), ctStored(x, y, k), `slice ${k} (${x},${y})`);
      }
      assert.equal(sample(f, 0, 0), CT.paddingStored); // negative 12-bit value survived
    }
    const lesionSlice = ct.find((i) => i.seriesIndex === CT.lesion.slice)!;
    const f = await s['image.pixels']({ imageId: lesionSlice.id, frame: 0 });
    const hu = (x: number, y: number) => sample(f, x, y) * f.rescaleSlope + f.rescaleIntercept;
    assert.equal(hu(CT.lesion.cx, CT.lesion.cy), CT.lesion.hu);
    assert.equal(hu(10, 128), CT.airHu);
    assert.equal(f.minValue, CT.paddingStored);
  });

  test('MONOCHROME1 12-bit: flagged, junk high bits masked', async () => {
    const img = byName('mono1.dcm');
    const f = await s['image.pixels']({ imageId: img.id, frame: 0 });
    assert.equal(f.photometric, 'MONOCHROME1');
    assert.equal(f.dtype, 'uint16');
    for (const [x, y] of [[0, 0], [3, 0], [63, 47], [10, 20]] as const) assert.equal(sample(f, x, y), mono1Value(x, y), `(${x},${y})`);
    assert.deepEqual((await s['image.get']({ imageId: img.id })).pixelSpacing, [0.15, 0.15]); // ImagerPixelSpacing
  });

  test('RGB planar configuration 1 becomes interleaved RGB', async () => {
    const f = await s['image.pixels']({ imageId: byName('rgb_planar.dcm').id, frame: 0 });
    assert.equal(f.samplesPerPixel, 3);
    assert.equal(f.photometric, 'RGB');
    for (const [x, y] of [[0, 0], [31, 23], [7, 13]] as const) {
      assert.deepEqual([0, 1, 2].map((c) => sample(f, x, y, c)), rgbValue(x, y));
    }
    assert.equal(f.width, RGB.width);
  });

  test('multi-frame: frame count and each frame decoded', async () => {
    const img = byName('multiframe.dcm');
    assert.equal(img.frames, MULTIFRAME.frames);
    for (const fr of [0, 3, 4]) {
      const f = await s['image.pixels']({ imageId: img.id, frame: fr });
      assert.equal(sample(f, 10, 20), multiframeValue(10, 20, fr));
    }
    await assert.rejects(Promise.resolve().then(() => s['image.pixels']({ imageId: img.id, frame: 5 })), /has 5 frame/);
  });

  test('JPEG baseline DICOM decodes within tolerance; RLE DICOM decodes exactly', async () => {
    const j = await s['image.pixels']({ imageId: byName('jpeg_baseline.dcm').id, frame: 0 });
    assert.equal(j.photometric, 'RGB');
    let worst = 0;
    for (let y = 0; y < JPEG_DICOM.height; y += 7)
      for (let x = 0; x < JPEG_DICOM.width; x += 5)
        jpegValue(x, y).forEach((v, c) => (worst = Math.max(worst, Math.abs(sample(j, x, y, c) - v))));
    assert.ok(worst <= JPEG_DICOM.tolerance, `JPEG error ${worst}`);
    const r = await s['image.pixels']({ imageId: byName('rle.dcm').id, frame: 0 });
    assert.equal(r.dtype, 'int16');
    for (let y = 0; y < 40; y += 3) for (let x = 0; x < 64; x += 5) assert.equal(sample(r, x, y), rleValue(x, y), `(${x},${y})`);
  });

  test('rasters: 8/16-bit grey and colour PNG, JPEG, BMP, 16-bit TIFF; grouped by folder', async () => {
    const grey8 = await s['image.pixels']({ imageId: byName('grey8.png').id, frame: 0 });
    const grey16 = await s['image.pixels']({ imageId: byName('grey16.png').id, frame: 0 });
    const tif = await s['image.pixels']({ imageId: byName('weld16.tif').id, frame: 0 });
    const png = await s['image.pixels']({ imageId: byName('colour.png').id, frame: 0 });
    const bmp = await s['image.pixels']({ imageId: byName('board.bmp').id, frame: 0 });
    const jpg = await s['image.pixels']({ imageId: byName('colour.jpg').id, frame: 0 });
    assert.equal(grey8.dtype, 'uint8');
    assert.equal(grey16.dtype, 'uint16');
    assert.equal(tif.dtype, 'uint16');
    for (const [x, y] of [[0, 0], [39, 29], [17, 11]] as const) {
      assert.equal(sample(grey8, x, y), grey8Value(x, y));
      assert.equal(sample(grey16, x, y), grey16Value(x, y));
      assert.equal(sample(tif, x, y), grey16Value(x, y));
      assert.deepEqual([0, 1, 2].map((c) => sample(png, x, y, c)), colourValue(x, y));
      assert.deepEqual([0, 1, 2].map((c) => sample(bmp, x, y, c)), colourValue(x, y));
      // R and G are smooth ramps; B is (x*y)&255, texture that 4:2:0 chroma subsampling cannot keep, so it is not compared
      colourValue(x, y).slice(0, 2).forEach((v, c) => assert.ok(Math.abs(sample(jpg, x, y, c) - v) <= 16, `jpg (${x},${y}) c${c}`));
    }
    // 16-bit window derived from the pixel range
    const d16 = await s['image.get']({ imageId: byName('weld16.tif').id });
    assert.equal(d16.windows[0]!.center, (grey16Value(0, 0) + grey16Value(RASTER.width - 1, RASTER.height - 1)) / 2);
    const folders = new Set(images.filter((i) => i.kind === 'raster').map((i) => i.folder));
    assert.deepEqual([...folders].sort(), ['corpus/raster', 'corpus/raster/inspection']);
    const inspection = images.filter((i) => i.folder === 'corpus/raster/inspection').sort((a, b) => a.seriesIndex - b.seriesIndex);
    assert.deepEqual(inspection.map((i) => i.fileName), ['board.bmp', 'colour.png', 'weld16.tif']);
  });

  test('every result conforms to the contract result schema (what the transports may validate)', async () => {
    const check = (m: keyof typeof methods, value: unknown) => {
      const r = methods[m].result.safeParse(value);
      assert.ok(r.success, `${m}: ${r.success ? '' : r.error.message}`);
    };
    check('images.importPaths', report);
    check('images.list', images);
    check('project.current', s['project.current']({}));
    check('app.info', s['app.info']({}));
    check('labels.list', s['labels.list']({}));
    for (const img of images) {
      check('image.get', await s['image.get']({ imageId: img.id }));
      check('image.pixels', await s['image.pixels']({ imageId: img.id, frame: 0 }));
    }
    const img = byName('grey8.png');
    const saved = s['masks.save']({ imageId: img.id, frame: 0, labelId: 1, instance: 1, rle: encodeRle(new Uint8Array(img.width * img.height).fill(1, 0, 50), img.height, img.width), source: 'brush' });
    check('masks.save', saved);
    check('masks.list', s['masks.list']({ imageId: img.id }));
    check('audit.list', s['audit.list']({ limit: 500 }));
    check('image.thumbnail', await s['image.thumbnail']({ imageId: img.id }));
    s['masks.delete']({ imageId: img.id, frame: 0, labelId: 1, instance: 1 });
  });

  test('thumbnails are PNGs no larger than 128 px', async () => {
    for (const name of [ctFileName(CT.lesion.slice), 'mono1.dcm', 'weld16.tif', 'colour.jpg']) {
      const { png } = await s['image.thumbnail']({ imageId: byName(name).id });
      const meta = await sharp(png).metadata();
      assert.equal(meta.format, 'png');
      assert.ok(Math.max(meta.width!, meta.height!) <= 128);
    }
  });

  test('re-importing the same content is detected by hash, not duplicated', async () => {
    const again = await s['images.importPaths']({ paths: [path.join(corpusDir, 'ct'), path.join(corpusDir, 'raster', 'grey8.png')] });
    assert.equal(again.imported.length, 0);
    assert.equal(again.duplicates.length, CT.slices + 1);
    const grey8 = byName('grey8.png');
    assert.equal(again.duplicates.find((d) => d.file.endsWith('grey8.png'))!.imageId, grey8.id);
    // the same bytes sent by the renderer under another name are also duplicates
    const bytes = new Uint8Array(readFileSync(path.join(corpusDir, 'dicom', 'rle.dcm')));
    const up = await s['images.importFiles']({ files: [{ name: 'renamed.dcm', bytes }, { name: 'again/renamed2.dcm', bytes }] });
    assert.equal(up.imported.length, 0);
    assert.deepEqual(up.duplicates.map((d) => d.imageId), [byName('rle.dcm').id, byName('rle.dcm').id]);
    assert.equal((await s['images.list']({})).length, images.length);
  });

  test('re-importing a file whose media copy was emptied or lost repairs it', async () => {
    const grey8 = byName('grey8.png');
    const original = readFileSync(path.join(corpusDir, 'raster', 'grey8.png'));
    const detail = s['image.get']({ imageId: grey8.id });
    const media = path.join(projectDir, 'media', readdirSync(path.join(projectDir, 'media')).find((f) => f.startsWith(detail.sha256))!);
    truncateSync(media, 0); // what a power cut before the data reached the disk can leave
    const again = await s['images.importPaths']({ paths: [path.join(corpusDir, 'raster', 'grey8.png')] });
    assert.deepEqual(again.duplicates.map((d) => d.imageId), [grey8.id]);
    assert.ok(readFileSync(media).equals(original), 'media file rewritten from the re-imported content');
    rmSync(media);
    await s['images.importPaths']({ paths: [path.join(corpusDir, 'raster', 'grey8.png')] });
    assert.ok(readFileSync(media).equals(original), 'a lost media file is restored too');
    assert.ok(!readdirSync(path.join(projectDir, 'media')).some((f) => f.endsWith('.tmp')), 'no temp files left');
  });
});
