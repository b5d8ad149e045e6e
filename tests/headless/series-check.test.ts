/**
 * checkSeries, the node's gate before a series reaches the model, on real files: with no
 * modality filter a CT series passes, but a Segmentation (the node's own output routed back by
 * a PACS) or any other non-image object is skipped with a sentence naming it; a series of more
 * instances or more bytes than the node takes is skipped before anything is parsed. A job whose
 * series received an instance while it ran writes and sends no SEG ('superseded'). A package's
 * fixed window is what the model sees, for its modality only.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { checkSeries, isImageStorage, runSeriesJob, SeriesSkipped, type Acceptance } from '../../electron/headless/series-job.node.js';
import type { ModelFiles } from '../../electron/services/inference/sam-engine.node.js';
import { frameForSam, type SegmentEngine } from '../../electron/services/inference/segment.js';
import { decodeDicomFrame, parseDicomFile } from '../../electron/services/imaging/dicom-file.js';
import { SEGMENTATION_STORAGE } from '../../electron/services/imaging/sop-classes.js';
import { TS, int16PixelModule, le, writeDicom } from '../fixtures/dicom-writer.js';
import { writeSeries } from './series-fixture.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'series-check-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const any: Acceptance = { modalities: [], minSize: 64, maxSize: 4096, maxInstances: 2000, maxBytes: 2 ** 31 };
const skipped = (files: string[], accept: Acceptance, why: RegExp) =>
  assert.throws(() => checkSeries(files, accept), (e: unknown) => e instanceof SeriesSkipped && why.test(e.message));

/** A single-frame object of `sopClass` with 128 x 128 pixels, as a SEG or a parametric map carries. */
function nonImage(sopClass: string, modality: string, n: number): string {
  const file = path.join(dir, `non-image-${n}.dcm`);
  const uid = `1.2.826.0.1.3680043.10.1234.67.${process.pid}.${n}`;
  writeFileSync(
    file,
    writeDicom(
      { SOPClassUID: sopClass, SOPInstanceUID: uid, StudyInstanceUID: `${uid}.1`, SeriesInstanceUID: `${uid}.2`, Modality: modality, ...int16PixelModule(128, 128) },
      { transferSyntax: TS.explicitLE, pixelFrames: [le(new Int16Array(128 * 128))] },
    ),
  );
  return file;
}

test('image storage classes are the app\'s "... Image" ones; a SEG, a parametric map, an unknown class are not', () => {
  assert.deepEqual(
    ['1.2.840.10008.5.1.4.1.1.2', '1.2.840.10008.5.1.4.1.1.4', '1.2.840.10008.5.1.4.1.1.1.1', '1.2.840.10008.5.1.4.1.1.7'].map(isImageStorage),
    [true, true, true, true],
  );
  assert.deepEqual([SEGMENTATION_STORAGE, '1.2.840.10008.5.1.4.1.1.30', '1.2.840.10008.5.1.4.1.1.481.2', '1.2.3.4', null].map(isImageStorage), [false, false, false, false, false]);
});

test('with no modality filter: a CT series passes, ordered; a SEG or a parametric map is skipped by name', () => {
  const ct = writeSeries(dir, 1, 3);
  const slices = checkSeries([...ct.files].reverse(), any);
  assert.deepEqual(slices.map((s) => path.basename(s.file)), ['0001.dcm', '0002.dcm', '0003.dcm']);
  assert.ok(slices.every((s) => !('parsed' in s)), 'only headers are kept, not every file\'s bytes');
  skipped([nonImage(SEGMENTATION_STORAGE, 'SEG', 1)], any, /non-image-1\.dcm is a Segmentation \(1\.2\.840\.10008\.5\.1\.4\.1\.1\.66\.4\), not an image/);
  skipped([...ct.files, nonImage('1.2.840.10008.5.1.4.1.1.30', 'OT', 2)], any, /Parametric Map .*not an image/);
});

test('more instances or more bytes than the node takes: skipped, naming the flag', () => {
  const ct = writeSeries(dir, 2, 3);
  skipped(ct.files, { ...any, maxInstances: 2 }, /3 instances: more than the 2 .*--max-instances/);
  skipped(ct.files, { ...any, maxBytes: 50_000 }, /0\.1 MB of instances: more than the 0\.0 MB .*--max-series-mb/);
  assert.equal(checkSeries(ct.files, { ...any, maxInstances: 3 }).length, 3);
});

test('a job whose series received an instance while it ran writes and sends no SEG', async () => {
  const series = writeSeries(dir, 9001, 2);
  // A stand-in model that finds something on every slice: without the check, the job would go
  // on to write the SEG (and fail here, with no DICOM environment at /nonexistent).
  const engine: SegmentEngine = {
    embed: async () => ({ data: new Float32Array(1), dims: [1], provider: {} as never }) as never,
    decode: async (_f, _e, req) => ({ masks: [new Uint8Array(req.origHeight * req.origWidth).fill(1)], ious: [0.9], lowRes: [], lowResSize: 0, decoder: {} as never, provider: {} as never }) as never,
  };
  let asked = 0;
  const r = await runSeriesJob(series.seriesUid, series.files, {
    engine,
    files: {} as ModelFiles,
    pkg: { name: 'p', version: '1', sha256: 'x', label: { name: 'Lesion' } as never, window: null },
    accept: any,
    python: '/nonexistent/python',
    destination: { kind: 'dimse', aeTitle: 'PACS', host: '127.0.0.1', port: 1, callingAeTitle: 'N' },
    segDir: path.join(dir, 'seg'),
    appVersion: '0',
    changed: () => (asked++, true),
  });
  assert.deepEqual(r, { state: 'superseded' });
  assert.equal(asked, 1);
});

test("a package's fixed window renders the slices of its modality; another modality keeps the stored window", async () => {
  const series = writeSeries(dir, 9002, 1); // CT, stored window PHANTOM.window (40/400)
  const seen = async (window: { center: number; width: number; modality: string } | null): Promise<Uint8Array> => {
    let rgb: Uint8Array | null = null;
    const engine: SegmentEngine = {
      embed: async (_f, image) => ((rgb = image.rgb), { data: new Float32Array(1), dims: [1], provider: {} as never }) as never,
      decode: async (_f, _e, req) => ({ masks: [new Uint8Array(req.origHeight * req.origWidth)], ious: [0.9], lowRes: [], lowResSize: 0, decoder: {} as never, provider: {} as never }) as never,
    };
    const r = await runSeriesJob(series.seriesUid, series.files, {
      engine,
      files: {} as ModelFiles,
      pkg: { name: 'p', version: '1', sha256: 'x', label: { name: 'Lesion' } as never, window },
      accept: any,
      python: '/nonexistent/python',
      destination: { kind: 'dimse', aeTitle: 'PACS', host: '127.0.0.1', port: 1, callingAeTitle: 'N' },
      segDir: path.join(dir, 'seg'),
      appVersion: '0',
    });
    assert.equal(r.state, 'done', 'nothing found: no SEG to write');
    return rgb!;
  };
  const stored = await seen(null);
  const px = await decodeDicomFrame(parseDicomFile(new Uint8Array(readFileSync(series.files[0]!))), 0);
  const liver = { center: 60, width: 160 };
  const fixed = await seen({ ...liver, modality: 'CT' });
  assert.deepEqual(fixed, frameForSam(px, [], liver).rgb, 'rendered through the package window');
  assert.notDeepEqual(fixed, stored, 'which differs from the stored 40/400 here');
  assert.deepEqual(await seen({ ...liver, modality: 'MR' }), stored, 'a CT series is not rendered through an MR window');
});
