/**
 * The words the segment list uses: which slices a segment spans and how it was made.
 *
 * Runtime: pure.
 */
import type { SegmentOrigin } from '../../../electron/contract/segments';

export const ORIGIN_TEXT: Record<SegmentOrigin, string> = {
  manual: 'Manual',
  sam: 'SAM',
  propagated: 'Propagated',
  interpolated: 'Interpolated',
  automatic: 'Automatic',
  imported: 'Imported',
  mixed: 'Mixed',
};

/**
 * Slice numbers (1-based, any order, repeats allowed) as runs: "slice 3", "slices 2–4",
 * "slices 2–4, 7"; "no slices" for none. Long lists keep their first runs and say how many more.
 */
export function spanText(numbers: readonly number[], maxRuns = 3): string {
  const sorted = [...new Set(numbers)].sort((a, b) => a - b);
  if (sorted.length === 0) return 'no slices';
  if (sorted.length === 1) return `slice ${sorted[0]}`;
  const runs: [number, number][] = [];
  for (const n of sorted) {
    const last = runs[runs.length - 1];
    if (last && n === last[1] + 1) last[1] = n;
    else runs.push([n, n]);
  }
  const shown = runs.slice(0, maxRuns).map(([a, b]) => (a === b ? `${a}` : `${a}–${b}`));
  const more = runs.length - shown.length;
  return `slices ${shown.join(', ')}${more > 0 ? ` +${more} more` : ''}`;
}
