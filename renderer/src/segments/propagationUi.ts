/**
 * Small decisions of the propagation panel: which slice "next draft" goes to, and the
 * thresholds the user last chose (kept in this browser profile). Runtime: pure, apart from
 * the storage the thresholds live in.
 */
import { PROPAGATION_DEFAULTS } from '../../../electron/contract/propagation';

/**
 * The stack index of the nearest draft slice after (`step` 1) or before (-1) `from`, wrapping
 * round the stack; null when there is no draft slice other than the one shown.
 */
export function draftNeighbour(stack: readonly { imageId: number; frame: number }[], from: number, drafts: readonly { imageId: number; frame: number }[], step: 1 | -1): number | null {
  const on = new Set(drafts.map((d) => `${d.imageId}:${d.frame}`));
  const n = stack.length;
  for (let k = 1; k < n; k++) {
    const i = (((from + step * k) % n) + n) % n;
    const s = stack[i]!;
    if (on.has(`${s.imageId}:${s.frame}`)) return i;
  }
  return null;
}

const KEY = 'delineate.propagationThresholds';

export interface Thresholds {
  minIoU: number;
  minAreaRatio: number;
}

/** A threshold as stored, if it is one (0..1). */
function valid(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1;
}

export function loadThresholds(storage: Pick<Storage, 'getItem'> | null = globalThis.localStorage ?? null): Thresholds {
  try {
    const raw = JSON.parse(storage?.getItem(KEY) ?? 'null') as Partial<Thresholds> | null;
    return { minIoU: valid(raw?.minIoU) ? raw.minIoU : PROPAGATION_DEFAULTS.minIoU, minAreaRatio: valid(raw?.minAreaRatio) ? raw.minAreaRatio : PROPAGATION_DEFAULTS.minAreaRatio };
  } catch {
    return { ...PROPAGATION_DEFAULTS };
  }
}

export function saveThresholds(t: Thresholds, storage: Pick<Storage, 'setItem'> | null = globalThis.localStorage ?? null): void {
  try {
    storage?.setItem(KEY, JSON.stringify(t));
  } catch {
    /* storage unavailable: the defaults next time */
  }
}
