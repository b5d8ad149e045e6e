/**
 * Browser-host transport cost for the hottest call: image.pixels of a 512x512 int16 slice
 * (what the viewer fetches per wheel step). Measures the real host and HTTP client over
 * loopback with a handler that answers a ready frame, so the figure is transport only.
 * Also compares the binary wire encoding with JSON+base64 (encode+decode, in process), as
 * a ratio measured in the same run, and scrolls a real 512x512 CT series through the real
 * services behind the host (first pass: decode per slice; second pass: services' cache).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startHost } from '../../electron/host/server.js';
import { createServices } from '../../electron/services/index.js';
import { generateBenchSeries } from '../fixtures/generate-corpus.js';
import { decodeMessage, encodeMessage } from '../../electron/host/wire.js';
import { createHttpApi } from '../../renderer/src/transport/http-client.js';
import { ctFrame, fakeHandlers } from '../transport/fake-handlers.js';

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const round = (n: number): number => Number(n.toFixed(3));

function stats(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  return { n: s.length, medianMs: round(quantile(s, 0.5)), p95Ms: round(quantile(s, 0.95)), minMs: round(s[0]!), maxMs: round(s.at(-1)!) };
}

async function time(n: number, fn: () => unknown): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}

/** Real services behind the host: scroll a generated 512x512 16-bit series twice. */
async function realServicesScroll(slices: number) {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'delineate-transport-bench-'));
  const services = createServices({ user: 'bench', transport: 'browser' });
  const host = await startHost({ handlers: services });
  try {
    const api = createHttpApi({ baseUrl: host.origin, token: host.token });
    generateBenchSeries(path.join(tmp, 'series'), slices, 512);
    await api.call('project.create', { path: path.join(tmp, 'project') });
    await api.call('images.importPaths', { paths: [path.join(tmp, 'series')] });
    const ids = (await api.call('images.list', {})).sort((a, b) => a.seriesIndex - b.seriesIndex).map((i) => i.id);
    let k = 0;
    const first = await time(ids.length, () => api.call('image.pixels', { imageId: ids[k++]!, frame: 0 }));
    k = 0;
    const second = await time(ids.length, () => api.call('image.pixels', { imageId: ids[k++]!, frame: 0 }));
    return { slices: ids.length, firstPass: stats(first), secondPass: stats(second) };
  } finally {
    await host.close();
    services.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

export default async function transportBench() {
  const frame = ctFrame(512, 512);
  const host = await startHost({ handlers: fakeHandlers(frame) });
  try {
    const api = createHttpApi({ baseUrl: host.origin, token: host.token });
    await time(30, () => api.call('image.pixels', { imageId: 1, frame: 0 })); // warm-up
    const pixels = await time(300, () => api.call('image.pixels', { imageId: 1, frame: 0 }));
    const small = await time(300, () => api.call('app.info', {}));

    const wire = await time(300, () => decodeMessage(encodeMessage(frame)));
    const base64 = await time(300, () => {
      const json = JSON.stringify({ ...frame, data: Buffer.from(frame.data).toString('base64') });
      const back = JSON.parse(json) as { data: string };
      return Buffer.from(back.data, 'base64');
    });
    const wireStats = stats(wire);
    const b64Stats = stats(base64);
    return {
      frame: '512x512 int16 (512 KiB)',
      realServicesScroll: await realServicesScroll(60),
      imagePixelsRoundTrip: stats(pixels),
      appInfoRoundTrip: stats(small),
      encodeDecodeOnly: {
        binaryWire: wireStats,
        jsonBase64: b64Stats,
        base64OverWireMedianRatio: round(b64Stats.medianMs / wireStats.medianMs),
        wireBytes: encodeMessage(frame).byteLength,
        base64JsonBytes: JSON.stringify({ ...frame, data: Buffer.from(frame.data).toString('base64') }).length,
      },
    };
  } finally {
    await host.close();
  }
}
