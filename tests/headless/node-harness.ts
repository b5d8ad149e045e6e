/**
 * The headless node under test as it runs in a hospital: the real CLI in its own process
 * (so it can be SIGKILLed), a real Orthanc on loopback with the node registered as a modality,
 * and a model package written by the app's package writer around a model the runtime's own
 * training loop fine-tuned for prompt-free lesion segmentation.
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { PackageManifest } from '../../electron/contract/model-package.js';
import { decodeRle } from '../../electron/contract/rle.js';
import { codesForLabel } from '../../electron/contract/segment-codes.js';
import { sendFiles } from '../../electron/services/dicom-export/pacs.node.js';
import { writePackage } from '../../electron/services/models/model-package.node.js';
import { runtimeEnv } from '../../electron/services/runtime/python-path.node.js';
import { freePort, type RunningOrthanc } from '../fixtures/orthanc.js';
import { repoRoot } from '../inference/test-models.js';
import type { TestSeries } from './series-fixture.js';

export const NODE_AE = 'DLNODE';
export const TOKEN = 'test-token-0123456789abcdef';

/** A model package of `modelDir` (the package writer, as "Export model" uses it) in `outDir`. */
export async function writeTestPackage(modelDir: string, outDir: string, name = 'Lesion auto'): Promise<{ folder: string; archive: string; manifest: PackageManifest }> {
  const { category, type } = codesForLabel('lesion', null);
  return writePackage({
    modelDir,
    outDir,
    manifest: {
      name,
      version: 'test-1',
      created: '2026-01-01T00:00:00Z',
      created_by: 'tests/headless',
      app_version: 'test',
      model: {
        architecture: { arch: 'tiny' },
        preprocessing: { image_size: 256 },
        window: 'the stored soft-tissue window',
        variants: ['int8', 'fp32'],
        default_variant: 'int8',
        prompt_modes: ['auto'],
        manifest: 'model/model.json',
      },
      labels: [{ name: 'lesion', color: '#ff4040', category, type }],
      card: {
        base_model: 'tiny',
        trained_by: 'tests/headless/train_lesion_model.py',
        trained_at: null,
        training: { dataset_hash: 'lesion-phantom', images: 40, annotations: 40, train_images: 32, validation_images: 8, studies: 10, modalities: ['CT'], split_by: null },
        metrics: [],
        gate: null,
        parity: {},
        intended_use: 'tests',
        limits: [],
      },
    },
  });
}

export interface LogEvent {
  at: string;
  event: string;
  [k: string]: unknown;
}

