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
import type { PixelFrame } from '../../../electron/contract/api';
import { convertFrame, type ConvertedFrame } from './pixelFrame';
import type { StackItem } from '../lib/grouping';
import { Prefetcher } from '../lib/prefetcher';

export interface DelineateImage extends CsImage {
  delineate: ConvertedFrame & { imageId: number; frame: number };
}

/**
 * Which open project the cached slices belong to. Image ids are numbered per project, so
 * without it a slice cached from one project would be shown for the same id in the next.
 */
let epoch = 0;

/** A project was opened or closed: what cornerstone holds is another project's. */
export function setProjectEpoch(e: number): void {
  if (e === epoch) return;
  epoch = e;
  cornerstone.imageCache.purgeCache();
}

export function csImageId(item: StackItem): string {
  return `delineate:${epoch}:${item.imageId}:${item.frame}`;
}

/** "imageId:frame" of a cornerstone id: what the viewport tells tests it has drawn, whatever the project epoch. */
export function itemKeyOf(csId: string): string {
  const { imageId, frame } = parseId(csId);
  return `${imageId}:${frame}`;
}

function parseId(csId: string): StackItem {
  const m = /^delineate:\d+:(\d+):(\d+)$/.exec(csId);
  if (!m) throw new Error(`Not a Delineate image id: ${csId}`);
  return { imageId: Number(m[1]), frame: Number(m[2]) };
}

async function load(csId: string): Promise<DelineateImage> {
  const item = parseId(csId);
  const t0 = performance.now();
  const frame = await api.call('image.pixels', item);
  return toCsImage(csId, item, frame, t0);
}

function toCsImage(csId: string, item: StackItem, frame: PixelFrame, t0: number): DelineateImage {
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

/**
 * Fetch several slices with one image.pixelsMany request into cornerstone's cache. Each is
 * in the cache (as a pending load) from the start, so nothing asks for it twice meanwhile;
 * a slice the batch did not deliver is fetched alone, which brings its pixels or its error.
 */
export function loadMany(items: StackItem[]): Promise<unknown> {
  const pending: { item: StackItem; csId: string; settle: (p: Promise<DelineateImage>) => void }[] = [];
  for (const item of items) {
    const csId = csImageId(item);
    if (cornerstone.imageCache.getImageLoadObject(csId) !== undefined) continue; // cached, in flight, or twice in `items`
    let settle!: (p: Promise<DelineateImage>) => void;
    const promise = new Promise<DelineateImage>((resolve) => (settle = resolve));
    cornerstone.imageCache.putImageLoadObject(csId, { promise });
    pending.push({ item, csId, settle });
  }
  if (pending.length === 0) return Promise.resolve();
  const t0 = performance.now();
  const batch = api.call('image.pixelsMany', { items: pending.map((p) => p.item) });
  // allSettled: the request slot is free only when every slice of the batch is, fallbacks included.
  return Promise.allSettled(
    pending.map((p, i) => {
      const image = batch.then(
        (frames) => {
          const f = frames[i];
          // A copy: the frames are views into one response buffer, which a cached slice would keep whole.
          return f ? toCsImage(p.csId, p.item, { ...f, data: f.data.slice() }, t0) : load(p.csId);
        },
        () => load(p.csId),
      );
      p.settle(image);
      return image;
    }),
  );
}

/** True when the slice is decoded in cornerstone's cache or already being fetched. */
export function isRequested(item: StackItem): boolean {
  return cornerstone.imageCache.getImageLoadObject(csImageId(item)) !== undefined;
}

/**
 * Slices per prefetch request, and prefetch requests in flight. Render bench, cold 100-slice
 * series wheeled at 60/s on 2 cores, interleaved runs: one slice a request with 4 in flight
 * cost the browser and its network service 3.3-4.4 ms of CPU per slice and the host 7.9-9.5;
 * 4 a request with 2 in flight, 2.0-2.4 and 6.0-7.4 (skipped 8-29 vs 10-50). 3 in flight or
 * 8 a request made the first slices wait longer for no gain.
 */
const PREFETCH_BATCH = 4;
const PREFETCH_REQUESTS = 2;

/** The viewer's prefetcher: the schedule in lib/prefetcher.ts over cornerstone's image cache. */
export function newPrefetcher(): Prefetcher<StackItem> {
  return new Prefetcher<StackItem>({ load: loadImage, loadMany, isRequested }, { batch: PREFETCH_BATCH, concurrency: PREFETCH_REQUESTS });
}
