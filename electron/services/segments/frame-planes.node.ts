/**
 * Every frame's plane (position, orientation, pixel spacing) of a multi-frame DICOM image, read
 * from its file: the images table keeps the first frame's geometry only. Measurements place
 * each frame by it, and fill between slices interpolates by it. Files are read once and kept
 * by content hash in one cache for both, so measuring again after each edit does not read a
 * large enhanced CT again.
 *
 * Runtime: Node (reads the project's media).
 */
import { readFile } from 'node:fs/promises';
import { ApiError, type ImageDetail } from '../../contract/api.js';
import { parseDicomFile } from '../imaging/dicom-file.js';
import { framePlanes, type FramePlane } from '../imaging/dicom-header.js';
import { insideProject } from '../project-folder.node.js';
import type { ImagesRepository } from '../store/images.repository.js';

/** How many multi-frame files' planes are kept (11 numbers a frame). */
const PLANE_CACHE_FILES = 32;

/** Planes by the file's content hash, for every service that reads them (a stored file never changes). */
const cache = new Map<string, FramePlane[]>();

/** The planes of `d`'s frames; a file that cannot be read again is an error naming it. */
export async function framePlanesOf(dir: string, images: ImagesRepository, d: ImageDetail): Promise<FramePlane[]> {
  const m = images.media(d.id);
  const file = m ? insideProject(dir, m.mediaPath) : null;
  if (!m || !file) throw new ApiError('io', `Image ${d.id} (${d.fileName}) is refused: its record in the project database points outside the project folder.`);
  const cached = cache.get(m.sha256);
  if (cached) return cached;
  let planes: FramePlane[];
  try {
    const p = parseDicomFile(await readFile(file));
    planes = framePlanes(p.dataSet, p.header.frames);
  } catch (e) {
    throw new ApiError('io', `Cannot read the frame positions of ${d.fileName} (image ${d.id}): ${e instanceof Error ? e.message : String(e)}`, file);
  }
  cache.set(m.sha256, planes);
  if (cache.size > PLANE_CACHE_FILES) cache.delete(cache.keys().next().value!);
  return planes;
}
