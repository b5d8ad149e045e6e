/**
 * Which RECIST calipers are shown (those of the segment whose measurements are open, on its
 * largest slice), and where their lines, end ticks and length labels go on the canvas through
 * cornerstone's image->canvas transform. The drawing is calipers.ts. Runtime: pure.
 */
import type { Caliper, SegmentMeasurement } from '../../../electron/contract/measurements';
import { lengthText } from '../../../electron/contract/measurement-text';

export interface ShownCalipers {
  imageId: number;
  frame: number;
  long: Caliper;
  short: Caliper;
}

let shown: ShownCalipers | null = null;
const listeners = new Set<() => void>();

/** Show the calipers of `m` on its largest slice (null: none). Returns a function that hides them if they are still these. */
export function showCalipers(m: SegmentMeasurement | null): () => void {
  const mine: ShownCalipers | null = m ? { imageId: m.largest.imageId, frame: m.largest.frame, long: m.longAxis, short: m.shortAxis } : null;
  shown = mine;
  for (const f of listeners) f();
  return () => {
    if (shown !== mine) return;
    shown = null;
    for (const f of listeners) f();
  };
}

/** The calipers shown on slice (imageId, frame), if any. */
export function calipersOn(imageId: number, frame: number): ShownCalipers | null {
  return shown && shown.imageId === imageId && shown.frame === frame ? shown : null;
}

/** Call `f` whenever the shown calipers change; returns the unsubscribe (usable as an $effect's cleanup). */
export function onCalipersChange(f: () => void): () => void {
  listeners.add(f);
  return () => void listeners.delete(f);
}

export type Affine = [number, number, number, number, number, number];
type P = { x: number; y: number };

export interface CaliperLine {
  from: P;
  to: P;
  /** The two end ticks, each a short segment across the line (canvas pixels). */
  ticks: [P, P][];
  /** Where the length is written: beyond the `to` end, along the line. */
  label: P;
  text: string;
}

/** A caliper in canvas coordinates through the image->canvas transform `t` (pure). */
export function caliperLines(c: Caliper, t: Affine, tick = 5, gap = 8): CaliperLine {
  const map = (q: [number, number]): P => ({ x: t[0] * q[0] + t[2] * q[1] + t[4], y: t[1] * q[0] + t[3] * q[1] + t[5] });
  const from = map(c.from);
  const to = map(c.to);
  const len = Math.hypot(to.x - from.x, to.y - from.y) || 1;
  const u = { x: (to.x - from.x) / len, y: (to.y - from.y) / len };
  const n = { x: -u.y * tick, y: u.x * tick };
  const across = (p: P): [P, P] => [
    { x: p.x - n.x, y: p.y - n.y },
    { x: p.x + n.x, y: p.y + n.y },
  ];
  return { from, to, ticks: [across(from), across(to)], label: { x: to.x + u.x * gap, y: to.y + u.y * gap }, text: lengthText(c.value, c.unit) };
}
