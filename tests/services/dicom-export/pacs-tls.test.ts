/**
 * DICOM TLS to a DIMSE destination (issue 11), against a real Orthanc that speaks only TLS on
 * its DICOM port and wants our client certificate (mutual TLS). A throwaway CA, server and
 * client certificate are made with openssl here. Through the app's own path (destinations
 * store -> outbox -> the DICOM tool): C-ECHO and the C-STORE of a SEG over TLS work and the
 * instance is in Orthanc; a destination trusting another CA, or checking another server name,
 * is refused with "the PACS's certificate is not trusted"; a plain association to the TLS port
 * and a TLS one without our certificate say what is wrong; the contract takes absolute paths only.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { pacsMethods, type OutboxItem } from '../../../electron/contract/pacs.js';
import { dicomLock } from '../../../electron/services/dicom-export/export.service.js';
import { createServices, type Services } from '../../../electron/services/index.js';
import { findPython } from '../../../electron/services/runtime/python-path.node.js';
import { startOrthanc, type RunningOrthanc } from '../../fixtures/orthanc.js';
import { projectWithLesion } from './sources.js';

let orthanc: RunningOrthanc;
let s: Services;
let dir: string;
let pki: Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey' | 'otherCa', string>;
let ids: number[];

/** A CA; a server certificate for 127.0.0.1/localhost and a client certificate, both signed by it; another CA. */
function makePki(folder: string): typeof pki {
  const f = (name: string) => path.join(folder, name);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: folder, stdio: ['ignore', 'ignore', 'pipe'] });
  const days = ['-days', '2'];
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', ...days, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-subj', '/CN=Delineate Test CA');
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', ...days, '-keyout', f('other.key'), '-out', f('other-ca.pem'), '-subj', '/CN=Some Other CA');
  writeFileSync(f('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n');
  writeFileSync(f('client.ext'), 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
  for (const [who, cn] of [['server', 'localhost'], ['client', 'DELINEATE']] as const) {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${who}.key`), '-out', f(`${who}.csr`), '-subj', `/CN=${cn}`);
    ssl('x509', '-req', '-in', f(`${who}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', ...days, '-out', f(`${who}.pem`), '-extfile', f(`${who}.ext`));
  }
  return { ca: f('ca.pem'), serverCert: f('server.pem'), serverKey: f('server.key'), clientCert: f('client.pem'), clientKey: f('client.key'), otherCa: f('other-ca.pem') };
}

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'pacs-tls-'));
  pki = makePki(dir);
  [orthanc] = await Promise.all([
    startOrthanc({
      config: {
        DicomTlsEnabled: true,
        DicomTlsCertificate: pki.serverCert,
        DicomTlsPrivateKey: pki.serverKey,
        DicomTlsTrustedCertificates: pki.ca,
        DicomTlsRemoteCertificateRequired: true,
      },
    }),
    findPython({ lock: dicomLock() }),
  ]);
  s = createServices({ user: 'Jane Doe', transport: 'browser', version: 'test', configDir: path.join(dir, 'config'), outboxRetryBaseMs: 60_000 });
  ids = await projectWithLesion(s, dir, 'TLS', 2);
});

