/**
 * What the segment list says about one segment, from its mask rows and its settings row:
 * how it was made, its default name and colour, the slices it spans and its largest slice.
 * Kept apart from the database so every rule here is tested on plain values.
 *
 * Runtime: pure.
 */
import { defaultInstanceColor, defaultSegmentName, type Segment, type SegmentOrigin, type SegmentSlice } from '../../contract/segments.js';
import type { MaskKey } from '../store/masks.repository.js';

// The defaults live in the contract: the renderer draws a segment it has just made in the same colour before the list comes back.
export { defaultInstanceColor, defaultSegmentName };

/** One mask row of a segment, as the repository reads it (no pixels). */
export interface SegmentMaskRow extends MaskKey {
  area: number;
  source: string;
  draft: boolean;
}

/** A segments table row: how the user shows the segment. */
export interface SegmentSettings {
  labelId: number;
  instance: number;
  name: string | null;
  color: string | null;
  hidden: boolean;
  locked: boolean;
}

const ORIGIN_OF_SOURCE: Record<string, Exclude<SegmentOrigin, 'mixed'>> = {
  brush: 'manual',
  eraser: 'manual',
  polygon: 'manual',
  // An undo or redo restores what a person drew or accepted: counted as their hand's.
  undo: 'manual',
  redo: 'manual',
  sam: 'sam',
  propagate: 'propagated',
  interpolate: 'interpolated',
  automatic: 'automatic',
  import: 'imported',
};

/** How one mask was made; a source an older or newer version wrote that we do not know reads as manual. */
export function originOfSource(source: string): Exclude<SegmentOrigin, 'mixed'> {
  return ORIGIN_OF_SOURCE[source] ?? 'manual';
}

/** One origin when every mask agrees, 'mixed' when they do not; 'manual' for none. */
export function summariseOrigin(sources: Iterable<string>): SegmentOrigin {
  const seen = new Set<SegmentOrigin>();
  for (const s of sources) seen.add(originOfSource(s));
  if (seen.size === 0) return 'manual';
  return seen.size === 1 ? [...seen][0]! : 'mixed';
}

// ------------------------------------------------------------------ one segment

/**
 * The list entry of one segment. `rows`: its masks; `order`: position of "imageId:frame" in
 * the stack (slices outside it sort last, by id); `settings`: its row, if the user set any.
 */
export function summariseSegment(
  label: { id: number; name: string; color: string },
  instance: number,
  rows: readonly SegmentMaskRow[],
  settings: SegmentSettings | undefined,
  order: ReadonlyMap<string, number>,
): Segment {
  const pos = (r: { imageId: number; frame: number }): number => order.get(`${r.imageId}:${r.frame}`) ?? Number.MAX_SAFE_INTEGER;
  const slices: SegmentSlice[] = [...rows]
    .sort((a, b) => pos(a) - pos(b) || a.imageId - b.imageId || a.frame - b.frame)
    .map((r) => ({ imageId: r.imageId, frame: r.frame, area: r.area, source: r.source, draft: r.draft }));
  const accepted = slices.filter((s) => !s.draft);
  // A segment only propagation has proposed so far is described by its drafts.
  const basis = accepted.length > 0 ? accepted : slices;
  let largest: Segment['largest'] = null;
  for (const s of basis) if (!largest || s.area > largest.area) largest = { imageId: s.imageId, frame: s.frame, area: s.area };
  return {
    labelId: label.id,
    instance,
    name: settings?.name ?? defaultSegmentName(label.name, instance),
    named: settings?.name != null,
    color: settings?.color ?? defaultInstanceColor(label.color, instance),
    colored: settings?.color != null,
    hidden: settings?.hidden ?? false,
    locked: settings?.locked ?? false,
    origin: summariseOrigin(basis.map((s) => s.source)),
    slices,
    largest,
    draftCount: slices.length - accepted.length,
  };
}

/**
 * Every segment of a stack: one per (label, instance) that has masks or settings, by label
 * then instance. Labels missing from `labels` (deleted meanwhile) are left out.
 */
export function summariseSegments(
  labels: readonly { id: number; name: string; color: string }[],
  rows: readonly SegmentMaskRow[],
  settings: readonly SegmentSettings[],
  order: ReadonlyMap<string, number>,
): Segment[] {
  const key = (labelId: number, instance: number): string => `${labelId}:${instance}`;
  const byKey = new Map<string, { labelId: number; instance: number; rows: SegmentMaskRow[]; settings?: SegmentSettings }>();
  const entry = (labelId: number, instance: number) => {
    const k = key(labelId, instance);
    let e = byKey.get(k);
    if (!e) byKey.set(k, (e = { labelId, instance, rows: [] }));
    return e;
  };
  for (const r of rows) entry(r.labelId, r.instance).rows.push(r);
  for (const s of settings) entry(s.labelId, s.instance).settings = s;
  const labelById = new Map(labels.map((l) => [l.id, l]));
  return [...byKey.values()]
    .filter((e) => labelById.has(e.labelId))
    .sort((a, b) => a.labelId - b.labelId || a.instance - b.instance)
    .map((e) => summariseSegment(labelById.get(e.labelId)!, e.instance, e.rows, e.settings, order));
}
