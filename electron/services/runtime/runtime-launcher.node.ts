/**
 * The shared Python runtime of the app (model imports use it; each training run starts its
 * own): launched on first need, once, by the composition root, and closed with the services.
 * A failed launch (the environment could not be built) is retried on the next need, and a
 * runtime that crashed, or that its client killed as broken (babbling on stdout, hung), is
 * replaced by a fresh child on the next need: one bad moment never disables model imports
 * until the app restarts. Runtime: node.
 */
import type { PythonEnvProgress } from './python-path.node.js';
import { RuntimeClient } from './runtime-client.node.js';

/** Starts one runtime client (tests start fake children; the app the real runtime). */
export type StartRuntime = (opts: { signal: AbortSignal; onProgress: (p: PythonEnvProgress) => void }) => Promise<RuntimeClient>;

export class RuntimeLauncher {
  private runtime: Promise<RuntimeClient> | null = null;
  private abort = new AbortController();
  private readonly listeners = new Set<(p: PythonEnvProgress) => void>();

  constructor(private readonly startRuntime: StartRuntime = (opts) => RuntimeClient.launch(opts)) {}

  /** The runtime; `onProgress` hears the environment being built while this caller waits. */
  get(onProgress?: (p: PythonEnvProgress) => void): Promise<RuntimeClient> {
    if (onProgress) this.listeners.add(onProgress);
    if (!this.runtime) {
      const p = this.startRuntime({
        signal: this.abort.signal,
        onProgress: (g) => {
          for (const l of this.listeners) l(g);
        },
      });
      this.runtime = p;
      p.catch(() => {
        if (this.runtime === p) this.runtime = null;
      });
    }
    const r = this.runtime;
    if (onProgress) void r.finally(() => this.listeners.delete(onProgress)).catch(() => undefined);
    // A runtime that died since is replaced on the next need.
    return r.then((c) => {
      if (c.crash && this.runtime === r) {
        this.runtime = null;
        return this.get(onProgress);
      }
      return c;
    });
  }

  async close(): Promise<void> {
    this.abort.abort();
    const runtime = await this.runtime?.catch(() => null);
    this.runtime = null;
    this.abort = new AbortController();
    await runtime?.close();
  }
}
