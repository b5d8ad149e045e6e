/**
 * What a DICOM SEG export says, decided here; how it is encoded is highdicom's job
 * (python-runtime/delineate_dicom/seg.py). Runtime: pure.
 *
 * - One segment per label class; the instances of a label are one segment (binary SEG).
 * - Codes: a label is described with the SNOMED CT category and type chosen for it from a
 *   short list (contract/segment-codes.ts), or picked by its name when left on auto, else a
 *   local code that keeps the label's name.
 * - Provenance: a segment any of whose masks came from SAM is SEMIAUTOMATIC (SAM with the
 *   user's prompts), with the model's name and id as algorithm name and version; a segment
 *   drawn by hand only is MANUAL. Masks a model made with no prompt (the headless node) are
 *   AUTOMATIC, identified by the model package (`automatic`).
 * - UIDs are derived from the content: the same masks give the same SOP Instance UID (a
 *   resend is never a duplicate), changed masks a new series and instance.
 */
import type { Rle } from '../../contract/api.js';
import { codesForLabel, type Code } from '../../contract/segment-codes.js';

export type { Code };

export type AlgorithmType = 'MANUAL' | 'SEMIAUTOMATIC' | 'AUTOMATIC';

export interface ExportMask {
  id: number;
  imageId: number;
  frame: number;
  labelId: number;
  rle: Rle;
  /** The SAM model that made it; null when drawn by hand. */
  modelId: string | null;
  updatedAt: string;
}

export interface ExportSource {
  imageId: number;
  /** Absolute path of the DICOM file. */
  file: string;
  frames: number;
}

export interface SegRequest {
  out: string;
  sources: string[];
  masks: { source: number; frame: number; segment: number; rle: Rle }[];
  segments: {
    number: number;
    label: string;
    category: Code;
    type: Code;
    algorithm_type: AlgorithmType;
    algorithm: { name: string; version: string; parameters?: Record<string, string> } | null;
  }[];
  series_instance_uid: string;
  sop_instance_uid: string;
  series_number: number;
  series_description: string;
  content_label: string;
  content_description: string;
  content_creator: string;
  manufacturer: string;
  model_name: string;
  software_version: string;
  device_serial: string;
}

/** The series number and description of export `version` of a source series (version 2 names the one it replaces). */
export function segSeries(version: number): { series_number: number; series_description: string } {
  return { series_number: 9900 + version, series_description: `Delineate SEG v${version}${version > 1 ? ` (replaces v${version - 1})` : ''}` };
}

/** A DICOM UID from a content hash: 2.25 followed by a 120-bit number (PS3.5 B.2). */
export function uidFromHash(hexDigest: string): string {
  return `2.25.${BigInt(`0x${hexDigest.slice(0, 30)}`).toString()}`;
}

/** DICOM person name from a user name: "Jane Doe" -> "Doe^Jane"; anything else as it is. */
export function personName(user: string): string {
  const parts = user.trim().split(/\s+/);
  return (parts.length === 2 ? `${parts[1]}^${parts[0]}` : user.trim()).slice(0, 64);
}

export interface SegPlanInput {
  sources: ExportSource[];
  masks: ExportMask[];
  /** `codes`: the label's codes as given (a model package's labels carry theirs), instead of choosing them from `code`. */
  labels: { id: number; name: string; code: string | null; codes?: { category: Code; type: Code } }[];
  models: Record<string, { name: string }>;
  /**
   * Masks made by a model with no prompt (the headless node): their segments are AUTOMATIC and
   * identified by this algorithm (the model package's name, version, and hash as a parameter).
   */
  automatic?: { name: string; version: string; parameters?: Record<string, string> };
  sourceSeriesUid: string;
  author: string;
  appVersion: string;
  out: (sopInstanceUid: string) => string;
  /**
   * Which export of this series this is (1 for the first; a new one each time the masks
   * changed): its series number is 9900 + version, and its description names the one it
   * replaces (a UID does not fit in a 64-character description; the database keeps it).
   */
  version: number;
  sha256hex: (text: string) => string;
}

export interface SegPlan {
  request: SegRequest;
  masksHash: string;
  segmentCount: number;
  modelIds: string[];
}

export function planSeg(p: SegPlanInput): SegPlan {
  const sourceIndex = new Map(p.sources.map((s, i) => [s.imageId, i]));
  const usedLabels = [...new Set(p.masks.map((m) => m.labelId))].sort((a, b) => a - b);
  const labelName = new Map(p.labels.map((l) => [l.id, l.name]));
  const labelCode = new Map(p.labels.map((l) => [l.id, l.code]));
  const labelCodes = new Map(p.labels.map((l) => [l.id, l.codes]));
  const segmentOf = new Map(usedLabels.map((id, i) => [id, i + 1]));
  const segments = usedLabels.map((labelId) => {
    const name = labelName.get(labelId) ?? `label ${labelId}`;
    const { category, type } = labelCodes.get(labelId) ?? codesForLabel(name, labelCode.get(labelId) ?? null);
    const models = [...new Set(p.masks.filter((m) => m.labelId === labelId && m.modelId).map((m) => m.modelId!))].sort();
    return {
      number: segmentOf.get(labelId)!,
      label: name,
      category,
      type,
      algorithm_type: (models.length ? (p.automatic ? 'AUTOMATIC' : 'SEMIAUTOMATIC') : 'MANUAL') as AlgorithmType,
      algorithm:
        models.length && p.automatic
          ? { name: p.automatic.name.slice(0, 64), version: p.automatic.version.slice(0, 64), ...(p.automatic.parameters ? { parameters: p.automatic.parameters } : {}) }
          : models.length
            ? { name: models.map((id) => p.models[id]?.name ?? id).join(' + ').slice(0, 64), version: models.join(' ').slice(0, 64) }
            : null,
    };
  });
  const masks = p.masks
    .filter((m) => sourceIndex.has(m.imageId))
    .map((m) => ({ source: sourceIndex.get(m.imageId)!, frame: m.frame, segment: segmentOf.get(m.labelId)!, rle: m.rle }));
  // The content that makes an export what it is: which pixels, in which segments, described how.
  const content = JSON.stringify({
    series: p.sourceSeriesUid,
    sources: p.sources.map((s) => s.file.split(/[\\/]/).pop()),
    segments,
    masks: masks.map((m) => [m.source, m.frame, m.segment, m.rle.counts]),
  });
  const masksHash = p.sha256hex(content);
  const sop = uidFromHash(p.sha256hex(`sop|${masksHash}`));
  const series = uidFromHash(p.sha256hex(`series|${masksHash}`));
  const modelIds = [...new Set(p.masks.flatMap((m) => (m.modelId ? [m.modelId] : [])))].sort();
  return {
    masksHash,
    segmentCount: segments.length,
    modelIds,
    request: {
      out: p.out(sop),
      sources: p.sources.map((s) => s.file),
      masks,
      segments,
      series_instance_uid: series,
      sop_instance_uid: sop,
      ...segSeries(p.version),
      content_label: 'DELINEATE',
      content_description: `${segments.length} segment${segments.length === 1 ? '' : 's'}: ${segments.map((s) => s.label).join(', ')}`.slice(0, 64),
      content_creator: personName(p.author),
      manufacturer: 'Delineate',
      model_name: 'Delineate',
      software_version: p.appVersion,
      device_serial: 'delineate',
    },
  };
}
