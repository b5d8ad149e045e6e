/**
 * What "a series" is for segments, propagation and measurements: the slices a segment spans.
 * A single-frame DICOM series is its images in slice order (the browser's series row and the
 * SEG export's sources); a multi-frame image, a DICOM file without a series UID and a raster
 * image are their own frames. One definition, so the segment list, propagation and the
 * measurements never disagree about which slices belong together.
 */
import type { Db } from '../store/project-database.js';

export interface StackSlice {
  imageId: number;
  frame: number;
}

export interface SeriesStack {
  /** segments.series_key: the series UID, or "image:<id>" for an image that is its own stack. */
  key: string;
  /** Every slice in display order (series_index, then id; frames in order). */
  slices: StackSlice[];
}

interface ImageRow {
  id: number;
  kind: 'dicom' | 'raster';
  seriesUid: string | null;
  frames: number;
}

/** The series key of an image (pure). */
export function seriesKeyOf(img: ImageRow): string {
  return img.kind === 'dicom' && img.seriesUid && img.frames === 1 ? img.seriesUid : `image:${img.id}`;
}

/** The stack `imageId` belongs to; undefined when there is no such image. */
export function seriesStack(db: Db, imageId: number): SeriesStack | undefined {
  const img = db.prepare('SELECT id, kind, series_uid AS seriesUid, frames FROM images WHERE id = ?').get(imageId) as ImageRow | undefined;
  if (!img) return undefined;
  const key = seriesKeyOf(img);
  if (key !== img.seriesUid) return { key, slices: Array.from({ length: img.frames }, (_, frame) => ({ imageId: img.id, frame })) };
  const ids = db
    .prepare("SELECT id FROM images WHERE series_uid = ? AND kind = 'dicom' AND frames = 1 ORDER BY series_index, id")
    .pluck()
    .all(key) as number[];
  return { key, slices: ids.map((id) => ({ imageId: id, frame: 0 })) };
}
