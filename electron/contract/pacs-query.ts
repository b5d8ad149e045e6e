/**
 * Query/retrieve: search a PACS destination for studies and import the chosen ones into the
 * open project. The contract of pacs.query and pacs.retrieveStart. Runtime: pure.
 *
 * Matching, the same over C-FIND and QIDO-RS (python-runtime/delineate_dicom/query.py):
 * - patientName: `*` matches any run of characters, `?` one; without a wildcard the name is a
 *   prefix ("Doe" finds "Doe^Jane"). Case is the PACS's choice for names (most ignore it).
 * - patientId, accession: exact, unless `*` or `?` are typed.
 * - dateFrom/dateTo: study date range, YYYYMMDD, either end open.
 * - modality: one code (CT, MR, ...), exactly, against the study's modalities.
 * No fuzzy matching is asked for. The answer says the match keys as sent (`match`).
 */
import { z } from 'zod';

const destinationId = z.string().regex(/^[a-z0-9-]{1,40}$/);

/** A match value: no backslash (it separates DICOM values) and no control characters. */
const matchText = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[^\\\x00-\x1f\x7f]+$/, 'no backslash or control characters')
    .refine((s) => s.trim().length > 0, 'not only spaces');

/** A DICOM date (DA): YYYYMMDD, a real calendar day. */
const dicomDate = z
  .string()
  .regex(/^\d{8}$/, 'a date written YYYYMMDD')
  .refine((s) => {
    const [y, m, d] = [Number(s.slice(0, 4)), Number(s.slice(4, 6)), Number(s.slice(6))];
    const t = new Date(Date.UTC(y, m - 1, d));
    return y >= 1800 && t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
  }, 'a real calendar day');

/** A UID (PS3.5 9.1): digits and dots, at most 64 characters, no empty or zero-led component. */
export const dicomUid = z
  .string()
  .max(64)
  .regex(/^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/, 'a DICOM UID (digits and dots)');

export const PacsQueryParams = z
  .object({
    destinationId,
    /** PN: at most 64 characters per component group. */
    patientName: matchText(64).optional(),
    /** LO. */
    patientId: matchText(64).optional(),
    /** SH. */
    accession: matchText(16).optional(),
    dateFrom: dicomDate.optional(),
    dateTo: dicomDate.optional(),
    /** CS: a modality code. */
    modality: z.string().regex(/^[A-Z0-9_]{1,16}$/, 'a modality code such as CT or MR').optional(),
  })
  .strict()
  .refine((q) => !!(q.patientName || q.patientId || q.accession || q.dateFrom || q.dateTo || q.modality), 'Give at least one of patient name, patient ID, accession number, study date or modality')
  .refine((q) => !q.dateFrom || !q.dateTo || q.dateFrom <= q.dateTo, 'The first study date comes after the last');
export type PacsQueryParams = z.input<typeof PacsQueryParams>;

/** A study as the PACS lists it; DICOM values as they came (dates YYYYMMDD, names with ^). */
export const PacsStudy = z.object({
  studyUid: z.string(),
  patientName: z.string(),
  patientId: z.string(),
  patientBirthDate: z.string(),
  studyDate: z.string(),
  studyTime: z.string(),
  description: z.string(),
  accession: z.string(),
  modalities: z.array(z.string()),
  /** Number of series / instances, when the PACS says (optional return keys). */
  series: z.number().int().nullable(),
  instances: z.number().int().nullable(),
});
export type PacsStudy = z.infer<typeof PacsStudy>;

/** At most this many studies come back from one search. */
export const MAX_QUERY_STUDIES = 500;
/** At most this many studies are retrieved by one job. */
export const MAX_RETRIEVE_STUDIES = 50;

export const pacsQueryMethods = {
  /** Search a destination (C-FIND Study Root at STUDY level, or QIDO-RS /studies). */
  'pacs.query': {
    params: PacsQueryParams,
    result: z.object({
      studies: z.array(PacsStudy),
      /** More studies matched than MAX_QUERY_STUDIES: narrow the search. */
      truncated: z.boolean(),
      /** The match keys as sent (keyword -> value), so the user sees how the search was read. */
      match: z.record(z.string(), z.string()),
    }),
  },
  /**
   * Retrieve studies (C-GET, or WADO-RS) into a temporary folder and import them with the
   * project's importer (duplicates skipped by content hash), the folder removed after: a job
   * of kind import (jobs.get shows progress and the import report; jobs.cancel stops it).
   */
  'pacs.retrieveStart': {
    params: z
      .object({ destinationId, studyUids: z.array(dicomUid).min(1).max(MAX_RETRIEVE_STUDIES) })
      .strict()
      .refine((p) => new Set(p.studyUids).size === p.studyUids.length, 'A study is listed twice'),
    result: z.object({ jobId: z.string() }),
  },
} as const;
