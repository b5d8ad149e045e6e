/**
 * Sends the project's outbox: queued items now, failed ones again with backoff (30 s, 1 min,
 * 2 min ... at most an hour apart, by default), until sent. Runtime: node.
 *
 * State lives in the outbox table, so a restart resumes where the app stopped: items left
 * "sending" by a crash are queued again (the object keeps its SOP Instance UID, so a PACS
 * that had already stored it keeps one copy). One pass at a time; a pass sends each
 * destination's due items together (one association, or one STOW-RS request).
 */
import type { Db } from '../store/project-database.js';
import { OutboxRepository } from '../store/outbox.repository.js';
import { insideProject } from '../project-folder.node.js';
import { sendFiles, type PacsDestination } from './pacs.node.js';

export interface OutboxSenderDeps {
  projectDir: string;
  db: Db;
  python: (signal: AbortSignal) => Promise<string>;
  /** The destination by id, with its secrets; null when it was removed from the settings. */
  destination: (id: string) => { name: string; destination: PacsDestination } | null;
  /** First retry delay; doubled per attempt up to `maxRetryMs`. */
  retryBaseMs?: number;
  maxRetryMs?: number;
  log?: (m: string) => void;
}

export class OutboxSender {
  private readonly repo: OutboxRepository;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private readonly controller = new AbortController();

  constructor(private readonly deps: OutboxSenderDeps) {
    this.repo = new OutboxRepository(deps.db);
  }

  start(): void {
    const n = this.repo.requeueSending();
    if (n) this.deps.log?.(`outbox: ${n} item(s) were being sent when the app stopped; sending them again`);
    this.kick();
  }

  /** Send what is due now (called when something is queued). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass()
      .catch((e: unknown) => this.deps.log?.(`outbox: ${(e as Error).message}`))
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.kick();
        } else this.schedule();
      });
  }

  /** Resolves when the pass under way (if any) has finished; tests and close use it. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.controller.abort();
    await this.running?.catch(() => undefined);
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.stopped || !this.deps.db.open) return;
    const next = this.repo.nextRetry();
    if (!next) return;
    const wait = Math.max(0, Date.parse(next) - Date.now());
    this.timer = setTimeout(() => this.kick(), Math.min(wait, 2 ** 31 - 1));
    this.timer.unref();
  }

  private async pass(): Promise<void> {
    if (!this.deps.db.open) return;
    const due = this.repo.due(new Date().toISOString());
    if (due.length === 0) return;
    let python: string;
    try {
      python = await this.deps.python(this.controller.signal);
    } catch (e) {
      if (this.stopped) return;
      // No DICOM environment (offline, no Python): each item says so and is tried again.
      for (const it of due) this.fail(it.id, it.attempts, `The DICOM environment is not available: ${(e as Error).message}`);
      return;
    }
    const byDestination = new Map<string, typeof due>();
    for (const it of due) byDestination.set(it.destinationId, [...(byDestination.get(it.destinationId) ?? []), it]);
    for (const [destinationId, items] of byDestination) {
      if (this.stopped) return;
      let dest: ReturnType<OutboxSenderDeps['destination']>;
      try {
        dest = this.deps.destination(destinationId);
      } catch (e) {
        for (const it of items) this.fail(it.id, it.attempts, (e as Error).message); // a damaged settings file: said, and tried again
        continue;
      }
      if (!dest) {
        for (const it of items) this.repo.setState(it.id, 'failed', { error: `The destination "${it.destinationName}" was removed from the settings; add it again and press Retry`, attempt: true });
        continue;
      }
      const files = items.map((it) => insideProject(this.deps.projectDir, it.file));
      for (const [k, it] of items.entries()) {
        if (!files[k]) this.repo.setState(it.id, 'failed', { error: `${it.file}: the stored path leads out of the project`, attempt: true });
        else this.repo.setState(it.id, 'sending');
      }
      const sendable = items.filter((_, k) => files[k]);
      if (sendable.length === 0) continue;
      try {
        const results = await sendFiles(python, dest.destination, files.filter((f): f is string => f !== null), this.controller.signal);
        const byUid = new Map(results.map((r) => [r.sopInstanceUid, r]));
        const sent: number[] = [];
        for (const it of sendable) {
          const r = byUid.get(it.sopInstanceUid);
          if (r?.ok) {
            this.repo.setState(it.id, 'sent', { sentAt: new Date().toISOString(), attempt: true });
            sent.push(it.id);
          } else this.fail(it.id, it.attempts, r?.error ?? `${dest.name} did not answer for this object`);
        }
        // What waited for these (a report for its SEG) is due now: another pass.
        if (this.repo.anyWaitingOn(sent)) this.again = true;
      } catch (e) {
        if (this.stopped) {
          for (const it of sendable) this.repo.setState(it.id, 'queued');
          return;
        }
        for (const it of sendable) this.fail(it.id, it.attempts, (e as Error).message.replace(/^Sending failed: /, ''));
      }
    }
  }

  private fail(id: number, attemptsBefore: number, error: string): void {
    const base = this.deps.retryBaseMs ?? 30_000;
    const delay = Math.min(base * 2 ** attemptsBefore, this.deps.maxRetryMs ?? 3_600_000);
    this.repo.setState(id, 'failed', { error, nextAttemptAt: new Date(Date.now() + delay).toISOString(), attempt: true });
  }
}
