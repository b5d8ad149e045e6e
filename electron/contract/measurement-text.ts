/**
 * Measurements as text: the summary the "Copy" button puts on the clipboard and the CSV of a
 * series (one row per segment, then the area of each segment on each of its slices). Every figure is written with its unit, the unit it was
 * measured in (px where the series has no Pixel Spacing). Runtime: pure (renderer and services).
 */
import type { MeasuredSlice, SegmentMeasurement } from './measurements.js';

/** A number for people: at most `digits` decimals, no trailing zeros, no "-0". */
export function fmt(v: number, digits = 1): string {
  const s = Number(v.toFixed(digits)).toString();
  return s === '-0' ? '0' : s;
}

export const lengthText = (v: number, unit: 'mm' | 'px') => `${fmt(v, 1)} ${unit}`;
export const areaText = (v: number, unit: 'mm' | 'px') => (unit === 'mm' ? `${fmt(v, 1)} mm²` : `${fmt(v, 0)} px`);
export function volumeText(v: SegmentMeasurement['volume']): string {
  if (!v) return 'not measurable';
  return v.unit === 'mL' ? `${fmt(v.value, v.value < 1 ? 3 : 2)} mL` : `${fmt(v.value, 0)} voxels`;
}

/** The values' line ("HU mean 45.2, SD 12.1, min -3, max 98 over 1234 voxels"), or null for colour images. */
export function valuesText(v: SegmentMeasurement['values']): string | null {
  if (!v) return null;
  return `${v.unit ?? 'Value'} mean ${fmt(v.mean)}, SD ${fmt(v.sd)}, min ${fmt(v.min, 2)}, max ${fmt(v.max, 2)} over ${v.count} voxels`;
}

/** A slice as the viewer numbers it (from 1), with its position along the slice normal where known: "slice 12 at -40.5 mm". */
export const sliceText = (s: MeasuredSlice) => `slice ${s.index + 1}${s.positionMm === null ? '' : ` at ${fmt(s.positionMm, 2)} mm`}`;

/** Whether `s` is the slice the segment's RECIST axes are measured on. */
export const isAxesSlice = (m: SegmentMeasurement, s: MeasuredSlice) => s.imageId === m.largest.imageId && s.frame === m.largest.frame;

/**
 * The text the Copy button copies: a few lines a radiologist can paste into a report, the notes
 * that qualify them, then the area on each slice (one line each, the axes' slice marked).
 */
export function measurementSummary(m: SegmentMeasurement, series?: string | null): string {
  const lines = [
    `${m.name} (${m.label})${series ? `, ${series}` : ''}`,
    `Volume: ${volumeText(m.volume)} (${m.slices.length} of ${m.stackSlices} slices)`,
    `Long axis ${lengthText(m.longAxis.value, m.unit)}, short axis ${lengthText(m.shortAxis.value, m.unit)} (RECIST 1.1, on slice ${m.largest.index + 1}, area ${areaText(m.largest.area, m.unit)})`,
  ];
  const v = valuesText(m.values);
  if (v) lines.push(v);
  for (const n of m.notes) lines.push(`Note: ${n}`);
  lines.push('Area per slice:');
  for (const s of m.slices) lines.push(`  ${sliceText(s)}: ${areaText(s.area, m.unit)}${isAxesSlice(m, s) ? ' (RECIST axes)' : ''}`);
  return lines.join('\n');
}

export const CSV_COLUMNS = [
  'segment',
  'label',
  'label_id',
  'instance',
  'slices',
  'first_slice',
  'last_slice',
  'axes_slice',
  'length_unit',
  'long_axis',
  'short_axis',
  'axes_slice_area',
  'area_unit',
  'volume',
  'volume_unit',
  'value_unit',
  'mean',
  'sd',
  'min',
  'max',
  'voxels',
  'pixel_spacing',
  'slice_spacing_mm',
  'gaps',
  'notes',
] as const;

/** The per-slice CSV (sliceAreasCsv): one row per segment and slice it is on. */
export const SLICE_CSV_COLUMNS = ['segment', 'label', 'label_id', 'instance', 'slice', 'position_mm', 'area', 'area_unit', 'pixels', 'recist_axes'] as const;

