/**
 * Every measurable segment of a series, measured by the measurements service: what the
 * measurement report sent with a SEG records. Runtime: node.
 *
 * The segments are those the measurements service measures for "Export measurement report":
 * each label and instance with accepted, non-empty masks on the series' slices (drafts are
 * proposals, not measured), by label then instance; one whose masks give no figures is left
 * out (the service answers not_found for it).
 */
import { ApiError, type MeasurementsHandlers } from '../../contract/api.js';
import type { SegmentMeasurement } from '../../contract/measurements.js';
import { seriesStack } from '../segments/series-stack.js';
import type { Db } from '../store/project-database.js';

export async function measureSeries(db: Db, imageId: number, measure: MeasurementsHandlers['segments.measure']): Promise<SegmentMeasurement[]> {
  const stack = seriesStack(db, imageId);
  if (!stack) throw new ApiError('not_found', `No image with id ${imageId}`);
  const stmt = db.prepare('SELECT DISTINCT label_id AS labelId, instance FROM masks WHERE image_id = ? AND area > 0 AND draft = 0');
  const seen = new Map<string, { labelId: number; instance: number }>();
  for (const id of new Set(stack.slices.map((s) => s.imageId))) {
    for (const k of stmt.all(id) as { labelId: number; instance: number }[]) seen.set(`${k.labelId}:${k.instance}`, k);
  }
  const keys = [...seen.values()].sort((a, b) => a.labelId - b.labelId || a.instance - b.instance);
  const out: SegmentMeasurement[] = [];
  for (const k of keys) {
    try {
      out.push(await measure({ imageId, labelId: k.labelId, instance: k.instance }));
    } catch (e) {
      if (e instanceof ApiError && e.code === 'not_found') continue;
      throw e;
    }
  }
  return out;
}
