/**
 * Measurements of a segment on an enhanced multi-frame CT (one file, every slice a frame, each
 * frame's Image Position (Patient) in its Per-frame Functional Groups), through createServices:
 *
 * - the volume is taken over the frames' positions (one uneven step among them), within 5 % of
 *   4/3·π·a·b·c and equal to that of the same lesion on the same slices as a single-frame series;
 * - the DICOM SR of the multi-frame image carries that volume;
 * - a multi-frame file whose frames have no positions still gets no volume, and says why;
 * - fill between slices on it interpolates by the frames' positions.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encodeRle } from '../../../electron/contract/rle.js';
import { dicomLock } from '../../../electron/services/dicom-export/export.service.js';
import { createServices, type Services } from '../../../electron/services/index.js';
import { findPython, runtimeEnv } from '../../../electron/services/runtime/python-path.node.js';
import { CT_IMAGE_STORAGE, TS, int16PixelModule, le, writeDicom } from '../../fixtures/dicom-writer.js';
import { ctSeries, INTERCEPT, measureStudy, LESION_A, N, ORIGIN, PS, range, ROOT, trueVolumeMl, type Series } from '../../fixtures/ellipsoid-series.js';
import { discMask, jobEnded } from '../helpers.js';

const ENHANCED_CT = '1.2.840.10008.5.1.4.1.1.2.1';
const here = path.dirname(fileURLToPath(import.meta.url));
let s: Services;
let dir: string;
let lesionLabel: number;
// 2 mm steps up to 16 mm, then 3 mm: one uneven step (16 to 19) and 3 mm beyond it.
const Z = [...range(0, 16, 2), ...range(19, 40, 3)];
let single: Series;
let singleIds: number[];
let multiId: number;
let unplacedId: number;

/**
 * The slices of `d` as the frames of one enhanced CT, written in reverse position order (the
 * stack order must come from the positions); `placed` false leaves every frame without one.
 */
function enhancedCt(d: Series, series: number, placed: boolean): Uint8Array<ArrayBuffer> {
  const order = d.z.map((_, k) => k).reverse();
  return new Uint8Array(
    writeDicom(
      {
        SOPClassUID: ENHANCED_CT,
        SOPInstanceUID: `${ROOT}.${series}.1`,
        ...measureStudy(series),
        SeriesDescription: `Enhanced ${series}`,
        InstanceNumber: 1,
        NumberOfFrames: order.length,
        SharedFunctionalGroupsSequence: [
          {
            PixelMeasuresSequence: [{ PixelSpacing: [PS, PS], SliceThickness: 7 }],
            PlaneOrientationSequence: [{ ImageOrientationPatient: [1, 0, 0, 0, 1, 0] }],
            PixelValueTransformationSequence: [{ RescaleIntercept: INTERCEPT, RescaleSlope: 1, RescaleType: 'HU' }],
          },
        ],
        PerFrameFunctionalGroupsSequence: order.map((k) =>
          placed ? { PlanePositionSequence: [{ ImagePositionPatient: [ORIGIN, ORIGIN, d.z[k]!] }] } : { FrameContentSequence: [{ FrameAcquisitionNumber: k + 1 }] },
        ),
        ...int16PixelModule(N, N),
      },
      { transferSyntax: TS.explicitLE, pixelFrames: order.map((k) => le(d.stored[k]!)) },
    ),
  );
}

