/**
 * What the model manager says about where a trained model came from: the model it started
 * from, the dataset snapshot, who trained it and when, the gate's verdict and the settings.
 *
 * Runtime: pure; unit-tested in tests/renderer/training-format.test.ts.
 */
import type { ModelInfo } from '../../../electron/contract/api';
import { formatDice, formatLr, presetName, shortHash } from './format';

interface LineageView {
  base: string;
  dataset: string;
  trainedBy: string;
  date: string;
  /** "Dice 0.712 → 0.801", or null when the gate recorded no numbers. */
  gate: string | null;
  /** True: passed the gate (made active); false: kept the previous model; null: unknown. */
  passed: boolean | null;
  /** "Decoder only · 40 epochs · lr 1e-3", or '' when nothing was recorded. */
  settings: string;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' && v ? v : null);

export function lineageView(m: ModelInfo, names: Readonly<Record<string, string>>): LineageView | null {
  const l = m.lineage;
  if (!l) return null;
  const parent = l.parentModelId;
  const base = parent ? (names[parent] ?? parent) : (m.baseModel ?? '–');
  const g = l.gate ?? {};
  const before = num(g.before);
  const after = num(g.after);
  const passed = typeof g.passed === 'boolean' ? g.passed : null;
  const c = l.config;
  const mode = str(c.mode) ?? str(c.preset) ?? str(c.freeze);
  const epochs = num(c.epochs);
  const lr = num(c.lr);
  const settings = [mode ? presetName(mode) : null, epochs !== null ? `${epochs} epochs` : null, lr !== null ? `lr ${formatLr(lr)}` : null].filter(Boolean).join(' · ');
  return {
    base,
    dataset: shortHash(l.datasetHash),
    trainedBy: l.trainedBy ?? str(c.trained_by) ?? '–',
    date: m.created.slice(0, 10),
    gate: before !== null && after !== null ? `Dice ${formatDice(before)} → ${formatDice(after)}` : null,
    passed,
    settings,
  };
}
