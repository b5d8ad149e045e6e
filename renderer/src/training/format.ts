/**
 * Words and numbers of the retrain loop as the user reads them: stage names, durations,
 * progress, prompt modes, the before/after table, and the Advanced settings form.
 *
 * Runtime: pure (no DOM, no API); unit-tested in tests/renderer/training-format.test.ts.
 */
import { jobIsLive, type EvalRow, type JobInfo, type JobState, type TrainingSettings, type TrainingStage } from '../../../electron/contract/training';

export const STAGE_NAMES: Record<TrainingStage, string> = {
  queued: 'Waiting to start',
  environment: 'Preparing environment',
  snapshot: 'Writing dataset snapshot',
  caching: 'Caching embeddings',
  training: 'Training',
  evaluating: 'Evaluating',
  exporting: 'Exporting',
  gating: 'Deciding',
  done: 'Done',
  reading: 'Reading files',
  storing: 'Storing',
  sending: 'Sending',
  waiting: 'Waiting to try again',
  propagating: 'Propagating',
};

export function stageName(stage: string): string {
  return (STAGE_NAMES as Record<string, string>)[stage] ?? stage;
}

const STATE_NAMES: Record<JobState, string> = {
  running: 'Running',
  cancelling: 'Cancelling…',
  succeeded: 'Finished',
  failed: 'Failed',
  cancelled: 'Cancelled',
  interrupted: 'Interrupted',
};

export function stateName(state: JobState): string {
  return STATE_NAMES[state] ?? state;
}

/** Still going: the panel polls and offers Cancel. */
/** A run still going (the contract's one definition). */
export function isActive(state: JobState): boolean {
  return jobIsLive(state);
}

/** A rough duration for estimates and ETAs: "less than a minute", "about 12 min", "about 1 h 20 min". */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return 'unknown';
  if (seconds < 45) return 'less than a minute';
  const min = Math.round(seconds / 60);
  if (min < 60) return `about ${min} min`;
  const h = Math.floor(min / 60);
  const m = min % 60;
  return m === 0 ? `about ${h} h` : `about ${h} h ${m} min`;
}

/** A measured duration: "8 s", "3 min 20 s", "1 h 5 min". */
export function formatElapsed(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) {
    const r = s % 60;
    return r === 0 ? `${Math.floor(s / 60)} min` : `${Math.floor(s / 60)} min ${r} s`;
  }
  const m = Math.round(s / 60);
  return m % 60 === 0 ? `${Math.floor(m / 60)} h` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

type Progress = Pick<JobInfo, 'state' | 'stage' | 'step' | 'steps' | 'epoch' | 'epochs'>;

/** Where each stage starts on the overall bar (training takes most of it). */
const STAGE_SPAN: Record<TrainingStage, [number, number]> = {
  queued: [0, 0],
  environment: [0, 0.03],
  snapshot: [0.03, 0.07],
  caching: [0.07, 0.15],
  training: [0.15, 0.88],
  evaluating: [0.88, 0.94],
  exporting: [0.94, 0.98],
  gating: [0.98, 1],
  done: [1, 1],
  // import jobs: their own bar, by files
  reading: [0, 1],
  storing: [0, 1],
  // sends: no measure of progress
  sending: [0, 1],
  waiting: [0, 1],
  propagating: [0, 1],
};

const frac = (a: number | null, b: number | null): number | null => (a !== null && b !== null && b > 0 ? Math.min(1, Math.max(0, a / b)) : null);

/** Overall progress 0..1 of a run; null while the current stage gives nothing to measure (an indeterminate bar). */
export function progressFraction(j: Progress): number | null {
  if (j.state === 'succeeded') return 1;
  const [lo, hi] = STAGE_SPAN[j.stage] ?? [0, 0];
  let within: number | null;
  if (j.stage === 'training') {
    // epoch and step are 1-based; step counts within the epoch.
    const e = j.epoch !== null && j.epochs !== null && j.epochs > 0 ? j.epoch : null;
    const s = frac(j.step, j.steps) ?? 0;
    within = e !== null ? Math.min(1, Math.max(0, (e - 1 + s) / j.epochs!)) : frac(j.step, j.steps);
  } else {
    within = frac(j.step, j.steps);
  }
  if (within === null) return j.stage === 'done' ? 1 : lo > 0 ? lo : null;
  return lo + (hi - lo) * within;
}

/** "Epoch 3/20 · step 12/40" while training, "12/40" for other counted stages, '' otherwise. */
export function progressText(j: Progress): string {
  const parts: string[] = [];
  if (j.stage === 'training' && j.epoch !== null && j.epochs !== null) parts.push(`Epoch ${j.epoch}/${j.epochs}`);
  if (j.step !== null && j.steps !== null) parts.push(j.stage === 'training' ? `step ${j.step}/${j.steps}` : `${j.step}/${j.steps}`);
  return parts.join(' · ');
}

// ---------------------------------------------------------------- plan

const PRESET_NAMES: Record<string, string> = {
  auto: 'Automatic',
  decoder: 'Decoder only',
  last_blocks: 'Decoder + last encoder blocks',
  progressive: 'Progressive (three stages)',
};

export function presetName(preset: string): string {
  return PRESET_NAMES[preset] ?? preset;
}

export const PRESETS = ['auto', 'decoder', 'last_blocks', 'progressive'] as const;
export type Preset = (typeof PRESETS)[number];

/** "1e-4", "0.003": learning rates as people write them. */
export function formatLr(lr: number): string {
  if (!Number.isFinite(lr)) return String(lr);
  if (lr >= 0.001 && lr < 1) return String(Number(lr.toPrecision(3)));
  const [m, e] = lr.toExponential().split('e');
  return `${Number(Number(m).toPrecision(3))}e${Number(e)}`;
}

