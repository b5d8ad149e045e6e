/**
 * The browser host answers pixel requests concurrently (issue 10): while a slow frame
 * decodes (a 4096x4096 16-bit image, a few hundred ms), a slice that is already decoded is
 * answered at once, and another slice is decoded alongside by the second worker. When
 * frames were decoded on the host's event loop, both waited for the slow one: the same
 * scenario run with the in-process decoder shows it, so this test tells the two apart.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { ImageSummary } from '../../electron/contract/api.js';
import { startHost } from '../../electron/host/server.js';
import { DecodePool } from '../../electron/services/imaging/decode-pool.node.js';
import type { FrameDecoder, FrameJob } from '../../electron/services/imaging/frame-job.js';
import { InProcessDecoder } from '../../electron/services/imaging/frame-job.node.js';
import { createServices } from '../../electron/services/index.js';
import { createHttpApi } from '../../renderer/src/transport/http-client.js';
import { CT_IMAGE_STORAGE, le, writeDicom } from '../fixtures/dicom-writer.js';
import { removeDir, sharedCorpus, tempDir } from '../services/helpers.js';

const BIG = 4096;
let root: string;
let project: string;

before(async () => {
  root = tempDir('host-concurrency');
  const { dir: corpus } = await sharedCorpus();
  const px = new Int16Array(BIG * BIG);
  for (let i = 0; i < px.length; i++) px[i] = ((i * 7919) % 4000) - 1000;
  const big = writeDicom(
    {
      SOPClassUID: CT_IMAGE_STORAGE, SOPInstanceUID: '1.2.826.0.1.3680043.10.1234.77.1', StudyInstanceUID: '1.2.826.0.1.3680043.10.1234.77',
      SeriesInstanceUID: '1.2.826.0.1.3680043.10.1234.77.2', Modality: 'CT', Rows: BIG, Columns: BIG, SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME2', BitsAllocated: 16, BitsStored: 12, HighBit: 11, PixelRepresentation: 1,
    },
    { transferSyntax: '1.2.840.10008.1.2.1', pixelFrames: [le(px)] },
  );
  const inbox = path.join(root, 'inbox');
  mkdirSync(inbox);
  writeFileSync(path.join(inbox, 'big.dcm'), big);
  for (const f of readdirSync(path.join(corpus, 'ct')).sort().slice(0, 2)) copyFileSync(path.join(corpus, 'ct', f), path.join(inbox, f));
  project = path.join(root, 'project');
  const s = createServices({ user: 't', transport: 'browser', version: 't', decoder: new InProcessDecoder() });
  s['project.create']({ path: project });
  const report = await s['images.importPaths']({ paths: [inbox] });
  assert.equal(report.imported.length, 3, JSON.stringify(report.failed));
  await s.close();
});
after(() => removeDir(root));

interface Timeline {
  /** When the slow frame's decode ended (ms, performance.now()). */
  slowDecoded: number;
  cachedAnswered: number;
  otherAnswered: number;
}

/** The scenario against a real host whose services decode with `inner`. */
async function scenario(inner: FrameDecoder): Promise<Timeline> {
  let slowStarted!: () => void;
  const started = new Promise<void>((r) => (slowStarted = r));
  let slowDecoded = NaN;
  let bigKey = '';
  const decoder: FrameDecoder = {
    decode(job: FrameJob) {
      const p = inner.decode(job);
      if (job.fileKey !== bigKey) return p;
      slowStarted();
      return p.finally(() => (slowDecoded = performance.now()));
    },
    warm: () => inner.warm(),
    clear: () => inner.clear(),
  };
  const services = createServices({ user: 't', transport: 'browser', version: 't', decoder });
  const host = await startHost({ handlers: services, token: 'tok' });
  try {
    const api = createHttpApi({ baseUrl: host.origin, token: 'tok' });
    await api.call('project.open', { path: project });
    const images = (await api.call('images.list', {})) as ImageSummary[];
    const big = images.find((i) => i.width === BIG)!;
    const [cached, other] = images.filter((i) => i.width !== BIG);
    bigKey = (await api.call('image.get', { imageId: big.id })).sha256;
    await api.call('image.pixels', { imageId: cached!.id, frame: 0 }); // now in the frame cache

    const slow = api.call('image.pixels', { imageId: big.id, frame: 0 });
    await started;
    let cachedAnswered = NaN;
    let otherAnswered = NaN;
    await Promise.all([
      slow,
      api.call('image.pixels', { imageId: cached!.id, frame: 0 }).then(() => (cachedAnswered = performance.now())),
      api.call('image.pixels', { imageId: other!.id, frame: 0 }).then(() => (otherAnswered = performance.now())),
    ]);
    return { slowDecoded, cachedAnswered, otherAnswered };
  } finally {
    await host.close();
    await services.close();
  }
}

test('while a slow frame decodes, a decoded slice is answered at once and another slice decodes alongside', { timeout: 120_000 }, async () => {
  const pool = new DecodePool({ workers: 2 });
  try {
    pool.warm();
    const t = await scenario(pool);
    assert.ok(t.cachedAnswered < t.slowDecoded, `the decoded slice was answered ${(t.cachedAnswered - t.slowDecoded).toFixed(0)} ms after the slow decode ended`);
    assert.ok(t.otherAnswered < t.slowDecoded, `the other slice was answered ${(t.otherAnswered - t.slowDecoded).toFixed(0)} ms after the slow decode ended`);
  } finally {
    await pool.close();
  }
});

test('the same scenario with decoding on the event loop (the old host): both wait for the slow frame', { timeout: 120_000 }, async () => {
  const t = await scenario(new InProcessDecoder());
  assert.ok(t.cachedAnswered > t.slowDecoded);
  assert.ok(t.otherAnswered > t.slowDecoded);
});
