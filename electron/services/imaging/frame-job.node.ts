/**
 * Decoding one frame of a media file: THE decode path, run unchanged on the event loop
 * (InProcessDecoder) and inside every decode worker thread (decode-worker.node.ts), so all
 * decoders give the same pixels and the same errors.
 *
 * Runtime: Node.
 */
import { readFileSync } from 'node:fs';
import type { PixelFrame } from '../../contract/api.js';
import { decodeDicomFrame, type ParsedDicom, parseDicomFile } from './dicom-file.js';
import { LruCache } from './frame-cache.js';
import { type FrameDecoder, type FrameJob, MediaReadError } from './frame-job.js';
import { decodeRaster, type RasterFormat } from './raster.js';

/** Parsed DICOM files by content key, so the frames of a multi-frame file are parsed once. */
export type ParsedFiles = LruCache<ParsedDicom>;

export function parsedFileCache(maxBytes: number): ParsedFiles {
  return new LruCache<ParsedDicom>(maxBytes, (p) => p.dataSet.byteArray.length);
}

function readMedia(file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new MediaReadError((e as NodeJS.ErrnoException).code ?? (e as Error).message);
  }
}

/** Throws MediaReadError, FileProblem (or another Error from a parser or codec). */
export async function decodeFrameJob(job: FrameJob, parsed: ParsedFiles): Promise<PixelFrame> {
  if (job.kind === 'raster') return decodeRaster(readMedia(job.file), job.format as RasterFormat);
  let p = parsed.get(job.fileKey);
  if (!p) {
    p = parseDicomFile(readMedia(job.file));
    parsed.set(job.fileKey, p);
  }
  return decodeDicomFrame(p, job.frame);
}

/**
 * Decodes on the calling thread. Used where threads do not pay (a tool decoding a few
 * frames) and as the reference the worker pool is measured and tested against.
 */
export class InProcessDecoder implements FrameDecoder {
  private readonly parsed: ParsedFiles;

  constructor(parsedBytes = 256 * 1024 * 1024) {
    this.parsed = parsedFileCache(parsedBytes);
  }

  decode(job: FrameJob): Promise<PixelFrame> {
    return decodeFrameJob(job, this.parsed);
  }

  warm(): void {}

  clear(): void {
    this.parsed.clear();
  }
}
