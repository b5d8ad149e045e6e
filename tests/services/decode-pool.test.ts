/**
 * Frame decoding in worker threads (issue 10): the pool gives the same pixels and the same
 * errors as decoding on the event loop, for every encoding the corpora hold; the pixel
 * service decodes a frame once however many ask for it at once; and the pool's own rules
 * (one job per worker, a file's frames to the worker that parsed it, a closed pool refuses).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ApiError, type PixelFrame } from '../../electron/contract/api.js';
import { ProjectService } from '../../electron/services/index.js';
import { DecodePool, defaultDecodeWorkers } from '../../electron/services/imaging/decode-pool.node.js';
import { pickWorker, RecentHolders } from '../../electron/services/imaging/decode-schedule.js';
import { parseDicomFile } from '../../electron/services/imaging/dicom-file.js';
import { FrameDecodeError, type FrameDecoder, type FrameJob, MediaReadError } from '../../electron/services/imaging/frame-job.js';
import { InProcessDecoder } from '../../electron/services/imaging/frame-job.node.js';
import { sniffRaster } from '../../electron/services/imaging/raster.js';
import { generateVariants } from '../fixtures/dicom-variants.js';
import { removeDir, sharedCorpus, tempDir } from './helpers.js';

/** Every frame of every file under `dir` as decode jobs (raster files by their magic). */
function jobsIn(dir: string): FrameJob[] {
  const jobs: FrameJob[] = [];
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    const bytes = readFileSync(file);
    const raster = sniffRaster(bytes);
    const base = { file, fileKey: file };
    if (raster) {
      jobs.push({ ...base, kind: 'raster', format: raster, frame: 0 });
      continue;
    }
    let frames = 1;
    try {
      frames = parseDicomFile(bytes).header.frames;
    } catch {
      /* refused files: both decoders must refuse them alike */
    }
    for (let f = 0; f < frames; f++) jobs.push({ ...base, kind: 'dicom', format: 'dicom', frame: f });
  }
  return jobs;
}

type Outcome = { frame: PixelFrame } | { error: { name: string; message: string } };

async function outcome(d: FrameDecoder, job: FrameJob): Promise<Outcome> {
  try {
    return { frame: await d.decode(job) };
  } catch (e) {
    return { error: { name: (e as Error).constructor.name, message: (e as Error).message } };
  }
}

