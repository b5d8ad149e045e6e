/**
 * The gate between a freshly trained model and the user's clicks: the new model becomes
 * active only if it beats the model in use on the same validation images with the same
 * simulated prompts, and its ONNX export (fp32 and int8) matches PyTorch. Runtime: pure.
 * The rule and its numbers are stored with the model and shown; a worse model is never
 * activated silently.
 */
import type { EvalRow, GateDecision } from '../../contract/training.js';
import type { EvaluateResult } from '../runtime/runtime-methods.js';

/** Mean validation Dice of box and one-click prompts must rise at least this much. */
export const MIN_GAIN = 0.01;
/** ONNX fp32 vs PyTorch, end to end: largest mask-logit difference allowed. */
export const MAX_FP32_LOGIT_DIFF = 0.05;
/** int8 vs fp32: mean IoU of the masks each would show. */
export const MIN_INT8_MASK_IOU = 0.85;

export const GATE_RULE =
  `The new model replaces the current one only if its mean validation Dice (box and one-click prompts) ` +
  `is higher by at least ${MIN_GAIN}, its ONNX export matches PyTorch (mask logits within ${MAX_FP32_LOGIT_DIFF}), ` +
  `and its int8 version agrees with fp32 (mean mask IoU at least ${MIN_INT8_MASK_IOU}).`;

const SCORE_MODES = ['box', 'click1'];

function score(m: EvaluateResult['after']['metrics'] | undefined): number {
  if (!m) return 0;
  const vals = SCORE_MODES.filter((k) => m[k]).map((k) => m[k]!.dice_mean);
  return vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : 0;
}

/** Rows of the before/after table: one per (mode, label), plus each mode's class mean. */
export function evalRows(r: EvaluateResult): EvalRow[] {
  const rows: EvalRow[] = [];
  for (const [mode, after] of Object.entries(r.after.metrics)) {
    const before = r.before?.metrics[mode];
    for (const [label, a] of Object.entries(after.per_class)) {
      rows.push({ mode, label, n: a.n, before: before?.per_class[label]?.dice ?? 0, after: a.dice });
    }
  }
  return rows;
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export function parityProblems(parity: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const fp32 = (parity.fp32_vs_pytorch ?? {}) as Record<string, unknown>;
  const e2e = num(fp32.end_to_end_max_abs_logit_diff);
  if (e2e === null) problems.push('the export recorded no fp32 parity figure');
  else if (e2e > MAX_FP32_LOGIT_DIFF) problems.push(`ONNX fp32 differs from PyTorch by ${e2e.toFixed(3)} in mask logits (allowed ${MAX_FP32_LOGIT_DIFF})`);
  const int8 = parity.int8_vs_fp32 as Record<string, unknown> | undefined;
  if (int8) {
    const iou = num(int8.best_mask_iou_mean) ?? num(int8.mask_iou_mean);
    if (iou === null) problems.push('the export recorded no int8 parity figure');
    else if (iou < MIN_INT8_MASK_IOU) problems.push(`int8 masks agree with fp32 at IoU ${iou.toFixed(2)} (needed ${MIN_INT8_MASK_IOU})`);
  }
  return problems;
}

export function decide(r: EvaluateResult, parity: Record<string, unknown>): GateDecision {
  const before = score(r.before?.metrics);
  const after = score(r.after.metrics);
  const problems = parityProblems(parity);
  const gain = after - before;
  const better = gain >= MIN_GAIN;
  const passed = better && problems.length === 0;
  const f = (x: number) => x.toFixed(3);
  const reason = passed
    ? `The new model is active: validation Dice ${f(before)} -> ${f(after)} (+${f(gain)}) on ${r.images} held-out image(s).`
    : !better
      ? `Kept the current model: the new one scored ${f(after)} against ${f(before)} on ${r.images} held-out image(s) ` +
        `(needed at least +${MIN_GAIN}). More or more varied labels usually help; the new model stays in the list if you want to try it.`
      : `Kept the current model: the new one is better (${f(before)} -> ${f(after)}) but its export failed the parity check: ${problems.join('; ')}.`;
  return { rule: GATE_RULE, minGain: MIN_GAIN, before, after, parityOk: problems.length === 0, parity, passed, reason };
}