/** Frame f of an enhanced file above holds slice k of the series. */
const sliceOfFrame = (f: number) => Z.length - 1 - f;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'measurements-mf-'));
  s = createServices({ user: 'Jane Doe', transport: 'browser', version: 'test' });
  await s['project.create']({ path: path.join(dir, 'proj'), name: 'Multi-frame measurements' });
  lesionLabel = (await s['labels.list']({})).find((l) => l.name === 'lesion')!.id;
  single = ctSeries(6, Z, [LESION_A]);
  const files = [...single.files, { name: 'enhanced-7.dcm', bytes: enhancedCt(single, 7, true) }, { name: 'enhanced-8.dcm', bytes: enhancedCt(single, 8, false) }];
  const report = await s['images.importFiles']({ files });
  assert.equal(report.imported.length, files.length, JSON.stringify(report.failed));
  const byName = new Map(report.imported.map((r) => [r.file, r.imageId]));
  singleIds = single.files.map((f) => byName.get(f.name)!);
  multiId = byName.get('enhanced-7.dcm')!;
  unplacedId = byName.get('enhanced-8.dcm')!;
  for (let k = 0; k < Z.length; k++) {
    const m = single.truth[k]![0]!;
    if (!m.some((v) => v)) continue;
    await s['masks.save']({ imageId: singleIds[k]!, frame: 0, labelId: lesionLabel, instance: 1, rle: encodeRle(m, N, N), source: 'brush' });
  }
  for (const id of [multiId, unplacedId]) {
    for (let f = 0; f < Z.length; f++) {
      const m = single.truth[sliceOfFrame(f)]![0]!;
      if (!m.some((v) => v)) continue;
      await s['masks.save']({ imageId: id, frame: f, labelId: lesionLabel, instance: 1, rle: encodeRle(m, N, N), source: 'brush' });
    }
  }
});

