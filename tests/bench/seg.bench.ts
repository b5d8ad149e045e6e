/**
 * DICOM SEG export benchmark (issue 11): a 300-slice 512x512 CT series with masks on 40
 * slices, exported through the services as the app does (a job: the light DICOM environment
 * found, the sources read, highdicom writing the SEG). Also the same export again, which the
 * content-derived UIDs turn into a lookup, and the same masks as an RTSTRUCT. Then C-STORE and STOW-RS throughput of the 300
 * source slices to a local Orthanc (instances per second, one association / one request).
 *
 *   node --import tsx tests/bench/seg.bench.ts
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeRle } from '../../electron/contract/rle.js';
import type { JobInfo } from '../../electron/contract/training.js';
import { jobEnded } from '../services/helpers.js';
import { dicomLock } from '../../electron/services/dicom-export/export.service.js';
import { sendFiles, type PacsDestination } from '../../electron/services/dicom-export/pacs.node.js';
import { createServices, type Services } from '../../electron/services/index.js';
import { findPython } from '../../electron/services/runtime/python-path.node.js';
import { generateBenchSeries } from '../fixtures/generate-corpus.js';
import { startOrthanc } from '../fixtures/orthanc.js';

async function exportJob(s: Services, imageId: number, kind: 'seg' | 'rtstruct' = 'seg'): Promise<{ job: JobInfo; ms: number }> {
  const t0 = performance.now();
  const job = await jobEnded(s, (await s[kind === 'seg' ? 'export.segStart' : 'export.rtstructStart']({ imageId })).jobId, 10 * 60_000, 20);
  if (job.state !== 'succeeded') throw new Error(`export ${job.state}: ${job.error?.message ?? job.detail}`);
  return { job, ms: performance.now() - t0 };
}

export default async function segBench(opts: { slices?: number; size?: number; masked?: number } = {}) {
  const slices = opts.slices ?? 300;
  const size = opts.size ?? 512;
  const masked = opts.masked ?? 40;
  const root = mkdtempSync(path.join(os.tmpdir(), 'delineate-seg-bench-'));
  const s = createServices({ user: 'bench', transport: 'browser', version: 'bench' });
  try {
    const tEnv = performance.now();
    await findPython({ lock: dicomLock() }); // built once per machine; not part of an export
    const envMs = performance.now() - tEnv;
    generateBenchSeries(path.join(root, 'series'), slices, size);
    await s['project.create']({ path: path.join(root, 'project') });
    await s['images.importPaths']({ paths: [path.join(root, 'series')] });
    const list = [...(await s['images.list']({}))].sort((a, b) => a.seriesIndex - b.seriesIndex);
    const labelId = (await s['labels.list']({}))[0]!.id;
    const first = Math.floor((slices - masked) / 2);
    for (let k = 0; k < masked; k++) {
      const r = 40 + 30 * Math.sin((Math.PI * k) / masked); // a lesion that grows and shrinks
      const m = new Uint8Array(size * size);
      for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) if ((x - 300) ** 2 + (y - 220) ** 2 <= r * r) m[y * size + x] = 1;
      await s['masks.save']({ imageId: list[first + k]!.id, frame: 0, labelId, instance: 1, rle: encodeRle(m, size, size), source: 'brush' });
    }
    const a = await exportJob(s, list[0]!.id);
    const b = await exportJob(s, list[0]!.id);
    const rt = await exportJob(s, list[0]!.id, 'rtstruct');
    const file = path.join(root, 'project', a.job.exported!.file);
    const python = await findPython({ lock: dicomLock() });
    const sources = readdirSync(path.join(root, 'series')).map((f) => path.join(root, 'series', f));
    const throughput = async (kind: 'dimse' | 'dicomweb') => {
      const orthanc = await startOrthanc();
      try {
        const dest: PacsDestination =
          kind === 'dimse'
            ? { kind, aeTitle: orthanc.aeTitle, host: '127.0.0.1', port: orthanc.dicomPort, callingAeTitle: 'BENCH' }
            : { kind, baseUrl: `http://127.0.0.1:${orthanc.httpPort}/dicom-web`, auth: { kind: 'basic', user: orthanc.user, password: orthanc.password } };
        const t = performance.now();
        const r = await sendFiles(python, dest, [file, ...sources]);
        const ms = performance.now() - t;
        if (!r.every((x) => x.ok)) throw new Error(`${kind}: ${r.filter((x) => !x.ok).length} not stored`);
        return { instances: r.length, ms: Math.round(ms), instancesPerSecond: Number(((r.length / ms) * 1000).toFixed(1)) };
      } finally {
        await orthanc.stop();
      }
    };
    const cstore = await throughput('dimse');
    const stow = await throughput('dicomweb');
    return {
      series: `${slices} slices ${size}x${size} int16, masks on ${masked}`,
      exportMs: Math.round(a.ms),
      frames: a.job.exported!.frames,
      segBytes: statSync(file).size,
      unchangedReexportMs: Math.round(b.ms),
      reexportReused: b.job.exported!.reused,
      rtstructExportMs: Math.round(rt.ms),
      rtstructBytes: statSync(path.join(root, 'project', rt.job.exported!.file)).size,
      dicomEnvironmentLookupMs: Math.round(envMs),
      cStoreToOrthanc: cstore,
      stowRsToOrthanc: stow,
      sendNote: 'one association / one multipart request for the SEG and 300 slices of 512 KiB; Orthanc on the same 2 cores',
      loadAverage1m: Number(os.loadavg()[0]!.toFixed(2)),
    };
  } finally {
    await s.close();
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await segBench(), null, 2));
}
