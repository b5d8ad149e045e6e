/**
 * A PACS destination seen from the services: test the connection (C-ECHO, or a QIDO-RS
 * request) and send files (C-STORE, or STOW-RS), through the light DICOM environment's tool
 * (pynetdicom; HTTP for DICOMweb). Runtime: node.
 *
 * The outbox (queued / sending / sent / failed, retries, restarts) builds on `sendFiles`.
 */
import { randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DimseTls } from '../../contract/pacs.js';
import { runDicomTool } from './dicom-tool.node.js';

export type PacsDestination =
  | { kind: 'dimse'; aeTitle: string; host: string; port: number; callingAeTitle: string; timeoutS?: number; tls?: DimseTls }
  | {
      kind: 'dicomweb';
      baseUrl: string;
      auth: { kind: 'none' } | { kind: 'basic'; user: string; password: string } | { kind: 'bearer'; token: string };
      timeoutS?: number;
    };

export interface SendResult {
  file: string;
  sopInstanceUid: string;
  ok: boolean;
  /** DIMSE status or HTTP status; null when the peer did not answer. */
  status: number | null;
  error: string | null;
}

/** The tool's wire form (snake case, as the Python side documents it). */
export function wire(d: PacsDestination): Record<string, unknown> {
  return d.kind === 'dimse'
    ? { kind: 'dimse', ae_title: d.aeTitle, host: d.host, port: d.port, calling_ae_title: d.callingAeTitle, timeout_s: d.timeoutS ?? 30, ...(d.tls?.enabled ? { tls: wireTls(d.tls) } : {}) }
    : { kind: 'dicomweb', base_url: d.baseUrl, auth: d.auth, timeout_s: d.timeoutS ?? 30 };
}

/** DICOM TLS as the tool reads it (python-runtime/delineate_dicom/tls.py). */
function wireTls(t: DimseTls): Record<string, unknown> {
  return { enabled: true, ca_file: t.caFile ?? null, cert_file: t.certFile ?? null, key_file: t.keyFile ?? null, server_name: t.serverName ?? null };
}

export async function withRequest<T>(body: unknown, run: (file: string) => Promise<T>): Promise<T> {
  // The request may hold credentials: a private temp file, removed right after.
  const file = path.join(os.tmpdir(), `delineate-pacs-${randomUUID()}.json`);
  writeFileSync(file, JSON.stringify(body), { mode: 0o600 });
  try {
    return await run(file);
  } finally {
    rmSync(file, { force: true });
  }
}

/** "Test connection": resolves with a sentence, rejects with what failed. */
export async function testConnection(python: string, d: PacsDestination, signal?: AbortSignal): Promise<string> {
  const out = await withRequest({ destination: wire(d) }, (f) => runDicomTool(python, 'echo', f, 'Connection test failed', signal));
  return (JSON.parse(out) as { detail: string }).detail;
}

/** Send files; per-file results (a refused file does not stop the others over DICOMweb). */
export async function sendFiles(python: string, d: PacsDestination, files: readonly string[], signal?: AbortSignal): Promise<SendResult[]> {
  const out = await withRequest({ destination: wire(d), files }, (f) => runDicomTool(python, 'send', f, 'Sending failed', signal));
  const r = JSON.parse(out) as { results: { file: string; sop_instance_uid: string; ok: boolean; status: number | null; error: string | null }[] };
  return r.results.map((x) => ({ file: x.file, sopInstanceUid: x.sop_instance_uid, ok: x.ok, status: x.status, error: x.error }));
}
