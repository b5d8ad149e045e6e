/**
 * Thumbnails as object URLs, fetched once per image and shared by every row that shows
 * them. `revokeAll` frees them when the project closes.
 *
 * Runtime: browser (DOM).
 */
import { api } from '../transport';

const urls = new Map<number, Promise<string>>();

export function thumbnail(imageId: number): Promise<string> {
  let p = urls.get(imageId);
  if (!p) {
    p = api.call('image.thumbnail', { imageId }).then(({ png }) => URL.createObjectURL(new Blob([png as BlobPart], { type: 'image/png' })));
    p.catch(() => urls.delete(imageId));
    urls.set(imageId, p);
  }
  return p;
}

export function revokeAllThumbnails(): void {
  for (const p of urls.values()) p.then((u) => URL.revokeObjectURL(u)).catch(() => {});
  urls.clear();
}
