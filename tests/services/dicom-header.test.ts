/** Tag interpretation on files written with dcmjs: enhanced multi-frame functional groups, fallbacks, problems. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeDicomFrame, parseDicomFile } from '../../electron/services/imaging/dicom-file.js';
import { framePlanes } from '../../electron/services/imaging/dicom-header.js';
import { FileProblem } from '../../electron/services/imaging/file-problem.js';
import { le, writeDicom } from '../fixtures/dicom-writer.js';
import { sample } from './helpers.js';

const base = {
  Rows: 8,
  Columns: 6,
  SamplesPerPixel: 1,
  PhotometricInterpretation: 'MONOCHROME2',
  BitsAllocated: 16,
  BitsStored: 16,
  HighBit: 15,
  PixelRepresentation: 0,
};

test('enhanced multi-frame: rescale, spacing, window and geometry come from the functional groups', async () => {
  const frames = [0, 1, 2].map((f) => le(new Uint16Array(48).fill(1000 + f)));
  const file = writeDicom(
    {
      ...base,
      SOPClassUID: '1.2.840.10008.5.1.4.1.1.2.1', // Enhanced CT
      NumberOfFrames: 3,
      SharedFunctionalGroupsSequence: [
        {
          PixelValueTransformationSequence: [{ RescaleIntercept: -1024, RescaleSlope: 1, RescaleType: 'HU' }],
          PixelMeasuresSequence: [{ PixelSpacing: [0.5, 0.6], SliceThickness: 1 }],
          FrameVOILUTSequence: [{ WindowCenter: 40, WindowWidth: 350 }],
          PlaneOrientationSequence: [{ ImageOrientationPatient: [1, 0, 0, 0, 1, 0] }],
        },
      ],
      PerFrameFunctionalGroupsSequence: [0, 1, 2].map((f) => ({ PlanePositionSequence: [{ ImagePositionPatient: [0, 0, 10 + f] }] })),
    },
    { transferSyntax: '1.2.840.10008.1.2.1', pixelFrames: frames },
  );
  const p = parseDicomFile(file);
  assert.equal(p.header.frames, 3);
  assert.equal(p.header.rescaleIntercept, -1024);
  assert.deepEqual(p.header.pixelSpacing, [0.5, 0.6]);
  assert.deepEqual(p.header.windows, [{ center: 40, width: 350 }]);
  assert.equal(p.header.slicePosition, 10); // first frame's position on the normal
  const f2 = await decodeDicomFrame(p, 2);
  assert.equal(sample(f2, 3, 3) * f2.rescaleSlope + f2.rescaleIntercept, 1002 - 1024);
});

test('framePlanes: every frame its own position, a per-frame orientation or spacing over the shared one, none where a frame says none', () => {
  const frames = [0, 1, 2].map(() => le(new Uint16Array(48)));
  const file = writeDicom(
    {
      ...base,
      SOPClassUID: '1.2.840.10008.5.1.4.1.1.4.1', // Enhanced MR
      NumberOfFrames: 3,
      // A top-level position is one frame's at most: it must not place the others.
      ImagePositionPatient: [9, 9, 9],
      SharedFunctionalGroupsSequence: [
        { PixelMeasuresSequence: [{ PixelSpacing: [0.5, 0.6] }], PlaneOrientationSequence: [{ ImageOrientationPatient: [1, 0, 0, 0, 1, 0] }] },
      ],
      PerFrameFunctionalGroupsSequence: [
        { PlanePositionSequence: [{ ImagePositionPatient: [1, 2, 3] }] },
        { PlanePositionSequence: [{ ImagePositionPatient: [1, 2, 5.5] }], PlaneOrientationSequence: [{ ImageOrientationPatient: [0, 1, 0, 0, 0, -1] }], PixelMeasuresSequence: [{ PixelSpacing: [0.7, 0.7] }] },
        { FrameContentSequence: [{ StackID: '1' }] },
      ],
    },
    { transferSyntax: '1.2.840.10008.1.2.1', pixelFrames: frames },
  );
  const p = parseDicomFile(file);
  assert.deepEqual(framePlanes(p.dataSet, p.header.frames), [
    { position: [1, 2, 3], orientation: [1, 0, 0, 0, 1, 0], pixelSpacing: [0.5, 0.6] },
    { position: [1, 2, 5.5], orientation: [0, 1, 0, 0, 0, -1], pixelSpacing: [0.7, 0.7] },
    { position: null, orientation: [1, 0, 0, 0, 1, 0], pixelSpacing: [0.5, 0.6] },
  ]);
  // A single-frame image: its top-level geometry is its one frame's.
  const single = parseDicomFile(
    writeDicom({ ...base, ImagePositionPatient: [4, 5, 6], ImageOrientationPatient: [1, 0, 0, 0, 1, 0], PixelSpacing: [0.3, 0.3] }, { transferSyntax: '1.2.840.10008.1.2.1', pixelFrames: [le(new Uint16Array(48))] }),
  );
  assert.deepEqual(framePlanes(single.dataSet, 1), [{ position: [4, 5, 6], orientation: [1, 0, 0, 0, 1, 0], pixelSpacing: [0.3, 0.3] }]);
});

test('top-level attributes win over functional groups; missing ones fall back to defaults', () => {
  const file = writeDicom(
    { ...base, RescaleIntercept: -1000, SharedFunctionalGroupsSequence: [{ PixelValueTransformationSequence: [{ RescaleIntercept: 5, RescaleSlope: 2 }] }] },
    { transferSyntax: '1.2.840.10008.1.2.1', pixelFrames: [le(new Uint16Array(48))] },
  );
  const h = parseDicomFile(file).header;
  assert.equal(h.rescaleIntercept, -1000);
  assert.equal(h.rescaleSlope, 2); // not at top level: from the shared group
  assert.deepEqual(h.windows, []);
  assert.equal(h.pixelSpacing, null);
  assert.equal(h.slicePosition, null);
});

test('unsupported pixel layouts are reported as unsupported_format with the reason in words', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ BitsAllocated: 12, BitsStored: 12, HighBit: 11 }, /12 bits per pixel sample/],
    [{ SamplesPerPixel: 4, PhotometricInterpretation: 'ARGB', BitsAllocated: 8, BitsStored: 8, HighBit: 7 }, /4 samples per pixel/],
    [{ PhotometricInterpretation: 'PALETTE COLOR', BitsAllocated: 8, BitsStored: 8, HighBit: 7 }, /palette colour image cannot be shown: the red palette descriptor/],
    [{ SamplesPerPixel: 3, PhotometricInterpretation: 'YBR_PARTIAL_420', BitsAllocated: 8, BitsStored: 8, HighBit: 7 }, /uncompressed YBR_PARTIAL_420/],
  ];
  for (const [over, re] of cases) {
    const file = writeDicom({ ...base, ...over }, { transferSyntax: '1.2.840.10008.1.2.1', pixelFrames: [new Uint8Array(8 * 6 * 3 * 2)] });
    assert.throws(() => parseDicomFile(file), (e: unknown) => e instanceof FileProblem && e.code === 'unsupported_format' && re.test(e.message), String(re));
  }
});
