/**
 * Carrying a mask through a series: from the accepted mask on one slice, slice by slice up
 * and/or down the stack, each slice prompted from its neighbour's result (box and points from
 * its mask, its low-res logits as SAM's mask input), until SAM's score or the area change
 * says the lesion has ended. The store, SAM and the job are reached through `PropagationIo`,
 * so the loop itself holds only the decisions. Runtime: node (no I/O of its own).
 */
import type { PropagationEnd, PropagationOutcome } from '../../contract/propagation.js';
import { judgeSlice, keepConnectedTo, maskArea, promptFromMask, type Box, type PositivePoint } from './propagation-step.js';
import type { SliceMask } from './drafts.repository.js';
import type { StackSlice } from './series-stack.js';

export interface SlicePrediction {
  mask: Uint8Array;
  iou: number;
  lowRes: Float32Array;
}

export interface PropagationIo {
  /** The segment's mask on a slice (accepted or draft), or null. */
  read(slice: StackSlice): SliceMask | null;
  predict(slice: StackSlice, prompt: { points: PositivePoint[]; box: Box; maskInput: Float32Array | null }, signal: AbortSignal): Promise<SlicePrediction>;
  /** Store a draft; false when an accepted mask is there (it is kept). */
  writeDraft(slice: StackSlice, mask: Uint8Array, meta: { iou: number; area: number; prompt: { points: PositivePoint[]; box: Box }; from: StackSlice }): boolean;
  /** After every slice: `done` of at most `total`, and a sentence. */
  progress(done: number, total: number, detail: string): void;
}

export interface PropagationPlan {
  slices: readonly StackSlice[];
  /** Index in `slices` of the slice with the accepted mask. */
  start: number;
  seed: Uint8Array;
  width: number;
  height: number;
  minIoU: number;
  minAreaRatio: number;
  direction: 'both' | 'up' | 'down';
  /** Feed the neighbour's low-res logits to SAM's mask input (on by default). */
  maskInput?: boolean;
}

/** Run it; resolves with what was drafted and why each direction ended (also when cancelled: reason 'cancelled'). */
export async function runPropagation(plan: PropagationPlan, io: PropagationIo, signal: AbortSignal): Promise<PropagationOutcome> {
  const { slices, start } = plan;
  const dirs: ('up' | 'down')[] = plan.direction === 'both' ? ['up', 'down'] : [plan.direction];
  const remaining = (d: 'up' | 'down', from: number) => (d === 'up' ? from : slices.length - 1 - from);
  let total = dirs.reduce((n, d) => n + remaining(d, start), 0);
  let done = 0;
  let drafted = 0;
  let keptAccepted = 0;
  let samSlices = 0;
  let samMs = 0;
  const ends: PropagationEnd[] = [];
  for (const d of ['up', 'down'] as const) if (!dirs.includes(d)) ends.push({ direction: d, reason: 'skipped', at: null, value: null });
  io.progress(0, total, 'Starting');
  for (const dir of dirs) {
    const step = dir === 'up' ? -1 : 1;
    let prev = { mask: plan.seed, area: maskArea(plan.seed), lowRes: null as Float32Array | null, slice: slices[start]! };
    let end: PropagationEnd | null = null;
    for (let i = start + step; i >= 0 && i < slices.length; i += step) {
      if (signal.aborted) {
        end = { direction: dir, reason: 'cancelled', at: null, value: null };
        break;
      }
      const slice = slices[i]!;
      const here = io.read(slice);
      if (here && !here.draft && here.area > 0) {
        // Someone accepted a mask here: keep it, and carry on from it (it is the better guide).
        prev = { mask: here.mask, area: here.area, lowRes: null, slice };
        keptAccepted++;
        io.progress(++done, total, `Slice ${i + 1} already has an accepted mask; kept`);
        continue;
      }
      const prompt = promptFromMask(prev.mask, plan.width, plan.height);
      if (!prompt) break; // cannot happen: prev is never empty
      const t0 = performance.now();
      let r: SlicePrediction;
      try {
        r = await io.predict(slice, { ...prompt, maskInput: plan.maskInput === false ? null : prev.lowRes }, signal);
      } catch (e) {
        if (signal.aborted) {
          end = { direction: dir, reason: 'cancelled', at: null, value: null };
          break;
        }
        throw e;
      }
      samMs += performance.now() - t0;
      samSlices++;
      // Only what continues the neighbour's mask; the logits of a mask that had other pieces
      // would carry them on to the next slice, so that one is prompted without them.
      const mask = keepConnectedTo(r.mask, prev.mask, plan.width, plan.height);
      const area = maskArea(mask);
      const lowRes = area === maskArea(r.mask) ? r.lowRes : null;
      const verdict = judgeSlice({ iou: r.iou, area }, prev.area, plan);
      if (!verdict.keep) {
        end = { direction: dir, reason: verdict.reason, at: { ...slice, index: i }, value: verdict.value };
        break;
      }
      if (io.writeDraft(slice, mask, { iou: r.iou, area, prompt, from: prev.slice })) {
        drafted++;
        prev = { mask, area, lowRes, slice };
      } else {
        // Accepted meanwhile (a save while this ran): carry on from the person's mask.
        const kept = io.read(slice);
        keptAccepted++;
        prev = kept && kept.area > 0 ? { mask: kept.mask, area: kept.area, lowRes: null, slice } : { mask, area, lowRes, slice };
      }
      io.progress(++done, total, `Slice ${i + 1} of ${slices.length}: SAM IoU ${r.iou.toFixed(2)}, ${area} px`);
    }
    end ??= { direction: dir, reason: 'end', at: null, value: null };
    ends.push(end);
    // A direction that ended early shortens the bar.
    if (end.at) total -= remaining(dir, end.at.index) + 1;
    if (end.reason === 'cancelled') break;
  }
  for (const d of dirs) if (!ends.some((e) => e.direction === d)) ends.push({ direction: d, reason: 'cancelled', at: null, value: null });
  return { drafted, keptAccepted, ends: ends.sort((a, b) => (a.direction < b.direction ? 1 : -1)), samSlices, msPerSlice: samSlices ? samMs / samSlices : null };
}

/** The sentence that closes a propagation job. */
export function propagationSummary(o: PropagationOutcome): string {
  const why = (e: PropagationEnd): string => {
    const where = e.at ? ` before slice ${e.at.index + 1}` : '';
    switch (e.reason) {
      case 'end':
        return 'reached the end of the series';
      case 'iou':
        return `stopped${where} (SAM IoU ${e.value?.toFixed(2)} there)`;
      case 'area':
        return `stopped${where} (its area ${e.value === null ? '' : `${Math.round(e.value * 100)}%`} of the slice before)`;
      case 'empty':
        return `stopped${where} (nothing there continues the lesion)`;
      case 'cancelled':
        return 'cancelled';
      case 'skipped':
        return 'not asked for';
    }
  };
  const ways = o.ends.filter((e) => e.reason !== 'skipped').map((e) => `${e.direction === 'up' ? 'Up' : 'Down'}: ${why(e)}`);
  const kept = o.keptAccepted ? `; ${o.keptAccepted} slice${o.keptAccepted === 1 ? '' : 's'} with accepted masks kept` : '';
  return `${o.drafted} draft slice${o.drafted === 1 ? '' : 's'} to review${kept}. ${ways.join('. ')}.`;
}
