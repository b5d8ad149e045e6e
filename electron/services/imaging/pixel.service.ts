/**
 * Serving decoded frames and thumbnails of a project's images. Decoding is the decoder's
 * (worker threads in the app, see decode-pool.node.ts); here: which file, an LRU cache of
 * decoded frames so scrolling back decodes nothing, one decode per frame however many ask
 * for it at once (the prefetcher and the slice on screen often do), and errors in words.
 *
 * Runtime: Node.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ApiError, type PixelFrame } from '../../contract/api.js';
import type { ImageMediaRow, ImagesRepository } from '../store/images.repository.js';
import { LruCache } from './frame-cache.js';
import { type FrameDecoder, MediaReadError } from './frame-job.js';
import { renderThumbnail } from './thumbnail.js';
import { insideProject } from '../project-folder.node.js';

const FRAME_CACHE_BYTES = 512 * 1024 * 1024;

/** A row whose stored path would lead out of the project folder (a crafted or damaged database). */
function refusedRow(row: ImageMediaRow): ApiError {
  return new ApiError('io', `Image ${row.id} is refused: its record in the project database points outside the project folder.`);
}

export class PixelService {
  private readonly frames = new LruCache<PixelFrame>(FRAME_CACHE_BYTES, (f) => f.data.byteLength + 200);
  private readonly decoding = new Map<string, Promise<PixelFrame>>();

  constructor(
    private readonly projectDir: string,
    private readonly images: ImagesRepository,
    private readonly decoder: FrameDecoder,
  ) {}

  private row(imageId: number): ImageMediaRow {
    const row = this.images.media(imageId);
    if (!row) throw new ApiError('not_found', `No image with id ${imageId}`);
    return row;
  }

  async pixels(imageId: number, frame: number): Promise<PixelFrame> {
    const row = this.row(imageId);
    if (frame >= row.frames) throw new ApiError('bad_request', `Image ${imageId} has ${row.frames} frame(s); frame ${frame} does not exist`);
    const key = `${row.sha256}:${frame}`;
    const hit = this.frames.get(key);
    if (hit) return hit;
    const running = this.decoding.get(key);
    if (running) return running;
    const file = insideProject(this.projectDir, row.mediaPath);
    if (!file) throw refusedRow(row);
    const decoded = this.decoder.decode({ file, fileKey: row.sha256, kind: row.kind, format: row.format, frame }).then(
      (f) => {
        this.frames.set(key, f);
        return f;
      },
      (e: unknown) => {
        if (e instanceof MediaReadError) throw new ApiError('io', `Media file of image ${row.id} is missing or unreadable: ${e.errno}`, file);
        const why = e instanceof Error ? e.message : String(e);
        throw new ApiError('io', `Cannot decode image ${imageId}, frame ${frame}: ${why}`, path.join(this.projectDir, row.mediaPath));
      },
    );
    this.decoding.set(key, decoded);
    const forget = (): void => void this.decoding.delete(key);
    decoded.then(forget, forget);
    return decoded;
  }

  /** PNG thumbnail, cached on disk under thumbs/ (derived data: safe to delete). */
  async thumbnail(imageId: number): Promise<Uint8Array<ArrayBuffer>> {
    const row = this.row(imageId);
    const dir = path.join(this.projectDir, 'thumbs');
    if (!/^[0-9a-f]{64}$/.test(row.sha256)) throw refusedRow(row);
    const file = path.join(dir, `${row.sha256}.png`);
    if (!insideProject(this.projectDir, path.join('thumbs', `${row.sha256}.png`))) throw refusedRow(row);
    if (existsSync(file)) return new Uint8Array(readFileSync(file));
    const f = await this.pixels(imageId, Math.floor(row.frames / 2));
    const png = await renderThumbnail(f, row.windows);
    mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, png);
    renameSync(tmp, file); // atomic: a reader never sees half a PNG
    return new Uint8Array(png);
  }

  clear(): void {
    this.frames.clear();
    this.decoder.clear();
  }
}
