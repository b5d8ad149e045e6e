/**
 * Query/retrieve underneath: search a PACS for studies (C-FIND or QIDO-RS) and retrieve studies
 * into a folder (C-GET or WADO-RS), through the light DICOM environment's tool
 * (python-runtime/delineate_dicom/query.py explains the matching rules, retrieve.py the choice
 * of C-GET over C-MOVE and of the storage contexts). Runtime: node.
 *
 * Importing what arrived is the retrieve service's business (retrieve.service.ts), with the
 * project's own importer.
 */
import type { PacsStudy } from '../../contract/pacs-query.js';
import { runDicomTool } from './dicom-tool.node.js';
import { wire, withRequest, type PacsDestination } from './pacs.node.js';

export interface QueryFilters {
  patientName?: string | undefined;
  patientId?: string | undefined;
  accession?: string | undefined;
  dateFrom?: string | undefined;
  dateTo?: string | undefined;
  modality?: string | undefined;
}

export interface QueryAnswer {
  studies: PacsStudy[];
  truncated: boolean;
  /** The match keys as sent (keyword -> value). */
  match: Record<string, string>;
}

interface WireStudy {
  study_uid: string;
  patient_name: string;
  patient_id: string;
  patient_birth_date: string;
  study_date: string;
  study_time: string;
  description: string;
  accession: string;
  modalities: string[];
  series: number | null;
  instances: number | null;
}

/** Search `d` for studies; rejects with `failed: <what went wrong>`. */
export async function queryStudies(python: string, d: PacsDestination, f: QueryFilters, failed: string, signal?: AbortSignal): Promise<QueryAnswer> {
  const filters = { patient_name: f.patientName, patient_id: f.patientId, accession: f.accession, date_from: f.dateFrom, date_to: f.dateTo, modality: f.modality };
  const out = await withRequest({ destination: wire(d), filters }, (file) => runDicomTool(python, 'query', file, failed, signal));
  const r = JSON.parse(out) as { studies: WireStudy[]; truncated: boolean; match: Record<string, string> };
  return {
    studies: r.studies.map((s) => ({
      studyUid: s.study_uid,
      patientName: s.patient_name,
      patientId: s.patient_id,
      patientBirthDate: s.patient_birth_date,
      studyDate: s.study_date,
      studyTime: s.study_time,
      description: s.description,
      accession: s.accession,
      modalities: s.modalities,
      series: s.series,
      instances: s.instances,
    })),
    truncated: r.truncated,
    match: r.match,
  };
}

/** What the tool reports while it retrieves (stderr `progress: {json}` lines). */
export type RetrieveEvent =
  | { event: 'planned'; studies: { studyUid: string; label: string; total: number | null; found: boolean }[] }
  | { event: 'received'; index: number; done: number }
  | { event: 'study-done'; index: number; dir: string; received: number };

export interface StudyOutcome {
  studyUid: string;
  /** The study as people name it: "study 1.2.3 (Doe^Jane, 2026-01-01, CT HEAD)". */
  label: string;
  ok: boolean;
  total: number | null;
  received: number;
  /** Why it failed, in a sentence; null when it arrived whole. */
  error: string | null;
}

function parseEvent(line: string): RetrieveEvent | null {
  if (!line.startsWith('progress: ')) return null;
  try {
    const e = JSON.parse(line.slice(10)) as Record<string, unknown>;
    if (e.event === 'planned' && Array.isArray(e.studies)) {
      const studies = (e.studies as Record<string, unknown>[]).map((s) => ({
        studyUid: String(s.study_uid),
        label: String(s.label),
        total: typeof s.total === 'number' ? s.total : null,
        found: s.found === true,
      }));
      return { event: 'planned', studies };
    }
    if (e.event === 'received' && typeof e.index === 'number' && typeof e.done === 'number') return { event: 'received', index: e.index, done: e.done };
    if (e.event === 'study-done' && typeof e.index === 'number' && typeof e.dir === 'string') return { event: 'study-done', index: e.index, dir: e.dir, received: Number(e.received) || 0 };
  } catch {
    /* not a progress line after all: ignored */
  }
  return null;
}

/**
 * Retrieve studies into `outDir/<index>/` (one folder per study, in the order asked). A study
 * that fails is named in its outcome and the others go on; a failure of the whole (the PACS
 * refuses the association) rejects with `failed: <why>`. `signal` stops the tool at once.
 */
export async function retrieveStudies(
  python: string,
  d: PacsDestination,
  studyUids: readonly string[],
  outDir: string,
  opts: { failed: string; signal?: AbortSignal; onEvent?: (e: RetrieveEvent) => void },
): Promise<StudyOutcome[]> {
  const onLine = opts.onEvent
    ? (line: string) => {
        const e = parseEvent(line);
        if (e) opts.onEvent!(e);
      }
    : undefined;
  const out = await withRequest({ destination: wire(d), study_uids: studyUids, out_dir: outDir }, (file) => runDicomTool(python, 'retrieve', file, opts.failed, opts.signal, onLine));
  const r = JSON.parse(out) as { studies: { study_uid: string; label: string; ok: boolean; total: number | null; received: number; error: string | null }[] };
  return r.studies.map((s) => ({ studyUid: s.study_uid, label: s.label, ok: s.ok, total: s.total, received: s.received, error: s.error }));
}
