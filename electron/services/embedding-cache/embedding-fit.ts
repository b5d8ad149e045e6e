/**
 * Does a cached embedding fit the model and image asking for it? Runtime: pure.
 *
 * A checksum proves the bytes are the ones written, not that they belong here: a model
 * replaced under the same id, or an entry written by a build with another layout, decodes
 * cleanly and then makes every decoder run throw. The cache treats a misfit like corruption.
 */
import type { CachedEmbedding } from './embedding-file.js';

export interface EntryExpectation {
  /** The image's size: SAM maps its masks back to it, and the cache key does not carry it. */
  origHeight: number;
  origWidth: number;
  /** Side of the embedding grid: SAM's ViT uses 16-pixel patches, so image_size / 16. */
  grid?: number;
  /** The exact dims when known (from an embedding this model computed in this session). */
  dims?: readonly number[];
}

/** SAM's image encoders all use 16x16 patches (segment_anything/build_sam.py: vit_patch_size). */
export const SAM_PATCH = 16;

export function samGrid(imageSize: number): number | undefined {
  return imageSize % SAM_PATCH === 0 ? imageSize / SAM_PATCH : undefined;
}

/** Why `e` does not fit `x`, or null when it does. */
export function misfit(e: CachedEmbedding, x: EntryExpectation): string | null {
  if (e.origHeight !== x.origHeight || e.origWidth !== x.origWidth) {
    return `made for a ${e.origWidth}x${e.origHeight} image, this one is ${x.origWidth}x${x.origHeight}`;
  }
  const [n, c, h, w] = e.dims;
  if (e.dims.length !== 4 || n !== 1 || c === undefined) return `dims ${JSON.stringify(e.dims)} are not 1xCxHxW`;
  if (x.grid !== undefined && (h !== x.grid || w !== x.grid)) return `grid ${h}x${w}, the model's is ${x.grid}x${x.grid}`;
  if (x.dims && (x.dims.length !== e.dims.length || x.dims.some((d, i) => d !== e.dims[i]))) {
    return `dims ${JSON.stringify(e.dims)}, the model gives ${JSON.stringify(x.dims)}`;
  }
  return null;
}
