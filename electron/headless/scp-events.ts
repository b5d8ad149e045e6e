/**
 * What the storage SCP (python-runtime/delineate_dicom/scp.py) says on its stdout, one JSON
 * object per line, checked here at the receiving side. Runtime: pure.
 */
import { z } from 'zod';

const Uid = z.string().regex(/^[0-9]+(\.[0-9]+)*$/).max(64);

export const ScpEvent = z.discriminatedUnion('event', [
  z.object({ event: z.literal('listening'), ae_title: z.string(), port: z.number().int() }),
  z.object({
    event: z.literal('stored'),
    file: z.string().min(1),
    sop_instance_uid: Uid,
    series_instance_uid: Uid,
    study_instance_uid: Uid,
    modality: z.string(),
    calling_ae: z.string(),
    /** Of the file as written: tells a corrected re-send of an instance from a repeat. */
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  }),
  z.object({ event: z.literal('refused'), sop_instance_uid: z.string(), calling_ae: z.string(), reason: z.string() }),
  /** An association refused because its calling AE title is not in --allow-ae. */
  z.object({ event: z.literal('association_refused'), calling_ae: z.string(), reason: z.string() }),
]);
export type ScpEvent = z.infer<typeof ScpEvent>;

/** One stdout line -> an event, or the reason it is not one. */
export function parseScpLine(line: string): { ok: true; event: ScpEvent } | { ok: false; problem: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return { ok: false, problem: `not JSON: ${line.slice(0, 200)}` };
  }
  const r = ScpEvent.safeParse(raw);
  return r.success ? { ok: true, event: r.data } : { ok: false, problem: `unexpected SCP message (${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}): ${line.slice(0, 200)}` };
}
