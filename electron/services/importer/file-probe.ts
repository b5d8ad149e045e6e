/**
 * Deciding what one file is and reading just enough of it to insert a row: the DICOM
 * header (pixels stay encoded until viewed) or the raster header.
 *
 * Runtime: Node.
 */
import type { NewImage } from '../store/images.repository.js';
import { decodeDicomFrame, frameLayout, hasDicomMagic, parseDicomFile } from '../imaging/dicom-file.js';
import { isEncapsulated, pixelEncoding } from '../imaging/transfer-syntax.js';
import { FileProblem } from '../imaging/file-problem.js';
import { probeRaster, sniffRaster } from '../imaging/raster.js';

export type ProbedImage = Omit<NewImage, 'sha256' | 'fileName' | 'folder' | 'mediaPath' | 'byteSize'> & {
  extension: string;
  /** Imported, but not quite as the file says (shown in the import report). */
  warnings: string[];
};

const dicomExtensions = /\.(dcm|dicom|dic|ima)$/i;

export async function probeFile(fileName: string, bytes: Uint8Array): Promise<ProbedImage> {
  if (bytes.length === 0) throw new FileProblem(dicomExtensions.test(fileName) ? 'not_dicom' : 'unsupported_format', 'The file is empty (0 bytes).');
  if (hasDicomMagic(bytes)) {
    const parsed = parseDicomFile(bytes);
    const h = parsed.header;
    const encoding = pixelEncoding(h.transferSyntax);
    if (encoding && isEncapsulated(encoding)) {
      // Native pixels are checked by size alone; a compressed stream is only known good once
      // decoded, so decode the first frame now and report a bad one in the import report
      // rather than when someone opens it.
      await decodeDicomFrame(parsed, 0);
    }
    const out = frameLayout(parsed);
    return {
      kind: 'dicom',
      format: 'dicom',
      extension: 'dcm',
      width: h.columns,
      height: h.rows,
      frames: h.frames,
      // What the decoded frames look like (palette and YBR images are shown as RGB, 1-bit as 0/1 bytes).
      samplesPerPixel: out.samplesPerPixel,
      bitsAllocated: out.bitsAllocated,
      bitsStored: out.bitsStored,
      signed: out.signed,
      photometric: out.photometric,
      rescaleSlope: h.rescaleSlope,
      rescaleIntercept: h.rescaleIntercept,
      pixelSpacing: h.pixelSpacing,
      windows: h.windows,
      transferSyntax: h.transferSyntax,
      modality: h.modality,
      patientName: h.patientName,
      patientId: h.patientId,
      studyUid: h.studyUid,
      studyDescription: h.studyDescription,
      seriesUid: h.seriesUid,
      seriesDescription: h.seriesDescription,
      seriesNumber: h.seriesNumber,
      sopInstanceUid: h.sopInstanceUid,
      instanceNumber: h.instanceNumber,
      slicePosition: h.slicePosition,
      imagePosition: h.imagePosition,
      imageOrientation: h.imageOrientation,
      sliceThickness: h.sliceThickness,
      accessionNumber: h.accessionNumber,
      studyDate: h.studyDate,
      warnings: parsed.warnings,
    };
  }
  const format = sniffRaster(bytes);
  if (!format) {
    if (dicomExtensions.test(fileName) || !/\.[a-z0-9]+$/i.test(fileName)) {
      throw new FileProblem('not_dicom', 'This is not a DICOM file: it lacks the "DICM" marker every DICOM file carries at byte 128.', 'no Part 10 preamble');
    }
    throw new FileProblem('unsupported_format', 'This file is not an image Delineate reads (DICOM, PNG, JPEG, BMP or TIFF).');
  }
  const r = await probeRaster(bytes, format);
  return {
    kind: 'raster',
    format,
    extension: format === 'jpeg' ? 'jpg' : format === 'tiff' ? 'tif' : format,
    width: r.width,
    height: r.height,
    frames: 1,
    samplesPerPixel: r.samplesPerPixel,
    bitsAllocated: r.bitsStored,
    bitsStored: r.bitsStored,
    signed: false,
    photometric: r.photometric,
    rescaleSlope: 1,
    rescaleIntercept: 0,
    pixelSpacing: null,
    windows: r.windows,
    transferSyntax: null,
    modality: null,
    patientName: null,
    patientId: null,
    studyUid: null,
    studyDescription: null,
    seriesUid: null,
    seriesDescription: null,
    seriesNumber: null,
    sopInstanceUid: null,
    instanceNumber: null,
    slicePosition: null,
    imagePosition: null,
    imageOrientation: null,
    sliceThickness: null,
    accessionNumber: null,
    studyDate: null,
    warnings: [],
  };
}
