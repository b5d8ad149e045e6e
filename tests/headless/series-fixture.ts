/**
 * CT series for the headless node tests: the lesion phantom's pixels and ground truth
 * (tests/fixtures/lesion-phantom.ts) under UIDs of their own, so every test sends series the
 * node has not seen; and series the node must refuse (another modality, images too small).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CT_IMAGE_STORAGE, TS, int16PixelModule, le, writeDicom } from '../fixtures/dicom-writer.js';
import { PHANTOM, phantomSlice } from '../fixtures/lesion-phantom.js';

const MR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.4';
const ROOT = '1.2.826.0.1.3680043.10.1234.66';

export interface TestSeries {
  seriesUid: string;
  studyUid: string;
  /** SOP Instance UID -> ground-truth lesion mask (row-major, 1 = lesion). */
  truth: Map<string, Uint8Array>;
  size: number;
  files: string[];
}

/**
 * Series `n` (a number unique within the test run): `slices` phantom slices of patient
 * `n % 50` with seed `seed` (the model was trained on seed 0), written under `dir`.
 * `kind`: 'mr' labels it an MR series; 'small' shrinks the images to 32 x 32. `size`: the
 * phantom resampled (nearest) to size x size, e.g. 512 for the benchmark; the truth stays 128.
 */
export function writeSeries(dir: string, n: number, slices: number, opts: { seed?: number; kind?: 'ct' | 'mr' | 'small'; run?: number; size?: number } = {}): TestSeries {
  const kind = opts.kind ?? 'ct';
  const run = opts.run ?? process.pid;
  const studyUid = `${ROOT}.${run}.${n + 1}`;
  const seriesUid = `${studyUid}.1`;
  const out = path.join(dir, `series-${n}`);
  mkdirSync(out, { recursive: true });
  const truth = new Map<string, Uint8Array>();
  const files: string[] = [];
  const size = kind === 'small' ? 32 : (opts.size ?? PHANTOM.size);
  const n0 = PHANTOM.size;
  const resample = (src: Int16Array) => (size === n0 ? src : Int16Array.from({ length: size * size }, (_, i) => src[Math.floor((Math.floor(i / size) * n0) / size) * n0 + Math.floor(((i % size) * n0) / size)]!));
  for (let s = 0; s < slices; s++) {
    const p = phantomSlice(n % 50, s % 4, opts.seed ?? 11);
    const stored = resample(p.stored);
    const sop = `${seriesUid}.${s + 1}`;
    truth.set(sop, p.lesion);
    const bytes = writeDicom(
      {
        SOPClassUID: kind === 'mr' ? MR_IMAGE_STORAGE : CT_IMAGE_STORAGE,
        SOPInstanceUID: sop,
        StudyInstanceUID: studyUid,
        SeriesInstanceUID: seriesUid,
        FrameOfReferenceUID: `${studyUid}.9`,
        PatientName: `Node^Test${n}`,
        PatientID: `NODE-${n}`,
        PatientBirthDate: '19700101',
        PatientSex: 'O',
        StudyDate: '20260101',
        StudyTime: '120000',
        StudyID: `S${n}`,
        AccessionNumber: `NACC${n}`,
        ReferringPhysicianName: '',
        StudyDescription: 'NODE TEST',
        SeriesDescription: 'AXIAL',
        SeriesNumber: 2,
        Modality: kind === 'mr' ? 'MR' : 'CT',
        Manufacturer: 'Delineate Test',
        InstanceNumber: s + 1,
        ImagePositionPatient: [-96, -96, s * PHANTOM.thickness],
        ImageOrientationPatient: [1, 0, 0, 0, 1, 0],
        SliceThickness: PHANTOM.thickness,
        PixelSpacing: [PHANTOM.spacing, PHANTOM.spacing],
        ...int16PixelModule(size, size, PHANTOM.intercept),
        RescaleType: 'HU',
        WindowCenter: [PHANTOM.window.center],
        WindowWidth: [PHANTOM.window.width],
      },
      { transferSyntax: TS.explicitLE, pixelFrames: [le(stored)] },
    );
    const file = path.join(out, `${String(s + 1).padStart(4, '0')}.dcm`);
    writeFileSync(file, bytes);
    files.push(file);
  }
  return { seriesUid, studyUid, truth, size, files };
}
