/**
 * PACS destinations (app settings) and the outbox (per project): the contract of the
 * pacs.* methods. Runtime: pure.
 *
 * Secrets (a DICOMweb password or token) go in, never out: a listed destination says only
 * whether it has one.
 */
import { z } from 'zod';

const id = z.number().int().positive();
const destinationId = z.string().regex(/^[a-z0-9-]{1,40}$/);

/** DICOM AE title: 1-16 characters of the default repertoire, no backslash or control characters (PS3.5 6.2). */
const aeTitle = z
  .string()
  .min(1)
  .max(16)
  .regex(/^[\x20-\x5b\x5d-\x7e]+$/, 'letters, digits, spaces and punctuation other than backslash')
  .refine((s) => s.trim().length > 0, 'not only spaces');
const host = z.string().min(1).max(253).regex(/^[A-Za-z0-9.:\-[\]]+$/, 'a host name or an IP address');
const port = z.number().int().min(1).max(65535);
const baseUrl = z.string().max(2000).regex(/^https?:\/\/[^\s]+$/, 'an http:// or https:// URL');
/** A file on this computer, named in full: /…, C:\… or \\server\share\…. */
export const absolutePath = z
  .string()
  .max(4096)
  .regex(/^(\/|[A-Za-z]:[\\/]|\\\\)[^\0]*$/, 'an absolute path (/…, C:\\… or \\\\server\\…)');

/**
 * DICOM over TLS for a DIMSE destination. The PACS's certificate is always verified, against
 * `caFile` (PEM) or else the system's store, and must name `serverName` (else the host).
 * `certFile` + `keyFile` (PEM): our certificate, for a PACS that wants mutual TLS.
 */
export const DimseTls = z
  .object({
    enabled: z.boolean(),
    caFile: absolutePath.optional(),
    certFile: absolutePath.optional(),
    keyFile: absolutePath.optional(),
    serverName: host.optional(),
  })
  .strict()
  .refine((t) => !t.keyFile || t.certFile, { message: 'a client key needs its certificate (certFile)', path: ['certFile'] });
export type DimseTls = z.infer<typeof DimseTls>;

export const DestinationInput = z.discriminatedUnion('kind', [
  z.object({ id: destinationId.optional(), name: z.string().min(1).max(100), kind: z.literal('dimse'), aeTitle, host, port, callingAeTitle: aeTitle, tls: DimseTls.optional() }).strict(),
  z
    .object({
      id: destinationId.optional(),
      name: z.string().min(1).max(100),
      kind: z.literal('dicomweb'),
      baseUrl,
      auth: z.discriminatedUnion('kind', [
        z.object({ kind: z.literal('none') }).strict(),
        z.object({ kind: z.literal('basic'), user: z.string().min(1).max(200), password: z.string().max(1000).optional() }).strict(),
        z.object({ kind: z.literal('bearer'), token: z.string().max(8000).optional() }).strict(),
      ]),
    })
    .strict(),
]);
export type DestinationInput = z.infer<typeof DestinationInput>;

/** A destination as listed: no secret, only whether one is stored. */
export const Destination = z.discriminatedUnion('kind', [
  z.object({ id: destinationId, name: z.string(), kind: z.literal('dimse'), aeTitle: z.string(), host: z.string(), port, callingAeTitle: z.string(), tls: DimseTls.optional() }),
  z.object({
    id: destinationId,
    name: z.string(),
    kind: z.literal('dicomweb'),
    baseUrl: z.string(),
    auth: z.object({ kind: z.enum(['none', 'basic', 'bearer']), user: z.string().optional(), hasSecret: z.boolean() }),
  }),
]);
export type Destination = z.infer<typeof Destination>;

export const OutboxState = z.enum(['queued', 'sending', 'sent', 'failed']);
export type OutboxState = z.infer<typeof OutboxState>;

export const OutboxItem = z.object({
  id,
  destinationId: z.string(),
  destinationName: z.string(),
  /** Relative to the project folder. */
  file: z.string(),
  sopInstanceUid: z.string(),
  /** What was sent, for people: "SEG v2 of AXIAL 2.5MM", "Measurement report (SR v1) of AXIAL 2.5MM: 2 segments, refers to SEG v2". */
  description: z.string(),
  state: OutboxState,
  attempts: z.number().int().nonnegative(),
  lastError: z.string().nullable(),
  /** When a failed item is tried again (ISO), or null. */
  nextAttemptAt: z.string().nullable(),
  createdAt: z.string(),
  sentAt: z.string().nullable(),
  /** Sent only once this item is (a measurement report waits for its SEG); cancelled with it. */
  afterId: id.nullable(),
});
export type OutboxItem = z.infer<typeof OutboxItem>;

export const pacsMethods = {
  'pacs.destinations': { params: z.object({}).strict(), result: z.array(Destination) },
  /** Add (no id) or change a destination; a secret left out keeps the stored one. */
  'pacs.saveDestination': { params: DestinationInput, result: Destination },
  'pacs.deleteDestination': { params: z.object({ id: destinationId }).strict(), result: z.null() },
  /** "Test connection": C-ECHO or a QIDO-RS request; a failure is an answer (ok false), with what failed. */
  'pacs.test': { params: z.object({ id: destinationId }).strict(), result: z.object({ ok: z.boolean(), detail: z.string() }) },
  /**
   * Send the masks of the series `imageId` belongs to: exported as a SEG (or the export of
   * these masks reused) and, when the series has segments measured in mm, the measurement
   * report (DICOM SR, TID 1500) that refers to that SEG; queued in the project's outbox, one
   * item per object, the SEG first. Returns the items: [SEG] or [SEG, report].
   */
  'pacs.sendSeries': { params: z.object({ imageId: id, destinationId }).strict(), result: z.array(OutboxItem).min(1).max(2) },
  /** The same for every series of the study `imageId` belongs to that has masks: a SEG (and its report) each, queued together. */
  'pacs.sendStudy': { params: z.object({ imageId: id, destinationId }).strict(), result: z.array(OutboxItem) },
  'pacs.outbox': { params: z.object({}).strict(), result: z.array(OutboxItem) },
  /** Try a failed item again now. */
  'pacs.retry': { params: z.object({ itemId: id }).strict(), result: OutboxItem },
} as const;
