/**
 * What a DICOM SEG export says, decided here; how it is encoded is highdicom's job
 * (python-runtime/delineate_dicom/seg.py). Runtime: pure.
 *
 * - One segment per label class; the instances of a label are one segment (binary SEG).
 * - Codes: a label is described with a SNOMED CT category and type picked from a short list
 *   by its name (lesion, tumour, nodule, cyst, metastasis...), else a local code that keeps
 *   the label's name ("99DLN" is a private coding scheme, as DICOM allows for local codes).
 * - Provenance: a segment any of whose masks came from SAM is SEMIAUTOMATIC (SAM with the
 *   user's prompts), with the model's name and id as algorithm name and version; a segment
 *   drawn by hand only is MANUAL.
 * - UIDs are derived from the content: the same masks give the same SOP Instance UID (a
 *   resend is never a duplicate), changed masks a new series and instance.
 */
import type { Rle } from '../../contract/api.js';

export interface Code {
  scheme: string;
  value: string;
  meaning: string;
}

/** SNOMED CT "Morphologically abnormal structure": the category of every finding below. */
const ABNORMAL: Code = { scheme: 'SCT', value: '49755003', meaning: 'Morphologically abnormal structure' };

/** Label names (lower case, singular, British and American spelling) to a segmented property type. */
const TYPES: { match: RegExp; type: Code }[] = [
  { match: /^(lesion|lesions|finding)$/, type: { scheme: 'SCT', value: '52988006', meaning: 'Lesion' } },
  { match: /^(tumou?r|tumou?rs|neoplasm|mass)$/, type: { scheme: 'SCT', value: '108369006', meaning: 'Neoplasm' } },
  { match: /^(nodule|nodules)$/, type: { scheme: 'SCT', value: '27925004', meaning: 'Nodule' } },
  { match: /^(cyst|cysts)$/, type: { scheme: 'SCT', value: '441457006', meaning: 'Cyst' } },
  { match: /^(metastasis|metastases|met|mets)$/, type: { scheme: 'SCT', value: '14799000', meaning: 'Neoplasm, metastatic' } },
];

/** The category and type that describe a label in a SEG; a free-text label keeps its name in a local code. */
export function codesForLabel(name: string): { category: Code; type: Code; local: boolean } {
  const key = name.trim().toLowerCase();
  const known = TYPES.find((t) => t.match.test(key));
  if (known) return { category: ABNORMAL, type: known.type, local: false };
  const value = key.replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 16) || 'label';
  return { category: ABNORMAL, type: { scheme: '99DLN', value, meaning: name.trim().slice(0, 64) || 'label' }, local: true };
}

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
    algorithm: { name: string; version: string } | null;
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
  labels: { id: number; name: string }[];
  models: Record<string, { name: string }>;
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
  const segmentOf = new Map(usedLabels.map((id, i) => [id, i + 1]));
  const segments = usedLabels.map((labelId) => {
    const name = labelName.get(labelId) ?? `label ${labelId}`;
    const { category, type } = codesForLabel(name);
    const models = [...new Set(p.masks.filter((m) => m.labelId === labelId && m.modelId).map((m) => m.modelId!))].sort();
    return {
      number: segmentOf.get(labelId)!,
      label: name,
      category,
      type,
      algorithm_type: (models.length ? 'SEMIAUTOMATIC' : 'MANUAL') as AlgorithmType,
      algorithm: models.length ? { name: models.map((id) => p.models[id]?.name ?? id).join(' + ').slice(0, 64), version: models.join(' ').slice(0, 64) } : null,
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
