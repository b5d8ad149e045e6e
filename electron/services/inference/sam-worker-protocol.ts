/**
 * Messages between the inference service and its worker thread. Runtime: pure.
 */
import type { DecodeRequest, DecodeResult, Embedding, ModelFiles } from './sam-engine.node.js';
import type { RgbImage } from './sam-window.js';

export type WorkerRequest =
  | { id: number; op: 'load'; files: ModelFiles; withEncoder: boolean }
  | { id: number; op: 'embed'; files: ModelFiles; image: RgbImage; embeddingKey: string }
  /** `embedding` is sent only when the worker does not hold `embeddingKey` (it answers no_embedding). */
  | { id: number; op: 'decode'; files: ModelFiles; embeddingKey: string; embedding?: Embedding; req: DecodeRequest }
  | { id: number; op: 'release'; key: string };

export type WorkerReply =
  | { id: number; ok: true; value: unknown; ms: number }
  | { id: number; ok: false; message: string; code?: 'no_embedding' };

export type { DecodeResult, Embedding };