export function splitText(s: { train: number; val: number; groups: number; pinned: number; groupBy: string }): string {
  const pinned = s.pinned > 0 ? `, ${s.pinned} pinned to validation` : '';
  return `${s.train} training / ${s.val} validation, grouped by ${s.groupBy} (${s.groups} group${s.groups === 1 ? '' : 's'}${pinned})`;
}

/** What the Advanced fields hold (strings as typed; blank = let the plan decide). */
export interface AdvancedForm {
  preset: Preset;
  epochs: string;
  unfreezeLastN: string;
  lr: string;
  /** Find the rate with a range test (the typed rate, if any, is the fallback). */
  lrFind: boolean;
}

export const EMPTY_FORM: AdvancedForm = { preset: 'auto', epochs: '', unfreezeLastN: '', lr: '', lrFind: false };

/** The settings for training.plan / training.start from the form, or the first thing wrong with it. */
export function settingsFromForm(f: AdvancedForm): { settings: TrainingSettings; error: null } | { settings: null; error: string } {
  const settings: TrainingSettings = { preset: f.preset };
  const int = (v: string, name: string, lo: number, hi: number): number | string | undefined => {
    const t = v.trim();
    if (!t) return undefined;
    const n = Number(t);
    if (!Number.isInteger(n) || n < lo || n > hi) return `${name} must be a whole number from ${lo} to ${hi}`;
    return n;
  };
  const epochs = int(f.epochs, 'Epochs', 1, 500);
  if (typeof epochs === 'string') return { settings: null, error: epochs };
  if (epochs !== undefined) settings.epochs = epochs;
  const n = int(f.unfreezeLastN, 'Unfrozen blocks', 0, 32);
  if (typeof n === 'string') return { settings: null, error: n };
  if (n !== undefined) settings.unfreezeLastN = n;
  const lrText = f.lr.trim();
  if (lrText) {
    const lr = Number(lrText);
    if (!Number.isFinite(lr) || lr <= 0 || lr > 1) return { settings: null, error: 'Learning rate must be a number above 0 and at most 1 (e.g. 1e-4)' };
    settings.lr = lr;
  }
  if (f.lrFind) settings.lrFind = true;
  return { settings, error: null };
}

// ---------------------------------------------------------------- evaluation

const MODE_ORDER = ['click1', 'click3', 'box', 'auto'] as const;
const MODE_NAMES: Record<string, string> = { click1: '1 click', click3: '3 clicks', box: 'Box', auto: 'No prompt' };

export function modeName(mode: string): string {
  return MODE_NAMES[mode] ?? mode;
}

const modeRank = (m: string): number => {
  const i = (MODE_ORDER as readonly string[]).indexOf(m);
  return i < 0 ? MODE_ORDER.length : i;
};

interface TableRow extends EvalRow {
  modeName: string;
  delta: number;
}

/** Rows of the before/after table: by prompt mode (1 click, 3 clicks, box, no prompt), then label. */
export function evalTable(rows: readonly EvalRow[]): TableRow[] {
  return [...rows]
    .sort((a, b) => modeRank(a.mode) - modeRank(b.mode) || a.mode.localeCompare(b.mode) || a.label.localeCompare(b.label))
    .map((r) => ({ ...r, modeName: modeName(r.mode), delta: r.after - r.before }));
}

interface ModeSummary {
  mode: string;
  name: string;
  n: number;
  before: number;
  after: number;
}

/** Per prompt mode, Dice before and after averaged over labels (weighted by their validation masks). */
export function modeSummary(rows: readonly EvalRow[]): ModeSummary[] {
  const by = new Map<string, { n: number; b: number; a: number; count: number; sb: number; sa: number }>();
  for (const r of rows) {
    const m = by.get(r.mode) ?? { n: 0, b: 0, a: 0, count: 0, sb: 0, sa: 0 };
    m.n += r.n;
    m.b += r.before * r.n;
    m.a += r.after * r.n;
    m.count++;
    m.sb += r.before;
    m.sa += r.after;
    by.set(r.mode, m);
  }
  return [...by.entries()]
    .sort(([a], [b]) => modeRank(a) - modeRank(b) || a.localeCompare(b))
    .map(([mode, m]) => ({
      mode,
      name: modeName(mode),
      n: m.n,
      // Labels without counted masks still deserve a number: fall back to the plain mean.
      before: m.n > 0 ? m.b / m.n : m.sb / m.count,
      after: m.n > 0 ? m.a / m.n : m.sa / m.count,
    }));
}

export function formatDice(d: number): string {
  return Number.isFinite(d) ? d.toFixed(3) : '–';
}

export function formatDelta(d: number): string {
  if (!Number.isFinite(d)) return '–';
  const r = Math.round(d * 1000) / 1000;
  return r > 0 ? `+${r.toFixed(3)}` : r < 0 ? `−${Math.abs(r).toFixed(3)}` : '±0.000';
}

/** The first characters of a content hash, enough to tell snapshots apart. */
export function shortHash(h: string | null | undefined, n = 8): string {
  return h ? h.replace(/^sha256[:-]/, '').slice(0, n) : '–';
}

/** Whether a job found on opening a project should be shown: still running, or stopped and able to continue. */
export function showOnOpen(j: Pick<JobInfo, 'state' | 'resumable'>): boolean {
  return isActive(j.state) || j.state === 'interrupted' || (j.resumable && j.state !== 'succeeded');
}