/**
 * RFC 4180 field: quoted when it holds a comma, quote or line break. Text that a spreadsheet
 * would run as a formula (starting with = + - @, tab or carriage return: segment and label
 * names are the user's, or a SEG's Segment Label) gets a leading ' (the OWASP CSV injection
 * rule); numbers are written as they are, a negative one included.
 */
function csvField(v: string | number | null): string {
  const raw = v === null ? '' : String(v);
  const s = typeof v === 'string' && /^[=+\-@\t\r]/.test(v) ? `'${raw}` : raw;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

const num = (v: number, digits: number) => Number(v.toFixed(digits));
/** The area unit as both CSVs write it (ASCII, for spreadsheets). */
const csvAreaUnit = (m: SegmentMeasurement) => (m.unit === 'mm' ? 'mm2' : 'px');

/**
 * The CSV of a series' measurements (slices numbered from 1, as the viewer shows them): the
 * header, then one row per segment. The areas per slice are a file of their own
 * (sliceAreasCsv): two tables in one file read as one garbled table in pandas or R.
 */
export function measurementsCsv(rows: readonly SegmentMeasurement[]): string {
  const out = [CSV_COLUMNS.join(',')];
  for (const m of rows) {
    const record: Record<(typeof CSV_COLUMNS)[number], string | number | null> = {
      segment: m.name,
      label: m.label,
      label_id: m.labelId,
      instance: m.instance,
      slices: m.slices.length,
      first_slice: m.slices[0]!.index + 1,
      last_slice: m.slices[m.slices.length - 1]!.index + 1,
      axes_slice: m.largest.index + 1,
      length_unit: m.unit,
      long_axis: num(m.longAxis.value, 3),
      short_axis: num(m.shortAxis.value, 3),
      axes_slice_area: num(m.largest.area, 3),
      area_unit: csvAreaUnit(m),
      volume: m.volume ? num(m.volume.value, m.volume.unit === 'mL' ? 4 : 0) : null,
      volume_unit: m.volume?.unit ?? null,
      value_unit: m.values ? (m.values.unit ?? 'value') : null,
      mean: m.values ? num(m.values.mean, 3) : null,
      sd: m.values ? num(m.values.sd, 3) : null,
      min: m.values ? num(m.values.min, 3) : null,
      max: m.values ? num(m.values.max, 3) : null,
      voxels: m.slices.reduce((n, s) => n + s.pixels, 0),
      pixel_spacing: m.geometry.pixelSpacing ? m.geometry.pixelSpacing.join(' x ') : null,
      slice_spacing_mm: m.geometry.sliceSpacing,
      gaps: m.geometry.gaps.map((g) => `${num(g.fromMm, 3)} to ${num(g.toMm, 3)}`).join('; ') || null,
      notes: m.notes.join(' ') || null,
    };
    out.push(CSV_COLUMNS.map((c) => csvField(record[c])).join(','));
  }
  return `${out.join('\r\n')}\r\n`;
}

/**
 * The areas per slice of a series' segments: a header (SLICE_CSV_COLUMNS) and one row per
 * segment and slice, in stack order ("yes" under recist_axes on the slice the axes are
 * measured on); segment, label_id and instance join it to measurementsCsv's rows.
 */
export function sliceAreasCsv(rows: readonly SegmentMeasurement[]): string {
  const out = [SLICE_CSV_COLUMNS.join(',')];
  for (const m of rows) {
    for (const s of m.slices) {
      const record: Record<(typeof SLICE_CSV_COLUMNS)[number], string | number | null> = {
        segment: m.name,
        label: m.label,
        label_id: m.labelId,
        instance: m.instance,
        slice: s.index + 1,
        position_mm: s.positionMm === null ? null : num(s.positionMm, 3),
        area: num(s.area, 3),
        area_unit: csvAreaUnit(m),
        pixels: s.pixels,
        recist_axes: isAxesSlice(m, s) ? 'yes' : null,
      };
      out.push(SLICE_CSV_COLUMNS.map((c) => csvField(record[c])).join(','));
    }
  }
  return `${out.join('\r\n')}\r\n`;
}
