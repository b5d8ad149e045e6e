/**
 * The inference worker thread: owns the onnxruntime sessions so encoder runs (seconds for
 * vit_b) never block the services' event loop. Keeps the last few embeddings so a click
 * sends only its prompts. Runtime: node (worker_threads).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SamEngine, type Embedding } from './sam-engine.node.js';
import type { WorkerReply, WorkerRequest } from './sam-worker-protocol.js';

const engine = new SamEngine((workerData as { threads?: number } | undefined)?.threads);
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
      remember(m.embeddingKey, e);
      // Send a copy: the worker keeps its own for the clicks that follow.
      const copy = { data: e.data.slice(), dims: e.dims };
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

parentPort!.on('message', (m: WorkerRequest) => {
  const t0 = performance.now();
  handle(m).then(
    ({ value, transfer }) => parentPort!.postMessage({ id: m.id, ok: true, value, ms: performance.now() - t0 } satisfies WorkerReply, transfer),
    (e: unknown) => {
      const code = (e as { code?: string }).code === 'no_embedding' ? ('no_embedding' as const) : undefined;
      const reply: WorkerReply = { id: m.id, ok: false, message: e instanceof Error ? e.message : String(e), ...(code ? { code } : {}) };
      parentPort!.postMessage(reply);
    },
  );
});