/** The node CLI as a child process, its JSON log in a file. */
export class NodeProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  private stderr = '';

  constructor(
    readonly args: { pkg: string; state: string; port: number; orthanc: RunningOrthanc; idle?: number; workers?: number; httpPort?: number; extra?: string[]; ae?: string; sendTo?: string; env?: NodeJS.ProcessEnv },
    readonly logFile = path.join(args.state, 'node.log'),
  ) {
    const argv = [
      '--import', 'tsx', path.join(repoRoot, 'electron/headless/main.ts'),
      '--package', args.pkg,
      '--listen', `${args.ae ?? NODE_AE}@127.0.0.1:${args.port}`,
      '--send-to', args.sendTo ?? `${args.orthanc.aeTitle}@127.0.0.1:${args.orthanc.dicomPort}`,
      '--state', args.state,
      '--idle', String(args.idle ?? 1.5),
      '--workers', String(args.workers ?? 1),
      '--threads', '1',
      '--log', logFile,
      ...(args.httpPort !== undefined ? ['--http-port', String(args.httpPort)] : []),
      ...(args.extra ?? []),
    ];
    this.child = spawn(process.execPath, argv, { cwd: repoRoot, env: { ...process.env, DELINEATE_NODE_TOKEN: TOKEN, ...args.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => (this.stderr = (this.stderr + s).slice(-8000)));
    this.exited = new Promise((r) => this.child.once('exit', (code) => r(code)));
  }

  events(): LogEvent[] {
    if (!existsSync(this.logFile)) return [];
    return readFileSync(this.logFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as LogEvent);
  }

  /** Wait until the log holds an event matching `pred` (the log survives restarts: pass `since`). */
  async waitFor(pred: (e: LogEvent) => boolean, timeoutMs = 120_000, what = 'an event'): Promise<LogEvent> {
    const t0 = Date.now();
    for (;;) {
      const hit = this.events().find(pred);
      if (hit) return hit;
      if (this.child.exitCode !== null) throw new Error(`the node exited (${this.child.exitCode}) before ${what}: ${this.stderr}\n${this.events().slice(-5).map((e) => JSON.stringify(e)).join('\n')}`);
      if (Date.now() - t0 > timeoutMs) throw new Error(`no ${what} in ${timeoutMs} ms; last log: ${this.events().slice(-8).map((e) => JSON.stringify(e)).join('\n')}\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  ready(): Promise<LogEvent> {
    return this.waitFor((e) => e.event === 'listening' && e.at >= this.startedAt, 120_000, 'listening');
  }

  private readonly startedAt = new Date().toISOString();

  get log(): string {
    return this.stderr;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/** Orthanc's REST API beyond the fixture's GET: POST and raw bytes. */
export function orthancApi(o: RunningOrthanc) {
  const auth = `Basic ${Buffer.from(`${o.user}:${o.password}`).toString('base64')}`;
  const base = `http://127.0.0.1:${o.httpPort}`;
  return {
    async post<T>(pathname: string, body: unknown): Promise<T> {
      const r = await fetch(`${base}${pathname}`, { method: 'POST', headers: { Authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (!r.ok) throw new Error(`Orthanc POST ${pathname}: HTTP ${r.status} ${await r.text()}`);
      return (await r.json()) as T;
    },
    async bytes(pathname: string): Promise<Buffer> {
      const r = await fetch(`${base}${pathname}`, { headers: { Authorization: auth } });
      if (!r.ok) throw new Error(`Orthanc GET ${pathname}: HTTP ${r.status}`);
      return Buffer.from(await r.arrayBuffer());
    },
  };
}

/** The Orthanc configuration that registers the node as a modality (for /modalities/DLNODE/store). */
export function orthancConfigFor(nodePort: number): Record<string, unknown> {
  return { DicomModalities: { [NODE_AE]: [NODE_AE, '127.0.0.1', nodePort] } };
}

/** C-STORE files to an AE on loopback (the app's sender, pynetdicom), as a modality would. */
export async function cStore(python: string, to: { aeTitle: string; port: number }, files: string[]): Promise<void> {
  const r = await sendFiles(python, { kind: 'dimse', aeTitle: to.aeTitle, host: '127.0.0.1', port: to.port, callingAeTitle: 'MODALITY' }, files);
  const bad = r.filter((x) => !x.ok);
  if (bad.length) throw new Error(`${to.aeTitle} refused ${bad.length} instance(s): ${bad[0]!.error}`);
}

export const storeIntoOrthanc = (python: string, o: RunningOrthanc, files: string[]): Promise<void> => cStore(python, { aeTitle: o.aeTitle, port: o.dicomPort }, files);

/** Orthanc forwards a series it holds to the node (its REST job, as a routing rule would). */
export async function forwardToNode(o: RunningOrthanc, seriesUid: string, sopUids?: string[]): Promise<void> {
  const api = orthancApi(o);
  const level = sopUids ? 'Instance' : 'Series';
  const query = sopUids ? {} : { SeriesInstanceUID: seriesUid };
  let ids = await api.post<string[]>('/tools/find', { Level: level, Query: { ...query, ...(sopUids ? { SeriesInstanceUID: seriesUid } : {}) }, Expand: false });
  if (sopUids) {
    const want = new Set(sopUids);
    const tags = await Promise.all(ids.map(async (id) => ({ id, sop: (await o.rest<{ MainDicomTags: { SOPInstanceUID: string } }>(`/instances/${id}`)).MainDicomTags.SOPInstanceUID })));
    ids = tags.filter((t) => want.has(t.sop)).map((t) => t.id);
  }
  if (ids.length === 0) throw new Error(`Orthanc holds nothing of series ${seriesUid}`);
  await api.post(`/modalities/${NODE_AE}/store`, { Resources: ids, Synchronous: true });
}

/** The SEG series Orthanc holds for a study (its instances' Orthanc ids). */
export async function segsInOrthanc(o: RunningOrthanc, studyUid: string): Promise<string[]> {
  const api = orthancApi(o);
  return api.post<string[]>('/tools/find', { Level: 'Instance', Query: { StudyInstanceUID: studyUid, Modality: 'SEG' } });
}

export async function waitForSeg(o: RunningOrthanc, studyUid: string, timeoutMs = 120_000): Promise<string> {
  const t0 = Date.now();
  for (;;) {
    const ids = await segsInOrthanc(o, studyUid);
    if (ids.length) return ids[0]!;
    if (Date.now() - t0 > timeoutMs) throw new Error(`no SEG for study ${studyUid} in Orthanc after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** dciodvfy's verdict: its error lines (its warnings are not part of the verdict). */
export function dciodvfyErrors(file: string): string[] {
  const r = spawnSync('dciodvfy', ['-new', file], { encoding: 'utf8' });
  return `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => /^Error/i.test(l.trim()));
}

export interface SegReadback {
  sop_instance_uid: string;
  series_description: string;
  referenced_series: string[];
  rows: number;
  columns: number;
  segments: { number: number; label: string; algorithm_type: string; algorithm_name: string | null; algorithm_version: string | null }[];
  frames: { sop: string; frame: number; segment: number; counts: number[] }[];
}

/** Read a SEG back with highdicom, as another viewer would (the export tests' reader). */
export function readSeg(python: string, file: string): SegReadback {
  const out = execFileSync(python, [path.join(repoRoot, 'tests/services/dicom-export/seg_readback.py'), file], { env: { ...process.env, ...runtimeEnv() }, encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1)!) as SegReadback;
}

/** The SEG's AlgorithmParameters, read with pydicom. */
export function algorithmParameters(python: string, file: string): string {
  return execFileSync(python, ['-c', 'import sys, pydicom; d = pydicom.dcmread(sys.argv[1]); print(d.SegmentSequence[0].SegmentationAlgorithmIdentificationSequence[0].get("AlgorithmParameters", ""))', file], { encoding: 'utf8' }).trim();
}

/** Dice of the SEG against the series' ground truth, over every slice (empty slices count as empty). */
export function diceAgainst(seg: SegReadback, series: TestSeries): number {
  const n = series.size * series.size;
  let inter = 0;
  let a = 0;
  let b = 0;
  const predicted = new Map<string, Uint8Array>();
  for (const f of seg.frames) predicted.set(f.sop, decodeRle({ size: [seg.rows, seg.columns], counts: f.counts }));
  for (const [sop, truth] of series.truth) {
    const p = predicted.get(sop) ?? new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      inter += p[i]! & truth[i]!;
      a += p[i]!;
      b += truth[i]!;
    }
  }
  return (2 * inter) / (a + b);
}

export async function saveOrthancFile(o: RunningOrthanc, instanceId: string, file: string): Promise<string> {
  writeFileSync(file, await orthancApi(o).bytes(`/instances/${instanceId}/file`));
  return file;
}

export { freePort };
