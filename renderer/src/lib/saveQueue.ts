/**
 * Autosave: edits mark a layer dirty; the queue saves it after a short quiet period, and
 * never later than `maxWaitMs` after the first unsaved edit, so continuous painting still
 * reaches the disk within a second. Saves run one at a time in order; a failed save keeps
 * the layer dirty, reports the error, and is retried after `retryMs` (or on the next flush).
 *
 * Runtime: pure (timers only); the actual save is injected.
 */

export interface SaveJob {
  /** Identity of the thing saved; a newer job with the same key replaces an unsaved older one. */
  key: string;
  run: () => Promise<void>;
}

export type SaveState = { kind: 'idle' } | { kind: 'pending' } | { kind: 'saving' } | { kind: 'saved'; at: number } | { kind: 'error'; message: string };

export class SaveQueue {
  private readonly dirty = new Map<string, SaveJob>();
  private quietTimer: ReturnType<typeof setTimeout> | null = null;
  private maxTimer: ReturnType<typeof setTimeout> | null = null;
  private running: Promise<void> | null = null;
  state: SaveState = { kind: 'idle' };

  private retryTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly onState: (s: SaveState) => void = () => {},
    readonly quietMs = 250,
    readonly maxWaitMs = 700,
    /** After a failed save, try again this much later (the edit stays dirty meanwhile). */
    readonly retryMs = 2000,
  ) {}

  get pendingCount(): number {
    return this.dirty.size;
  }

  mark(job: SaveJob): void {
    this.dirty.set(job.key, job);
    this.setState({ kind: 'pending' });
    if (this.quietTimer) clearTimeout(this.quietTimer);
    this.quietTimer = setTimeout(() => void this.flush(), this.quietMs);
    if (!this.maxTimer) this.maxTimer = setTimeout(() => void this.flush(), this.maxWaitMs);
  }

  /** Save everything dirty now; resolves when all of it (and anything already running) is done. */
  async flush(): Promise<void> {
    if (this.quietTimer) clearTimeout(this.quietTimer);
    if (this.maxTimer) clearTimeout(this.maxTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.quietTimer = this.maxTimer = this.retryTimer = null;
    while (this.running) await this.running;
    if (this.dirty.size === 0) return;
    const jobs = [...this.dirty.values()];
    this.dirty.clear();
    this.running = this.runJobs(jobs);
    try {
      await this.running;
    } finally {
      this.running = null;
    }
    // Edits that arrived while saving are saved by their own timers.
  }

  private async runJobs(jobs: SaveJob[]): Promise<void> {
    this.setState({ kind: 'saving' });
    let error: string | null = null;
    for (const job of jobs) {
      try {
        await job.run();
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
        // Keep it for a retry unless a newer edit of the same thing is already waiting.
        if (!this.dirty.has(job.key)) this.dirty.set(job.key, job);
      }
    }
    if (error !== null) {
      this.setState({ kind: 'error', message: error });
      this.retryTimer = setTimeout(() => void this.flush(), this.retryMs);
    }
    else if (this.dirty.size > 0) this.setState({ kind: 'pending' });
    else this.setState({ kind: 'saved', at: Date.now() });
  }

  private setState(s: SaveState): void {
    this.state = s;
    this.onState(s);
  }
}