/** Decode every job with both decoders (the pool's all at once, as the prefetcher asks) and list the differences. */
async function differences(jobs: FrameJob[], pool: DecodePool, inProcess: InProcessDecoder): Promise<string[]> {
  const pooled = await Promise.all(jobs.map((j) => outcome(pool, j)));
  const out: string[] = [];
  for (const [i, job] of jobs.entries()) {
    const a = await outcome(inProcess, job);
    const b = pooled[i]!;
    const where = `${path.basename(job.file)} frame ${job.frame}`;
    if ('error' in a || 'error' in b) {
      // Errors cross the thread as MediaReadError / FrameDecodeError with the same words.
      const msg = (o: Outcome) => ('error' in o ? o.error.message : 'decoded');
      if (msg(a) !== msg(b)) out.push(`${where}: in-process "${msg(a)}", pool "${msg(b)}"`);
      continue;
    }
    const { data: da, ...ha } = a.frame;
    const { data: db, ...hb } = b.frame;
    try {
      assert.deepEqual(hb, ha);
      assert.ok(Buffer.from(da).equals(Buffer.from(db)), 'pixel bytes differ');
    } catch (e) {
      out.push(`${where}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return out;
}

describe('the decode pool decodes as the event loop does', () => {
  const pool = new DecodePool({ workers: 2 });
  const inProcess = new InProcessDecoder();
  after(() => pool.close());

  test('the generated corpus: Explicit and Implicit VR, multi-frame, MONOCHROME1, planar RGB, JPEG baseline, RLE, PNG/JPEG/TIFF/BMP, broken files', async () => {
    const { dir } = await sharedCorpus();
    const jobs = jobsIn(dir);
    assert.ok(jobs.length > 30, `${jobs.length} jobs`);
    assert.deepEqual(await differences(jobs, pool, inProcess), []);
  });

  test('every transfer syntax of the differential corpus (dcmtk, GDCM): JPEG lossless/LS/2000/12-bit, deflate, big endian, palettes, damaged files', async (t) => {
    const missing = ['dcmconv', 'dcmcjpeg', 'dcmcjpls', 'dcmcrle', 'gdcmconv'].filter((tool) => spawnSync('which', [tool]).status !== 0);
    if (missing.length) {
      t.skip(`${missing.join(', ')} missing (apt-get install dcmtk libgdcm-tools; .ci/run does)`);
      return;
    }
    const dir = tempDir('pool-variants');
    try {
      generateVariants(dir);
      const jobs = jobsIn(dir);
      // A first in-process pass, so the comparison below decodes each frame a second time from
      // the same parsed file: in-place conversions (byte swaps, YBR to RGB) once changed that
      // file, and a second decode of a big-endian or YBR_FULL frame gave other pixels.
      const refused = (await Promise.all(jobs.map((j) => outcome(inProcess, j)))).filter((o) => 'error' in o).length;
      assert.ok(jobs.length > 60 && refused > 3, `${jobs.length} jobs, ${refused} refused`);
      assert.deepEqual(await differences(jobs, pool, inProcess), []);
    } finally {
      removeDir(dir);
    }
  });

  test('a missing file is a MediaReadError with the system code, from either decoder', async () => {
    const job: FrameJob = { file: path.join(tempDir('gone'), 'gone.dcm'), fileKey: 'gone', kind: 'dicom', format: 'dicom', frame: 0 };
    for (const d of [pool, inProcess]) {
      const e = await d.decode(job).then(() => null, (x: unknown) => x);
      assert.ok(e instanceof MediaReadError, String(e));
      assert.equal(e.errno, 'ENOENT');
    }
  });
});

describe('the pixel service over the pool', () => {
  let dir: string;
  let sliceId: number;
  let mediaFile: string;

  before(async () => {
    const { dir: corpus } = await sharedCorpus();
    dir = path.join(tempDir('pool-project'), 'p');
    const s = new ProjectService({ user: 't', transport: 'browser', decoder: new InProcessDecoder() });
    s['project.create']({ path: dir });
    const first = readdirSync(path.join(corpus, 'ct')).sort()[0]!;
    const report = await s['images.importPaths']({ paths: [path.join(corpus, 'ct', first)] });
    sliceId = report.imported[0]!.imageId;
    // The project's one media file.
    const media = readdirSync(path.join(dir, 'media'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    assert.equal(media.length, 1);
    mediaFile = path.join(media[0]!.parentPath, media[0]!.name);
    s.close();
  });
  after(() => removeDir(path.dirname(dir)));

  /** The error image.pixels gives for the slice with this decoder. */
  async function errorWith(decoder: FrameDecoder): Promise<ApiError> {
    const s = new ProjectService({ user: 't', transport: 'browser', decoder });
    try {
      s['project.open']({ path: dir });
      const e = await s['image.pixels']({ imageId: sliceId, frame: 0 }).then(() => null, (x: unknown) => x);
      assert.ok(e instanceof ApiError, `expected an ApiError, got ${String(e)}`);
      return e;
    } finally {
      s.close();
    }
  }

  test('a damaged media file gives the same plain error from a worker as before, and a missing one too', async () => {
    const pool = new DecodePool({ workers: 1 });
    const whole = readFileSync(mediaFile);
    try {
      writeFileSync(mediaFile, whole.subarray(0, Math.floor(whole.length * 0.6)));
      const before = await errorWith(new InProcessDecoder());
      const now = await errorWith(pool);
      assert.equal(now.code, 'io');
      assert.match(now.message, /^Cannot decode image \d+, frame 0: The file ends before its data does/);
      assert.deepEqual(now.toShape(), before.toShape());

      rmSync(mediaFile);
      const missingBefore = await errorWith(new InProcessDecoder());
      const missingNow = await errorWith(pool);
      assert.match(missingNow.message, /^Media file of image \d+ is missing or unreadable: ENOENT$/);
      assert.deepEqual(missingNow.toShape(), missingBefore.toShape());
    } finally {
      writeFileSync(mediaFile, whole);
      await pool.close();
    }
  });

  test('a frame asked for by several callers at once is decoded once', async () => {
    let decodes = 0;
    const inner = new InProcessDecoder();
    const counting: FrameDecoder = { decode: (j) => (decodes++, inner.decode(j)), warm() {}, clear() {} };
    const s = new ProjectService({ user: 't', transport: 'browser', decoder: counting });
    try {
      s['project.open']({ path: dir });
      const frames = await Promise.all([1, 2, 3].map(() => s['image.pixels']({ imageId: sliceId, frame: 0 })));
      assert.equal(decodes, 1);
      assert.equal(frames[1], frames[0]);
      await s['image.pixels']({ imageId: sliceId, frame: 0 });
      assert.equal(decodes, 1, 'then served from the frame cache');
    } finally {
      s.close();
    }
  });
});

describe('the pool\'s rules', () => {
  test('a worker count from the cores: one core left free, 1 to 4', () => {
    assert.deepEqual([1, 2, 3, 4, 8, 64].map((c) => defaultDecodeWorkers(c)), [1, 1, 2, 3, 4, 4]);
  });

  test('a file goes to the free worker that parsed it, else to any free worker', () => {
    assert.equal(pickWorker([0, 1, 2], 2), 2);
    assert.equal(pickWorker([0, 2], 1), 0);
    assert.equal(pickWorker([1], undefined), 1);
    const h = new RecentHolders(2);
    h.set('a', 0);
    h.set('b', 1);
    h.set('c', 1);
    assert.equal(h.get('a'), undefined, 'the oldest is dropped past the limit');
    h.forget(1);
    assert.equal(h.get('c'), undefined);
  });

  test('a closed pool fails what waits and refuses new work with a FrameDecodeError', async () => {
    const { dir } = await sharedCorpus();
    const job: FrameJob = { file: path.join(dir, 'dicom', 'multiframe.dcm'), fileKey: 'mf', kind: 'dicom', format: 'dicom', frame: 0 };
    const pool = new DecodePool({ workers: 1 });
    const pending = [0, 1, 2].map((frame) => pool.decode({ ...job, frame }).then(() => 'decoded', (e: unknown) => e));
    await pool.close();
    for (const r of await Promise.all(pending)) assert.ok(r instanceof FrameDecodeError, String(r));
    await assert.rejects(pool.decode(job), FrameDecodeError);
  });
});