after(async () => {
  await s?.close();
  await orthanc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const dimse = (name: string, tls?: Record<string, unknown>) =>
  s['pacs.saveDestination']({ name, kind: 'dimse', aeTitle: orthanc.aeTitle, host: '127.0.0.1', port: orthanc.dicomPort, callingAeTitle: 'DELINEATE', ...(tls ? { tls: { enabled: true, ...tls } } : {}) });

async function until(item: OutboxItem, done: (i: OutboxItem) => boolean, timeoutMs = 60_000): Promise<OutboxItem> {
  const t0 = Date.now();
  for (;;) {
    const now = (await s['pacs.outbox']({})).find((x) => x.id === item.id)!;
    if (done(now)) return now;
    if (Date.now() - t0 > timeoutMs) throw new Error(`outbox item still ${now.state}: ${JSON.stringify(now)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('over TLS with our client certificate: C-ECHO answers and a SEG sent through the outbox is in Orthanc', { timeout: 120_000 }, async () => {
  const d = await dimse('Orthanc TLS', { caFile: pki.ca, certFile: pki.clientCert, keyFile: pki.clientKey });
  assert.deepEqual(d.kind === 'dimse' && d.tls, { enabled: true, caFile: pki.ca, certFile: pki.clientCert, keyFile: pki.clientKey }, 'the TLS settings are kept and listed');
  assert.deepEqual(await s['pacs.test']({ id: d.id }), { ok: true, detail: `C-ECHO to ORTHANC@127.0.0.1:${orthanc.dicomPort} answered` });
  // The certificate's other name, checked explicitly, is as good.
  const byName = await dimse('Orthanc TLS by name', { caFile: pki.ca, certFile: pki.clientCert, keyFile: pki.clientKey, serverName: 'localhost' });
  assert.equal((await s['pacs.test']({ id: byName.id })).ok, true);

  const [item] = await s['pacs.sendSeries']({ imageId: ids[0]!, destinationId: d.id });
  const sent = await until(item!, (i) => i.state === 'sent' || i.state === 'failed');
  assert.equal(sent.state, 'sent', sent.lastError ?? '');
  assert.equal(sent.lastError, null);
  const there = await orthanc.rest<{ ID: string; MainDicomTags: { SOPInstanceUID: string } }[]>('/instances?expand');
  const seg = there.find((i) => i.MainDicomTags.SOPInstanceUID === item!.sopInstanceUid);
  assert.ok(seg, 'the SEG arrived over TLS');
  assert.equal((await orthanc.rest<{ Modality: string }>(`/instances/${seg.ID}/simplified-tags`)).Modality, 'SEG');
});

test('a certificate the destination does not trust is refused, naming the destination and why', { timeout: 120_000 }, async () => {
  const where = `ORTHANC@127.0.0.1:${orthanc.dicomPort}`;
  const other = await dimse('Trusts another CA', { caFile: pki.otherCa, certFile: pki.clientCert, keyFile: pki.clientKey });
  const t = await s['pacs.test']({ id: other.id });
  assert.equal(t.ok, false);
  assert.ok(t.detail.startsWith(`${where}: the PACS's certificate is not trusted: `), t.detail);
  assert.doesNotMatch(t.detail, /Traceback|SSLError|\[SSL/, 'a sentence, not a traceback');
  const system = await dimse('System store only', { certFile: pki.clientCert, keyFile: pki.clientKey });
  assert.match((await s['pacs.test']({ id: system.id })).detail, /the PACS's certificate is not trusted: /, 'a private CA is not in the system store');
  const wrongName = await dimse('Wrong server name', { caFile: pki.ca, certFile: pki.clientCert, keyFile: pki.clientKey, serverName: 'pacs.example.org' });
  assert.match((await s['pacs.test']({ id: wrongName.id })).detail, /the PACS's certificate is not trusted: Hostname mismatch, certificate is not valid for 'pacs\.example\.org' \(checked as pacs\.example\.org\)$/);
  // Sending to it fails the same way in the outbox, and nothing arrives.
  const before = (await orthanc.rest<string[]>('/instances')).length;
  const item = await until((await s['pacs.sendSeries']({ imageId: ids[0]!, destinationId: other.id }))[0]!, (i) => i.state === 'failed');
  assert.match(item.lastError ?? '', /the PACS's certificate is not trusted/);
  assert.equal(item.attempts, 1);
  assert.equal((await orthanc.rest<string[]>('/instances')).length, before);
});

test('plain DICOM to the TLS port, TLS without our certificate, and a missing CA file each say what is wrong', { timeout: 120_000 }, async () => {
  const where = `ORTHANC@127.0.0.1:${orthanc.dicomPort}`;
  const plain = await dimse('Plain');
  assert.deepEqual(await s['pacs.test']({ id: plain.id }), { ok: false, detail: `${where} aborted the association: that port expects DICOM over TLS; turn TLS on for this destination` });
  const noClient = await dimse('No client certificate', { caFile: pki.ca });
  assert.match((await s['pacs.test']({ id: noClient.id })).detail, new RegExp(`^${where} refused our TLS connection \\(.*certificate required\\): it may want a client certificate it trusts$`));
  const missing = await dimse('Missing CA', { caFile: path.join(dir, 'nowhere.pem') });
  assert.equal((await s['pacs.test']({ id: missing.id })).detail, `${where}: the CA certificate ${path.join(dir, 'nowhere.pem')} cannot be read (No such file or directory)`);
});

test('the contract takes absolute certificate paths only, and a key with its certificate', () => {
  const params = pacsMethods['pacs.saveDestination'].params;
  const base = { name: 'x', kind: 'dimse', aeTitle: 'A', host: 'pacs', port: 104, callingAeTitle: 'B' } as const;
  assert.ok(params.safeParse({ ...base, tls: { enabled: true, caFile: '/etc/ssl/ca.pem', certFile: 'C:\\certs\\me.pem', keyFile: '\\\\srv\\share\\me.key' } }).success);
  assert.ok(params.safeParse({ ...base, tls: { enabled: false } }).success);
  const bad = (tls: unknown) => {
    const r = params.safeParse({ ...base, tls });
    return r.success ? null : r.error.issues[0]!.message;
  };
  assert.match(bad({ enabled: true, caFile: 'certs/ca.pem' }) ?? '', /an absolute path/);
  assert.match(bad({ enabled: true, caFile: '/ok\0/ca.pem' }) ?? '', /an absolute path/);
  assert.match(bad({ enabled: true, keyFile: '/me.key' }) ?? '', /a client key needs its certificate/);
  assert.match(bad({ enabled: true, serverName: 'not a host' }) ?? '', /a host name/);
  assert.notEqual(bad({ enabled: true, password: 'x' }), null, 'no unknown keys');
});
