/**
 * DICOM sources for the export and PACS tests, written here: a CT series with geometry, an
 * enhanced multi-frame CT, and secondary captures (MONOCHROME1, RGB, a multi-frame one
 * without a frame of reference); plus a filled ellipse to draw masks with.
 */
import path from 'node:path';
import { encodeRle } from '../../../electron/contract/rle.js';
import type { Services } from '../../../electron/services/index.js';
import { CT_IMAGE_STORAGE, MULTIFRAME_GREY_BYTE_SC, SECONDARY_CAPTURE, TS, le, writeDicom } from '../../fixtures/dicom-writer.js';

export const ROOT = '1.2.826.0.1.3680043.10.1234.77';
export const W = 64;
export const H = 48;
/** Image pixel module of the CT sources: signed 16-bit greyscale. */
const SIGNED16 = { Rows: H, Columns: W, SamplesPerPixel: 1, PhotometricInterpretation: 'MONOCHROME2', BitsAllocated: 16, BitsStored: 16, HighBit: 15, PixelRepresentation: 1 };

export function ctSlice(i: number, series = 1): Buffer {
  const px = new Int16Array(W * H).map((_, k) => ((k * 7 + i * 13) % 400) - 1000);
  return writeDicom(
    {
      SOPClassUID: CT_IMAGE_STORAGE,
      SOPInstanceUID: series === 1 ? `${ROOT}.1.${i + 1}` : `${ROOT}.1.${series}.${i + 1}`,
      StudyInstanceUID: `${ROOT}.1`,
      SeriesInstanceUID: `${ROOT}.1.${series === 1 ? 1 : `${series}.0`}`,
      FrameOfReferenceUID: `${ROOT}.1.9`,
      PatientName: 'Export^Test',
      PatientID: 'EXP-001',
      PatientBirthDate: '19700101',
      PatientSex: 'O',
      StudyDate: '20260101',
      StudyTime: '120000',
      StudyID: '1',
      AccessionNumber: 'ACC-EXP',
      ReferringPhysicianName: '',
      Modality: 'CT',
      Manufacturer: 'Test',
      SeriesNumber: 2,
      InstanceNumber: i + 1,
      ImagePositionPatient: [-40, -30, i * 2.5],
      ImageOrientationPatient: [1, 0, 0, 0, 1, 0],
      SliceThickness: 2.5,
      PixelSpacing: [0.8, 0.8],
      ...SIGNED16,
      RescaleIntercept: 0,
      RescaleSlope: 1,
    },
    { transferSyntax: TS.explicitLE, pixelFrames: [le(px)] },
  );
}

/** An enhanced (multi-frame) CT: one file, three frames, geometry in functional groups. */
export function enhancedCt(): Buffer {
  const frames = [0, 1, 2].map((f) => new Int16Array(W * H).map((_, k) => ((k * 5 + f * 31) % 300) - 900));
  return writeDicom(
    {
      SOPClassUID: '1.2.840.10008.5.1.4.1.1.2.1',
      SOPInstanceUID: `${ROOT}.3.1`,
      StudyInstanceUID: `${ROOT}.3`,
      SeriesInstanceUID: `${ROOT}.3.1.1`,
      FrameOfReferenceUID: `${ROOT}.3.9`,
      PatientName: 'Export^Test',
      PatientID: 'EXP-001',
      StudyDate: '20260101',
      StudyTime: '120000',
      Modality: 'CT',
      SeriesNumber: 5,
      InstanceNumber: 1,
      NumberOfFrames: 3,
      SharedFunctionalGroupsSequence: [
        {
          PixelMeasuresSequence: [{ PixelSpacing: [0.8, 0.8], SliceThickness: 2.5 }],
          PlaneOrientationSequence: [{ ImageOrientationPatient: [1, 0, 0, 0, 1, 0] }],
        },
      ],
      PerFrameFunctionalGroupsSequence: [0, 1, 2].map((f) => ({ PlanePositionSequence: [{ ImagePositionPatient: [-40, -30, f * 2.5] }] })),
      ...SIGNED16,
    },
    { transferSyntax: TS.explicitLE, pixelFrames: frames.map((f) => le(f)) },
  );
}

/** A secondary capture (no patient geometry): MONOCHROME1, RGB, or a multi-frame grey one. */
export function secondaryCapture(kind: 'mono1' | 'rgb' | 'multi', n: number): Buffer {
  const rgb = kind === 'rgb';
  const frames = kind === 'multi' ? 3 : 1;
  const pixels = Array.from({ length: frames }, (_, f) => new Uint8Array(W * H * (rgb ? 3 : 1)).map((_, k) => (k * 3 + f * 50) & 0xff));
  return writeDicom(
    {
      SOPClassUID: kind === 'multi' ? MULTIFRAME_GREY_BYTE_SC : SECONDARY_CAPTURE,
      SOPInstanceUID: `${ROOT}.2.${n}`,
      StudyInstanceUID: `${ROOT}.2`,
      SeriesInstanceUID: `${ROOT}.2.${n}.1`,
      PatientName: 'Export^Test',
      PatientID: 'EXP-001',
      StudyDate: '20260101',
      StudyTime: '120000',
      Modality: 'OT',
      ConversionType: 'WSD',
      SeriesNumber: 10 + n,
      InstanceNumber: 1,
      Rows: H,
      Columns: W,
      SamplesPerPixel: rgb ? 3 : 1,
      PhotometricInterpretation: rgb ? 'RGB' : kind === 'mono1' ? 'MONOCHROME1' : 'MONOCHROME2',
      ...(rgb ? { PlanarConfiguration: 0 } : {}),
      ...(kind === 'multi' ? { NumberOfFrames: frames, FrameIncrementPointer: 0x00181063, FrameTime: 100 } : {}),
      BitsAllocated: 8,
      BitsStored: 8,
      HighBit: 7,
      PixelRepresentation: 0,
    },
    { transferSyntax: TS.explicitLE, pixelFrames: pixels.map((p) => le(p)) },
  );
}

/** A filled ellipse, row-major. */
export function ellipse(cx: number, cy: number, rx: number, ry: number): Uint8Array {
  const m = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1) m[y * W + x] = 1;
  return m;
}

/** Save a mask as the app does (brush, or SAM with a prompt and a model). */
export async function saveMask(s: Pick<Services, 'masks.save'>, imageId: number, frame: number, labelId: number, mask: Uint8Array, sam = false): Promise<void> {
  await s['masks.save']({
    imageId, frame, labelId, instance: 1,
    rle: encodeRle(mask, H, W),
    source: sam ? 'sam' : 'brush',
    ...(sam ? { prompts: { points: [{ x: 10, y: 10, label: 1 }], model: 'tiny-model-abc123' } } : {}),
  });
}

/** A new project in `dir`/proj with `slices` CT slices and a lesion mask on the second: what a send needs. The image ids. */
export async function projectWithLesion(s: Services, dir: string, name: string, slices: number): Promise<number[]> {
  await s['project.create']({ path: path.join(dir, 'proj'), name });
  const report = await s['images.importFiles']({ files: Array.from({ length: slices }, (_, i) => ({ name: `ct${i}.dcm`, bytes: new Uint8Array(ctSlice(i)) })) });
  const ids = report.imported.map((r) => r.imageId);
  const labelId = (await s['labels.list']({})).find((l) => l.name === 'lesion')!.id;
  await saveMask(s, ids[1]!, 0, labelId, ellipse(30, 20, 9, 7));
  return ids;
}
