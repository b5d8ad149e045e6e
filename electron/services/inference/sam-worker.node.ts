/**
 * The inference worker: owns the onnxruntime sessions so encoder runs (seconds for vit_b)
 * never block the services' event loop. Keeps the last few embeddings so a click sends only
 * its prompts. Runs as a worker thread (the decoder) or as a child process (the encoder,
 * which must be stoppable mid-run: see startModuleProcess). Runtime: node.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SamEngine, type Embedding } from './sam-engine.node.js';
import type { WorkerReply, WorkerRequest } from './sam-worker-protocol.js';

/**
 * Where requests come from and replies go: the parent thread (worker_threads), Electron's
 * utility process port, or the parent process over Node's IPC (fork).
 */
interface Channel {
  data: unknown;
  on(f: (m: WorkerRequest) => void): void;
  post(m: WorkerReply, transfer?: ArrayBuffer[]): void;
}
const utilityPort = (process as unknown as { parentPort?: { on(e: 'message', f: (ev: { data: unknown }) => void): void; postMessage(m: unknown): void } }).parentPort;
const channel: Channel = parentPort
  ? { data: workerData as unknown, on: (f) => parentPort!.on('message', f), post: (m, transfer = []) => parentPort!.postMessage(m, transfer) }
  : utilityPort
    ? { data: JSON.parse(process.argv[2] ?? 'null') as unknown, on: (f) => utilityPort.on('message', (ev) => f(ev.data as WorkerRequest)), post: (m) => utilityPort.postMessage(m) }
    : {
        data: JSON.parse(process.argv[2] ?? 'null') as unknown,
        on: (f) => process.on('message', (m) => f(m as WorkerRequest)),
        post: (m) => void process.send!(m),
      };
if (!parentPort && !utilityPort) process.on('disconnect', () => process.exit(0)); // the app went away

const engine = new SamEngine((channel.data as { threads?: number } | null)?.threads);
const KEEP = 4;
const embeddings = new Map<string, Embedding>();

function remember(key: string, e: Embedding): void {
  embeddings.delete(key);
  embeddings.set(key, e);
  while (embeddings.size > KEEP) embeddings.delete(embeddings.keys().next().value!);
}

async function handle(m: WorkerRequest): Promise<{ value: unknown; transfer: ArrayBuffer[] }> {
  switch (m.op) {
    case 'load':
      await engine.load(m.files, m.withEncoder);
      return { value: null, transfer: [] };
    case 'embed': {
      const e = await engine.embed(m.files, m.image);
      remember(m.embeddingKey, { data: e.data, dims: e.dims });
      // Send a copy: the worker keeps its own for the clicks that follow.
      const copy = { data: e.data.slice(), dims: e.dims, provider: e.provider };
      return { value: copy, transfer: [copy.data.buffer as ArrayBuffer] };
    }
    case 'decode': {
      if (m.embedding) remember(m.embeddingKey, m.embedding);
      const e = embeddings.get(m.embeddingKey);
      if (!e) throw Object.assign(new Error('embedding not held by the worker'), { code: 'no_embedding' as const });
      remember(m.embeddingKey, e);
      const r = await engine.decode(m.files, e, m.req);
      return { value: r, transfer: [...r.masks.flatMap((x) => (x ? [x.buffer as ArrayBuffer] : [])), ...r.lowRes.map((x) => x.buffer as ArrayBuffer)] };
    }
    case 'release':
      await engine.release(m.key);
      for (const k of [...embeddings.keys()]) if (k.startsWith(m.key)) embeddings.delete(k);
      return { value: null, transfer: [] };
  }
}

channel.on((m: WorkerRequest) => {
  const t0 = performance.now();
  handle(m).then(
    ({ value, transfer }) => channel.post({ id: m.id, ok: true, value, ms: performance.now() - t0 }, transfer),
    (e: unknown) => {
      const code = (e as { code?: string }).code === 'no_embedding' ? ('no_embedding' as const) : undefined;
      channel.post({ id: m.id, ok: false, message: e instanceof Error ? e.message : String(e), ...(code ? { code } : {}) });
    },
  );
});
