/**
 * The toolbar's one line about the last export job (SEG, RTSTRUCT, COCO, SR): what it wrote, where
 * it is, or that it failed. Runtime: pure.
 */
import type { JobInfo } from '../../../electron/contract/training';

export type ExportKind = 'seg' | 'rtstruct' | 'coco' | 'sr';

const NAMES: Record<ExportKind, { what: string; frames: string; parts: string }> = {
  seg: { what: 'SEG', frames: 'frame', parts: 'segment' },
  rtstruct: { what: 'RTSTRUCT', frames: 'frame', parts: 'ROI' },
  coco: { what: 'COCO', frames: 'image', parts: 'annotation' },
  sr: { what: 'SR', frames: 'slice', parts: 'segment' },
};

const count = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** `started`: the kind the app started (a job row recorded before RTSTRUCT has no kind in it). */
export function exportStateText(job: Pick<JobInfo, 'state' | 'detail' | 'exported'>, started: ExportKind): string {
  const e = job.exported;
  const n = NAMES[e?.kind ?? started];
  if (job.state === 'succeeded' && e) return `${n.what} v${e.version}${e.reused ? ' (unchanged)' : ''}: ${count(e.frames, n.frames)}, ${count(e.segments, n.parts)}`;
  if (job.state === 'failed') return `${NAMES[started].what} not written`;
  return job.detail;
}
