/**
 * cornerstone image loader for the `delineate:` scheme: `delineate:<imageId>:<frame>` is
 * fetched with `image.pixels` over the typed API and converted to a cornerstone image.
 * Also the prefetcher that fills that cache ahead of the scroll (schedule: lib/prefetcher.ts).
 *
 * Runtime: browser (DOM).
 */
import * as cornerstone from 'cornerstone-core';
import type { CsImage } from 'cornerstone-core';
import { api } from '../transport';
import { convertFrame, type ConvertedFrame } from './pixelFrame';
import type { StackItem } from '../lib/grouping';
import { Prefetcher } from '../lib/prefetcher';

export interface DelineateImage extends CsImage {
  delineate: ConvertedFrame & { imageId: number; frame: number };
}

export function csImageId(item: StackItem): string {
  return `delineate:${item.imageId}:${item.frame}`;
}

function parseId(csId: string): StackItem {
  const m = /^delineate:(\d+):(\d+)$/.exec(csId);
  if (!m) throw new Error(`Not a Delineate image id: ${csId}`);
  return { imageId: Number(m[1]), frame: Number(m[2]) };
}

async function load(csId: string): Promise<DelineateImage> {
  const item = parseId(csId);
  const t0 = performance.now();
  const frame = await api.call('image.pixels', item);
  const t1 = performance.now();
  const c = convertFrame(frame);
  // Where slice time goes (the render benchmark reports these next to the render time).
  performance.measure('delineate:pixels-fetch', { start: t0, end: t1 });
  performance.measure('delineate:pixels-convert', { start: t1, end: performance.now() });
  const pixels = c.pixels;
  const lo = c.minPixelValue * c.slope + c.intercept;
  const hi = c.maxPixelValue * c.slope + c.intercept;
  return {
    imageId: csId,
    minPixelValue: c.minPixelValue,
    maxPixelValue: c.maxPixelValue,
    slope: c.slope,
    intercept: c.intercept,
    // Replaced by the viewer's window as soon as the image is shown; a sane default meanwhile.
    windowCenter: (lo + hi) / 2,
    windowWidth: Math.max(1, Math.abs(hi - lo)),
    getPixelData: () => pixels,
    rows: c.height,
    columns: c.width,
    height: c.height,
    width: c.width,
    color: c.color,
    rgba: c.color ? true : undefined,
    invert: c.invert,
    columnPixelSpacing: 1,
    rowPixelSpacing: 1,
    sizeInBytes: pixels.byteLength,
    delineate: { ...c, imageId: item.imageId, frame: item.frame },
    ...{ stats: {} },
  } as DelineateImage;
}

let registered = false;
export function registerLoader(): void {
  if (registered) return;
  registered = true;
  cornerstone.registerImageLoader('delineate', (csId) => ({ promise: load(csId) }));
  // A 300-slice 512x512 16-bit series is ~160 MB decoded; keep a few such series warm.
  cornerstone.imageCache.setMaximumSizeBytes(768 * 1024 * 1024);
}

export function loadImage(item: StackItem): Promise<DelineateImage> {
  return cornerstone.loadAndCacheImage(csImageId(item)) as Promise<DelineateImage>;
}

/** True when the slice is decoded in cornerstone's cache or already being fetched. */
export function isRequested(item: StackItem): boolean {
  return cornerstone.imageCache.getImageLoadObject(csImageId(item)) !== undefined;
}

/** The viewer's prefetcher: the schedule in lib/prefetcher.ts over cornerstone's image cache. */
export function newPrefetcher(): Prefetcher<StackItem> {
  return new Prefetcher<StackItem>({ load: loadImage, isRequested });
}
