/**
 * When is the Python runtime "not answering"? The deadlines and the one decision the
 * client's watchdog takes on each tick. Runtime: pure.
 *
 * The protocol makes this simple: every request is answered at once (the server answers in
 * order on its reading thread; anything long runs as a job), so a request has a fixed
 * deadline. A job may run for hours, and some stages (an ONNX export, a quantization) send
 * no progress for minutes, so a fixed timeout on a job would kill healthy training. Instead,
 * while a job is awaited and the child has been quiet for a while, the client sends a cheap
 * probe request; the child answers it between two training steps. A child that answers
 * neither the probe nor anything else in time is stopped (SIGSTOP), deadlocked or wedged in
 * a call that holds the GIL, and is declared hung.
 */

export interface RuntimeDeadlines {
  /** A request must be answered within this (they all answer at once: ~ms). */
  requestMs: number;
  /**
   * The first answer of a new child: Python imports torch before it reads a request, which
   * takes seconds here and can take minutes on a cold disk with a virus scanner.
   */
  startupMs: number;
  /** While a job is awaited: after this much silence, probe the child... */
  quietMs: number;
  /** ...and declare it hung when it then says nothing at all for this long. */
  probeMs: number;
}

/** Generous: a false "hung" kills a training run, a late one only makes the user wait. */
export const DEFAULT_DEADLINES: RuntimeDeadlines = {
  requestMs: 60_000,
  startupMs: 180_000,
  quietMs: 15_000,
  probeMs: 60_000,
};

export interface LivenessState {
  now: number;
  /** When the child last wrote anything on stdout (any byte: answers, progress); null: never. */
  heardAt: number | null;
  /** When it first wrote anything (it is up and reading requests from then on). */
  firstHeardAt: number | null;
  /** The oldest request without an answer (the probe excluded). */
  oldestRequest: { method: string; sentAt: number } | null;
  /** Whether some caller waits for a job to finish. */
  awaitingJobs: boolean;
  /** When the probe now without an answer was sent; null when none is. */
  probeSentAt: number | null;
}

export type LivenessVerdict =
  | { kind: 'ok' }
  | { kind: 'probe' }
  /** `waitedMs` without `waitingFor` (plain words, e.g. "an answer to runtime.info"). */
  | { kind: 'hung'; waitedMs: number; waitingFor: string };

const OK: LivenessVerdict = { kind: 'ok' };

export function checkLiveness(s: LivenessState, d: RuntimeDeadlines): LivenessVerdict {
  if (!s.oldestRequest && !s.awaitingJobs) return OK; // an idle child may sleep
  if (s.heardAt === null || s.firstHeardAt === null) {
    // Still starting: the first answer comes once Python has loaded.
    const sentAt = s.oldestRequest?.sentAt;
    if (sentAt !== undefined && s.now - sentAt > d.startupMs) {
      return { kind: 'hung', waitedMs: d.startupMs, waitingFor: `its first answer (to ${s.oldestRequest!.method})` };
    }
    return OK;
  }
  if (s.oldestRequest) {
    // A request sent while the child was starting counts from the moment it was up.
    const since = Math.max(s.oldestRequest.sentAt, s.firstHeardAt);
    if (s.now - since > d.requestMs) {
      return { kind: 'hung', waitedMs: d.requestMs, waitingFor: `an answer to ${s.oldestRequest.method}` };
    }
  }
  if (s.probeSentAt !== null) {
    const lastSign = Math.max(s.probeSentAt, s.heardAt);
    if (s.now - lastSign > d.probeMs) return { kind: 'hung', waitedMs: d.probeMs, waitingFor: 'any answer or progress' };
    return OK;
  }
  return s.now - s.heardAt > d.quietMs ? { kind: 'probe' } : OK;
}

/** How often the watchdog looks: often enough to honour the shortest deadline closely. */
export function tickMs(d: RuntimeDeadlines): number {
  return Math.max(20, Math.min(1000, Math.floor(Math.min(d.requestMs, d.quietMs, d.probeMs) / 4)));
}
