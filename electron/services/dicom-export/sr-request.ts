/**
 * What a measurement report (DICOM SR, TID 1500) of a series says, decided here; how it is
 * encoded is python-runtime/delineate_dicom/sr.py's job (highdicom). Runtime: pure.
 *
 * - One finding per segment (a label's instance), with the figures the app measured
 *   (segments/measure.ts): volume, RECIST long and short axes with their ends on the slice
 *   where the segment is largest, HU statistics for CT. Figures are written in mm and mL only:
 *   a series without Pixel Spacing is refused before this (never a pixel length labelled mm).
 * - Each finding refers to its label's segment in the SEG exported from the same masks (the
 *   SEG's segment numbers and codes are taken from planSeg, so they match what was written).
 * - UIDs from the content (the SEG's content hash and the figures): the same masks give the
 *   same report; changed ones version n+1 (series number 9700 + n).
 */
import type { SegmentMeasurement } from '../../contract/measurements.js';
import type { RtstructPlanInput } from './rtstruct-request.js';
import { personName, planSeg, uidFromHash, type Code } from './seg-request.js';

export interface SrGroup {
  tracking_id: string;
  tracking_uid: string;
  segment_number: number;
  finding: Code;
  finding_category: Code;
  volume_ml: number | null;
  long_axis_mm: number;
  short_axis_mm: number;
  /** Index into `sources` of the slice the axes are on, and its frame (1-based) in a multi-frame source, else null. */
  axes_source: number;
  axes_frame: number | null;
  long_axis_points: [[number, number], [number, number]];
  short_axis_points: [[number, number], [number, number]];
  hu: { mean: number; sd: number; min: number; max: number } | null;
}

export interface SrRequest {
  out: string;
  sources: string[];
  seg: { file: string };
  groups: SrGroup[];
  procedure: string;
  series_instance_uid: string;
  sop_instance_uid: string;
  series_number: number;
  series_description: string;
  observer: string;
  manufacturer: string;
  model_name: string;
  software_version: string;
  device_serial: string;
  device_uid: string;
}

/** The series number and description of SR export `version` of a source series. */
export function srSeries(version: number): { series_number: number; series_description: string } {
  return { series_number: 9700 + version, series_description: `Delineate SR v${version}${version > 1 ? ` (replaces v${version - 1})` : ''}` };
}

export interface SrPlanInput extends RtstructPlanInput {
  /** The SEG the report refers to: its file (absolute) and the content hash it was written from. */
  seg: { file: string; masksHash: string };
  measurements: readonly SegmentMeasurement[];
  modality: string | null;
}

export interface SrPlan {
  request: SrRequest;
  masksHash: string;
  groupCount: number;
  modelIds: string[];
}

/** The plan of the report; throws an Error when the SEG given is not the one these masks make, or a figure is not in mm. */
export function planSr(p: SrPlanInput): SrPlan {
  const seg = planSeg(p);
  if (seg.masksHash !== p.seg.masksHash) throw new Error('the SEG changed while the report was planned; export again');
  const sourceIndex = new Map(p.sources.map((s, i) => [s.imageId, i]));
  const multiFrame = p.sources.length === 1 && p.sources[0]!.frames > 1;
  const labelName = new Map(p.labels.map((l) => [l.id, l.name]));
  const round = (v: number, d: number) => Number(v.toFixed(d));
  const point = (q: [number, number]): [number, number] => [round(q[0], 3), round(q[1], 3)];
  const groups = p.measurements.map((m): Omit<SrGroup, 'tracking_uid'> => {
    if (m.unit !== 'mm') throw new Error(`${m.name}: measured in pixels (no Pixel Spacing); a report records mm`);
    const name = labelName.get(m.labelId) ?? m.label;
    const segment = seg.request.segments.find((s) => s.label === name);
    if (!segment) throw new Error(`${m.name}: its label has no segment in the SEG`);
    const source = sourceIndex.get(m.largest.imageId);
    if (source === undefined) throw new Error(`${m.name}: its largest slice is not among the series' sources`);
    return {
      tracking_id: m.name.slice(0, 64),
      segment_number: segment.number,
      finding: segment.type,
      finding_category: segment.category,
      volume_ml: m.volume?.unit === 'mL' ? round(m.volume.value, 6) : null,
      long_axis_mm: round(m.longAxis.value, 3),
      short_axis_mm: round(m.shortAxis.value, 3),
      axes_source: source,
      axes_frame: multiFrame ? m.largest.frame + 1 : null,
      long_axis_points: [point(m.longAxis.from), point(m.longAxis.to)],
      short_axis_points: [point(m.shortAxis.from), point(m.shortAxis.to)],
      hu: m.values && m.values.unit === 'HU' ? { mean: round(m.values.mean, 3), sd: round(m.values.sd, 3), min: round(m.values.min, 3), max: round(m.values.max, 3) } : null,
    };
  });
  // The content that makes the report what it is: the SEG it refers to and every figure.
  const masksHash = p.sha256hex(`sr|${seg.masksHash}|${JSON.stringify(groups)}`);
  const sop = uidFromHash(p.sha256hex(`sop|${masksHash}`));
  const series = uidFromHash(p.sha256hex(`series|${masksHash}`));
  return {
    masksHash,
    groupCount: groups.length,
    modelIds: seg.modelIds,
    request: {
      out: p.out(sop),
      sources: p.sources.map((s) => s.file),
      seg: { file: p.seg.file },
      // A finding keeps its tracking UID across versions: the same series, label and instance.
      groups: p.measurements.map((m, i) => ({ ...groups[i]!, tracking_uid: uidFromHash(p.sha256hex(`tracking|${p.sourceSeriesUid}|${m.labelId}|${m.instance}`)) })),
      procedure: (p.modality ?? '').toUpperCase() === 'CT' ? 'CT' : 'other',
      series_instance_uid: series,
      sop_instance_uid: sop,
      ...srSeries(p.version),
      observer: personName(p.author),
      manufacturer: 'Delineate',
      model_name: 'Delineate',
      software_version: p.appVersion,
      device_serial: 'delineate',
      device_uid: uidFromHash(p.sha256hex('device|delineate')),
    },
  };
}
