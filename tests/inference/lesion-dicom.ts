/**
 * The synthetic lesion slice as a CT DICOM file (stored = HU + 1024, soft-tissue window in the
 * header), for the service and end-to-end tests.
 */
import { CT_IMAGE_STORAGE, TS, le, writeDicom } from '../fixtures/dicom-writer.js';
import { syntheticSlice, type SyntheticSlice } from './synthetic-lesion.js';

export function lesionDicom(width: number, height: number, seed = 3, uid = '1.2.826.0.1.3680043.10.1234.900'): { bytes: Buffer; slice: SyntheticSlice } {
  const slice = syntheticSlice(width, height, seed);
  const bytes = writeDicom(
    {
      SOPClassUID: CT_IMAGE_STORAGE,
      SOPInstanceUID: `${uid}.1.1`,
      StudyInstanceUID: uid,
      SeriesInstanceUID: `${uid}.1`,
      PatientName: 'Lesion^Synthetic',
      PatientID: 'LESION-1',
      StudyDescription: 'SYNTHETIC LESION',
      SeriesDescription: 'ONE SLICE',
      SeriesNumber: 1,
      Modality: 'CT',
      InstanceNumber: 1,
      ImagePositionPatient: [0, 0, 0],
      ImageOrientationPatient: [1, 0, 0, 0, 1, 0],
      PixelSpacing: [0.8, 0.8],
      Rows: height,
      Columns: width,
      SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME2',
      BitsAllocated: 16,
      BitsStored: 16,
      HighBit: 15,
      PixelRepresentation: 0,
      RescaleIntercept: -1024,
      RescaleSlope: 1,
      RescaleType: 'HU',
      WindowCenter: [40],
      WindowWidth: [400],
      WindowCenterWidthExplanation: ['SOFT TISSUE'],
    },
    { transferSyntax: TS.explicitLE, pixelFrames: [le(slice.stored)] },
  );
  return { bytes, slice };
}
