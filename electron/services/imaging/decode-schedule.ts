/**
 * Which decode worker takes a frame. Each worker keeps the files it parsed, so the frames of
 * one multi-frame file go to the worker that already holds it when that worker is free;
 * otherwise any free worker takes it (parsing the file again beats waiting).
 *
 * Runtime: pure.
 */

/** `idle`: indexes of the free workers (not empty); `holder`: the worker that last decoded the file. */
export function pickWorker(idle: readonly number[], holder: number | undefined): number {
  if (holder !== undefined && idle.includes(holder)) return holder;
  return idle[0]!;
}

/** The worker that last decoded each file, for the most recent `limit` files. */
export class RecentHolders {
  private readonly map = new Map<string, number>();

  constructor(private readonly limit = 1024) {}

  get(fileKey: string): number | undefined {
    return this.map.get(fileKey);
  }

  set(fileKey: string, worker: number): void {
    this.map.delete(fileKey);
    this.map.set(fileKey, worker);
    if (this.map.size > this.limit) this.map.delete(this.map.keys().next().value!);
  }

  /** A worker restarted: the files it held are gone. */
  forget(worker: number): void {
    for (const [k, w] of this.map) if (w === worker) this.map.delete(k);
  }

  clear(): void {
    this.map.clear();
  }
}