after(async () => {
  await s?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('an enhanced multi-frame CT: the volume over its frames’ own positions, as for the same single-frame series', async (t) => {
  const mf = await s['segments.measure']({ imageId: multiId, labelId: lesionLabel, instance: 1 });
  const sf = await s['segments.measure']({ imageId: singleIds[0]!, labelId: lesionLabel, instance: 1 });
  const truth = trueVolumeMl(LESION_A);
  assert.equal(mf.volume?.unit, 'mL', mf.notes.join(' '));
  const err = (mf.volume!.value - truth) / truth;
  t.diagnostic(`multi-frame volume ${mf.volume!.value.toFixed(4)} mL, single-frame ${sf.volume!.value.toFixed(4)} mL, 4/3·π·a·b·c ${truth.toFixed(4)} mL (${(err * 100).toFixed(2)} %)`);
  assert.ok(Math.abs(err) < 0.05, `volume off by ${(err * 100).toFixed(2)} %`);
  assert.ok(Math.abs(mf.volume!.value - sf.volume!.value) < 1e-9, `${mf.volume!.value} vs ${sf.volume!.value}`);
  assert.equal(mf.stackSlices, Z.length);
  assert.deepEqual(mf.geometry, sf.geometry);
  assert.equal(mf.geometry.uneven, true, 'the 2 mm and 3 mm steps are seen');
  assert.deepEqual(mf.notes, sf.notes);
  assert.match(mf.notes.join(' '), /spacing varies \(2 mm to 3 mm\)/);
  // The same slices, each on the frame that holds it (slices are listed in stack order: here
  // frame order, the reverse of the positions).
  const byPosition = [...mf.slices].sort((a, b) => a.positionMm! - b.positionMm!);
  assert.deepEqual(mf.slices.map((x) => x.positionMm), [...byPosition.map((x) => x.positionMm)].reverse());
  assert.deepEqual(byPosition.map((x) => x.positionMm), sf.slices.map((x) => x.positionMm));
  assert.deepEqual(
    byPosition.map((x) => sliceOfFrame(x.frame)),
    sf.slices.map((x) => singleIds.indexOf(x.imageId)),
  );
  assert.deepEqual(byPosition.map((x) => x.area), sf.slices.map((x) => x.area));
  assert.equal(mf.largest.positionMm, sf.largest.positionMm);
  assert.equal(mf.longAxis.value, sf.longAxis.value);
  // HU statistics over the same voxels (merged slice by slice in another order: equal to rounding).
  const { mean, sd, ...exact } = mf.values!;
  const { mean: sfMean, sd: sfSd, ...sfExact } = sf.values!;
  assert.deepEqual(exact, sfExact);
  assert.ok(Math.abs(mean - sfMean) < 1e-9 && Math.abs(sd - sfSd) < 1e-9, `${JSON.stringify(mf.values)} vs ${JSON.stringify(sf.values)}`);
});

test('a multi-frame file whose frames have no positions: no volume, and the same note as before', async () => {
  const m = await s['segments.measure']({ imageId: unplacedId, labelId: lesionLabel, instance: 1 });
  assert.equal(m.unit, 'mm');
  assert.equal(m.volume, null);
  assert.equal(m.geometry.sliceSpacing, null);
  assert.ok(m.slices.every((x) => x.positionMm === null));
  assert.match(m.notes.join(' '), /The slice positions are not known \(no Image Position\/Orientation \(Patient\) stored for these slices\).*so no volume/);
});

test("fill between the frames of a multi-frame CT goes by the frames' own positions, not their numbers", async () => {
  const label = await s['labels.upsert']({ name: 'Filled', color: '#4fb3ff' });
  // Frames are written in reverse position order; between 14 and 22 mm lie 16 mm and 19 mm (the uneven step).
  const frameAt = (z: number) => Z.length - 1 - Z.indexOf(z);
  const [r14, r22] = [4, 20];
  for (const [z, r] of [[14, r14], [22, r22]] as const) {
    await s['masks.save']({ imageId: multiId, frame: frameAt(z), labelId: label.id, instance: 1, rle: encodeRle(discMask(N, N, N / 2, N / 2, r), N, N), source: 'brush' });
  }
  const { drafted } = await s['segments.interpolate']({ imageId: multiId, labelId: label.id, instance: 1 });
  assert.deepEqual(drafted.map((d) => d.frame).sort((a, b) => a - b), [frameAt(19), frameAt(16)]);
  const radius = async (z: number) => {
    const m = (await s['masks.list']({ imageId: multiId })).find((x) => x.labelId === label.id && x.frame === frameAt(z))!;
    return Math.sqrt(m.area / Math.PI);
  };
  // By position: 16 mm is a quarter of the way (radius 8), 19 mm five eighths (14); by frame number it would be a third (9.3) and two thirds (14.7).
  const [at16, at19] = [await radius(16), await radius(19)];
  assert.ok(Math.abs(at16 - 8) < 0.6, `radius at 16 mm ${at16.toFixed(2)}`);
  assert.ok(Math.abs(at19 - 14) < 0.6, `radius at 19 mm ${at19.toFixed(2)}`);
});

test('the DICOM SR of a multi-frame image carries its volume', { timeout: 300_000 }, async () => {
  const python = await findPython({ lock: dicomLock() });
  const job = await jobEnded(s, (await s['export.srStart']({ imageId: multiId })).jobId);
  assert.equal(job.state, 'succeeded', job.error?.message ?? job.detail);
  const file = path.join(dir, 'proj', job.exported!.file);
  const back = JSON.parse(execFileSync(python, [path.join(here, 'sr_readback.py'), file], { env: { ...process.env, ...runtimeEnv() }, encoding: 'utf8' }).trim().split('\n').at(-1)!) as {
    groups: { tracking_id: string; seg_sop: string | null; measurements: { name: string; value: number; unit: string }[] }[];
  };
  const m = await s['segments.measure']({ imageId: multiId, labelId: lesionLabel, instance: 1 });
  const volumetric = back.groups.find((g) => g.tracking_id === m.name && g.seg_sop)!;
  const volume = volumetric.measurements.find((x) => x.name === 'Volume');
  assert.ok(volume, 'the volumetric group holds a Volume');
  assert.equal(volume.unit, 'ml');
  assert.ok(Math.abs(volume.value - m.volume!.value) < 1e-5, `${volume.value} vs ${m.volume!.value}`);
});
