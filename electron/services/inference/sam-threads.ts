/** How many threads inference uses by default: every core, at most 8. Runtime: node (no onnxruntime import). */
import os from 'node:os';

export function defaultThreads(): number {
  return Math.max(1, Math.min(8, os.availableParallelism()));
}
