/**
 * A decode worker thread: reads, parses and decodes frames with the same code the event
 * loop would run (frame-job.node.ts), keeping its own cache of parsed files. Runtime: Node
 * (worker_threads).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { PixelFrame } from '../../contract/api.js';
import { decodeFrameJob, parsedFileCache } from './frame-job.node.js';
import { type DecodeReply, type DecodeRequest, toFailure } from './frame-job.js';

const parsed = parsedFileCache((workerData as { parsedBytes: number }).parsedBytes);
const port = parentPort!;

/**
 * The frame's pixels as a buffer of their own, to move (not copy) to the pool. An
 * uncompressed frame can be a view into the parsed file, which the cache still holds.
 */
function movable(f: PixelFrame): { frame: PixelFrame; transfer: ArrayBuffer[] } {
  const owned = f.data.byteOffset === 0 && f.data.byteLength === f.data.buffer.byteLength;
  const data = owned ? f.data : new Uint8Array(f.data);
  return { frame: { ...f, data }, transfer: [data.buffer] };
}

port.on('message', (m: DecodeRequest) => {
  if (m.op === 'clear') {
    parsed.clear();
    port.postMessage({ id: m.id, ok: true, frame: null } satisfies DecodeReply);
    return;
  }
  decodeFrameJob(m.job, parsed).then(
    (f) => {
      const { frame, transfer } = movable(f);
      port.postMessage({ id: m.id, ok: true, frame } satisfies DecodeReply, transfer);
    },
    (e: unknown) => port.postMessage({ id: m.id, ok: false, failure: toFailure(e) } satisfies DecodeReply),
  );
});
