/**
 * What an RTSTRUCT export says, decided here; how contours are traced and the object encoded
 * is python-runtime/delineate_dicom/rtstruct.py's job. Runtime: pure.
 *
 * - The ROIs are the SEG's segments (seg-request.ts): one per label class, instances merged,
 *   numbered alike, so a SEG and an RTSTRUCT of the same masks agree ROI for segment. Each
 *   carries its label's colour and, as ROI description, the code its SEG segment has.
 * - RT ROI Interpreted Type, from the label's name (see `interpretedTypeForLabel`).
 * - Provenance as in the SEG: MANUAL or SEMIAUTOMATIC with the SAM model(s) named; the user
 *   as operator and ROI interpreter.
 * - UIDs from the content (masks, ROIs, colours, types): the same masks give the same object;
 *   changed ones version n+1 (series number 9800 + n), which names version n as predecessor.
 */
import { personName, planSeg, uidFromHash, type AlgorithmType, type SegPlanInput } from './seg-request.js';
import type { Rle } from '../../contract/api.js';

/**
 * RT ROI Interpreted Type (PS3.3 C.8.8.8) for a label name; empty (Type 2: "not specified")
 * when the name says nothing a planning system could use.
 *
 * - gtv/ctv/ptv..., external/body/skin/outline, avoidance, cavity, marker/fiducial, bolus,
 *   support/couch: the type they name.
 * - A tumour-like finding (tumour, neoplasm, mass, lesion, nodule, metastasis): GTV, since a
 *   lesion outlined on the images is what a planner starts the gross tumour volume from.
 * - A common organ name (liver, lung, kidney, heart, brain, bladder, rectum, prostate, spinal
 *   cord, ...): ORGAN (an organ at risk).
 * - Anything else (a cyst, "defect", a free-text label): empty; the planner sets it.
 */
export function interpretedTypeForLabel(name: string): string {
  const key = name.trim().toLowerCase();
  const named = /^(gtv|ctv|ptv)\b/.exec(key);
  if (named) return named[1]!.toUpperCase();
  if (/^(external|body|skin|outline|patient)$/.test(key)) return 'EXTERNAL';
  if (/^(avoidance|avoid)\b/.test(key)) return 'AVOIDANCE';
  if (/^(cavity|cavities)$/.test(key)) return 'CAVITY';
  if (/^(marker|markers|fiducial|fiducials|seed|seeds)$/.test(key)) return 'MARKER';
  if (/^bolus$/.test(key)) return 'BOLUS';
  if (/^(support|couch|table)$/.test(key)) return 'SUPPORT';
  if (/^(lesion|lesions|finding|tumou?r|tumou?rs|neoplasm|mass|nodule|nodules|metastasis|metastases|met|mets)$/.test(key)) return 'GTV';
  if (
    /^(left |right |l |r )?(liver|lungs?|kidneys?|heart|brain|brainstem|brain stem|bladder|rectum|prostate|spinal cord|cord|spleen|pancreas|stomach|bowel|small bowel|colon|duodenum|esophagus|oesophagus|parotids?|parotid gland|mandible|eyes?|lens|optic nerves?|chiasm|cochlea|thyroid|larynx|trachea|femoral heads?|femur|bone|breast|uterus|ovaries|ovary|gallbladder|aorta)$/.test(
      key,
    )
  ) {
    return 'ORGAN';
  }
  return '';
}

/** '#e6194b' -> [230, 25, 75]; anything else red. */
export function rgbOf(color: string): [number, number, number] {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color.trim());
  return m ? [parseInt(m[1]!, 16), parseInt(m[2]!, 16), parseInt(m[3]!, 16)] : [255, 0, 0];
}

export interface RtstructRoi {
  number: number;
  name: string;
  description: string;
  color: [number, number, number];
  interpreted_type: string;
  generation_algorithm: AlgorithmType;
  algorithm: { name: string; version: string } | null;
}

export interface RtstructRequest {
  out: string;
  sources: string[];
  masks: { source: number; frame: number; roi: number; rle: Rle }[];
  rois: RtstructRoi[];
  replaces: string | null;
  series_instance_uid: string;
  sop_instance_uid: string;
  series_number: number;
  series_description: string;
  structure_set_label: string;
  structure_set_name: string;
  structure_set_description: string;
  operator: string;
  manufacturer: string;
  model_name: string;
  software_version: string;
  device_serial: string;
}

/** The series number and description of RTSTRUCT export `version` of a source series. */
export function rtstructSeries(version: number): { series_number: number; series_description: string } {
  return { series_number: 9800 + version, series_description: `Delineate RTSTRUCT v${version}${version > 1 ? ` (replaces v${version - 1})` : ''}` };
}

export interface RtstructPlanInput extends SegPlanInput {
  labels: { id: number; name: string; color: string; code: string | null }[];
  /** SOP Instance UID of the version this one replaces (its Predecessor Structure Set), or null. */
  replaces: string | null;
}

export interface RtstructPlan {
  request: RtstructRequest;
  masksHash: string;
  roiCount: number;
  modelIds: string[];
}

export function planRtstruct(p: RtstructPlanInput): RtstructPlan {
  const seg = planSeg(p);
  const colorOf = new Map(p.labels.map((l) => [l.name, l.color]));
  const rois: RtstructRoi[] = seg.request.segments.map((s) => ({
    number: s.number,
    name: s.label.slice(0, 64),
    description: `${s.type.meaning} (${s.type.scheme} ${s.type.value})`,
    color: rgbOf(colorOf.get(s.label) ?? ''),
    interpreted_type: interpretedTypeForLabel(s.label),
    generation_algorithm: s.algorithm_type,
    algorithm: s.algorithm,
  }));
  const masksHash = p.sha256hex(`rtstruct|${seg.masksHash}|${JSON.stringify(rois)}`);
  const sop = uidFromHash(p.sha256hex(`sop|${masksHash}`));
  const series = uidFromHash(p.sha256hex(`series|${masksHash}`));
  return {
    masksHash,
    roiCount: rois.length,
    modelIds: seg.modelIds,
    request: {
      out: p.out(sop),
      sources: seg.request.sources,
      masks: seg.request.masks.map((m) => ({ source: m.source, frame: m.frame, roi: m.segment, rle: m.rle })),
      rois,
      replaces: p.replaces,
      series_instance_uid: series,
      sop_instance_uid: sop,
      ...rtstructSeries(p.version),
      structure_set_label: 'DELINEATE',
      structure_set_name: `Delineate v${p.version}`,
      structure_set_description: `${rois.length} ROI${rois.length === 1 ? '' : 's'}: ${rois.map((r) => r.name).join(', ')}`.slice(0, 1024),
      operator: personName(p.author),
      manufacturer: 'Delineate',
      model_name: 'Delineate',
      software_version: p.appVersion,
      device_serial: 'delineate',
    },
  };
}
