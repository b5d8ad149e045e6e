/**
 * One frame to decode, the decoders that take it (on the event loop or in worker threads),
 * and the two ways decoding fails, in a form that crosses a thread boundary unchanged so
 * the pixel service words its errors the same whichever decoder ran.
 *
 * Runtime: pure.
 */
import type { PixelFrame } from '../../contract/api.js';

export interface FrameJob {
  /** Absolute path of the media file, already checked to lie inside the project. */
  file: string;
  /** Names the file's content (its SHA-256): decoders cache parsed files under it. */
  fileKey: string;
  kind: 'dicom' | 'raster';
  /** 'dicom', or the raster format (png, jpeg, tiff, bmp). */
  format: string;
  frame: number;
}

export interface FrameDecoder {
  decode(job: FrameJob): Promise<PixelFrame>;
  /** Start what the first decode would otherwise wait for (threads, codecs); never throws. */
  warm(): void;
  /** Drop cached parsed files (a project closed). */
  clear(): void;
}

/** The media file could not be read; `errno` is the system's code (ENOENT, EACCES) or its message. */
export class MediaReadError extends Error {
  constructor(readonly errno: string) {
    super(`cannot read the media file: ${errno}`);
    this.name = 'MediaReadError';
  }
}

/** The file was read but its frame could not be decoded; the message is the reason in words. */
export class FrameDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameDecodeError';
  }
}

export type DecodeFailure = { kind: 'read'; errno: string } | { kind: 'decode'; message: string };

/** What a decoder's error becomes on the wire between threads. */
export function toFailure(e: unknown): DecodeFailure {
  if (e instanceof MediaReadError) return { kind: 'read', errno: e.errno };
  return { kind: 'decode', message: e instanceof Error ? e.message : String(e) };
}

export function fromFailure(f: DecodeFailure): MediaReadError | FrameDecodeError {
  return f.kind === 'read' ? new MediaReadError(f.errno) : new FrameDecodeError(f.message);
}

/** Messages between the decode pool and its workers. */
export type DecodeRequest = { id: number; op: 'decode'; job: FrameJob } | { id: number; op: 'clear' };
export type DecodeReply = { id: number; ok: true; frame: PixelFrame | null } | { id: number; ok: false; failure: DecodeFailure };
