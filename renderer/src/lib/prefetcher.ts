/**
 * Which slices of the open stack to fetch before the user reaches them, and how many at a
 * time. Nearest first in the direction the user scrolls; the queue is rebuilt on every slice
 * change, so a fast scroll re-prioritises at once, and only a few requests are in flight so
 * the request for the slice on screen is never starved.
 *
 * While the user is scrolling, only slices ahead are fetched: the ones behind were just
 * passed (shown or skipped), and every request for one of them delays a slice the user is
 * about to reach. When scrolling pauses, the neighbours behind are filled in as well.
 *
 * The loading itself is injected (cornerstone's cache in the viewer, a plain map in the
 * scroll benchmark), so the viewer and the benchmark run this same schedule.
 *
 * Runtime: pure (timers only).
 */
import { prefetchOrder } from './prefetchOrder';

export interface SliceSource<T> {
  /** Fetch the slice into the cache; errors are ignored here (they surface when it is shown). */
  load(item: T): Promise<unknown>;
  /**
   * Fetch several slices in one request (they count as requested at once). Without it, or
   * with `batch` 1, every slice is its own request.
   */
  loadMany?(items: T[]): Promise<unknown>;
  /** True when the slice is cached or already being fetched. */
  isRequested(item: T): boolean;
}

export interface PrefetchOptions {
  /** Requests in flight at most (the browser allows 6 per host; keep some for the slice on screen). */
  concurrency?: number;
  ahead?: number;
  behind?: number;
  /** How long without a slice change counts as the end of a scroll (ms). */
  settleMs?: number;
  /**
   * Slices per request when the source can load many: what a request costs (the browser's
   * network service, the host's HTTP handling, the page's fetch) is then paid once for
   * them all, which on a busy 2-core machine decides whether a cold series keeps up with the
   * wheel. Consecutive slices of the queue, so a batch never reaches past nearer ones.
   */
  batch?: number;
}

export class Prefetcher<T> {
  private queue: T[] = [];
  private running = 0;
  private settle: ReturnType<typeof setTimeout> | null = null;
  private readonly concurrency: number;
  private readonly ahead: number;
  private readonly behind: number;
  private readonly settleMs: number;
  private readonly batch: number;

  constructor(
    private readonly source: SliceSource<T>,
    options: PrefetchOptions = {},
  ) {
    this.concurrency = options.concurrency ?? 4;
    this.ahead = options.ahead ?? 160;
    this.behind = options.behind ?? 24;
    this.settleMs = options.settleMs ?? 250;
    this.batch = source.loadMany ? Math.max(1, Math.floor(options.batch ?? 1)) : 1;
  }

  /**
   * The user is at `index` of `stack`, moving in `direction`; `scrolling` when this slice
   * change is one step of a scroll (wheel, arrow keys) rather than a jump or an opening.
   */
  around(stack: readonly T[], index: number, direction: 1 | -1, scrolling = false): void {
    if (this.settle !== null) clearTimeout(this.settle);
    this.settle = null;
    this.queue = prefetchOrder(stack.length, index, direction, this.ahead, scrolling ? 0 : this.behind)
      .map((i) => stack[i]!)
      .filter((it) => !this.source.isRequested(it));
    if (scrolling) this.settle = setTimeout(() => this.around(stack, index, direction, false), this.settleMs);
    this.pump();
  }

  reset(): void {
    if (this.settle !== null) clearTimeout(this.settle);
    this.settle = null;
    this.queue = [];
  }

  /** Requests in flight now. */
  get inFlight(): number {
    return this.running;
  }

  private pump(): void {
    while (this.running < this.concurrency && this.queue.length > 0) {
      const items: T[] = [];
      while (items.length < this.batch && this.queue.length > 0) {
        const it = this.queue.shift()!;
        if (!this.source.isRequested(it)) items.push(it);
      }
      if (items.length === 0) continue;
      this.running++;
      (items.length === 1 ? this.source.load(items[0]!) : this.source.loadMany!(items))
        .catch(() => {})
        .finally(() => {
          this.running--;
          this.pump();
        });
    }
  }
}
