/**
 * Offer training the embeddings the app already computed, so a retrain does not encode again
 * the images the user just clicked on (seconds each for vit_b on a laptop). Runtime: node.
 *
 * For every image of a dataset snapshot, the app's embedding cache is asked for the starting
 * model's embedding of exactly the pixels the snapshot stores: the cache key carries the
 * window the renderer sent, so each candidate window (the one the masks were drawn in, the
 * snapshot's, none) is taken only when it renders to the snapshot's window. The runtime then
 * checks the first offered embeddings against its own before it trusts the rest
 * (`python-runtime/.../training/embedding_seeds.py` holds the format and the bound), so an
 * int8 encoder or a different resize is refused there, by measurement, not here by name.
 *
 * The folder is written whole under a temporary name and renamed: a crash leaves none.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ImageDetail, PixelFrame } from '../../contract/api.js';
import type { DisplayWindow } from '../../contract/windowing.js';
import { EmbeddingCache, embeddingKey } from '../embedding-cache/embedding-cache.node.js';
import { samWindowFor } from '../inference/sam-window.js';

export const SEEDS_FORMAT = 'delineate-embedding-seeds/1';

export interface SeedSources {
  /** The app's embedding cache folder (`<project>/cache/embeddings`). */
  cacheDir: string;
  /** Cache keys of the starting model's variants, in the order to try (fp32 first). */
  modelKeys: string[];
  detail(imageId: number): ImageDetail;
  pixels(imageId: number, frame: number): Promise<PixelFrame>;
  /** Windows the frame's masks were drawn through (what the renderer sent with its clicks). */
  drawnWindows(imageId: number, frame: number): DisplayWindow[];
}

export interface SeedsWritten {
  dir: string;
  offered: number;
  images: number;
  /** Offered embeddings per model key (which variant the app had computed). */
  byModelKey: Record<string, number>;
}

interface SnapshotImage {
  file_name: string;
  delineate: { image_id: number; frame: number; window: DisplayWindow | null };
}

const sameWindow = (a: DisplayWindow | null, b: DisplayWindow | null): boolean =>
  a === b || (!!a && !!b && +a.center.toFixed(3) === +b.center.toFixed(3) && +a.width.toFixed(3) === +b.width.toFixed(3));

/** numpy's .npy v1.0 header + float32 C-order data. */
export function npyBytes(data: Float32Array, shape: readonly number[]): Buffer {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const unpadded = 10 + dict.length + 1;
  const header = dict + ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), body]);
}

export async function writeEmbeddingSeeds(snapshotDir: string, outDir: string, src: SeedSources): Promise<SeedsWritten> {
  const coco = JSON.parse(readFileSync(path.join(snapshotDir, 'annotations.json'), 'utf8')) as { images: SnapshotImage[] };
  const cache = new EmbeddingCache(src.cacheDir, Number.MAX_SAFE_INTEGER, { log: () => {} }); // read only: never evicts
  const tmp = `${outDir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const entries: Record<string, string> = {};
  const byModelKey: Record<string, number> = {};
  /** Per model key, the cache key of this image's embedding through a window that shows the snapshot's pixels. */
  const locate = async (img: SnapshotImage): Promise<Map<string, string>> => {
    const { image_id: imageId, frame, window } = img.delineate;
    const d = src.detail(imageId);
    const out = new Map<string, string>();
    let px: PixelFrame | null = null;
    for (const w of [...src.drawnWindows(imageId, frame), window, null]) {
      for (const modelKey of src.modelKeys) {
        if (out.has(modelKey)) continue;
        const key = embeddingKey({ modelKey, imageSha256: d.sha256, frame, window: w, photometric: d.photometric });
        if (!cache.has(key)) continue;
        px ??= await src.pixels(imageId, frame);
        if (sameWindow(samWindowFor(px, d.windows, w), window)) out.set(modelKey, key);
      }
    }
    return out;
  };
  try {
    // One encoder per run: the runtime checks the first offered embeddings and trusts the rest
    // as made the same way, so they must all come from the same model key (variant).
    const located: { img: SnapshotImage; hits: Map<string, string> }[] = [];
    for (const img of coco.images) located.push({ img, hits: await locate(img) }); // one frame decoded at a time
    const counts = new Map<string, number>();
    for (const l of located) for (const k of l.hits.keys()) counts.set(k, (counts.get(k) ?? 0) + 1);
    const chosen = src.modelKeys.reduce<string | null>((best, k) => ((counts.get(k) ?? 0) > (best ? counts.get(best)! : 0) ? k : best), null);
    for (const { img, hits } of located) {
      const key = chosen ? hits.get(chosen) : undefined;
      const d = key ? src.detail(img.delineate.image_id) : null;
      const found = key && d ? cache.get(key, { origHeight: d.height, origWidth: d.width }) : null;
      if (found && chosen) byModelKey[chosen] = (byModelKey[chosen] ?? 0) + 1;
      if (!found) continue;
      const name = path.posix.basename(img.file_name);
      const file = `${Object.keys(entries).length}.npy`;
      const shape = found.dims[0] === 1 ? found.dims.slice(1) : found.dims;
      writeFileSync(path.join(tmp, file), npyBytes(found.data, shape));
      entries[name] = file;
    }
    const index = { format: SEEDS_FORMAT, source: { cache: src.cacheDir, model_keys: src.modelKeys, by_model_key: byModelKey }, entries };
    writeFileSync(path.join(tmp, 'index.json'), JSON.stringify(index));
    rmSync(outDir, { recursive: true, force: true });
    renameSync(tmp, outDir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return { dir: outDir, offered: Object.keys(entries).length, images: coco.images.length, byModelKey };
}
