/**
 * Which segment an edit goes into, and which instance number a new segment gets. The bug
 * this answers: a SAM mask accepted while a painted lesion was selected used to merge into
 * it. Now an accepted mask makes a NEW segment unless the user chose "add to" the selected
 * one, and a locked segment takes no edit at all.
 *
 * Runtime: pure.
 */
import type { LayerKey } from '../lib/masks';

/** The smallest instance number (from 1) that nothing uses: the series' segments, unsaved layers, deleted ones an undo may bring back. */
export function nextFreeInstance(used: Iterable<number>): number {
  const taken = new Set(used);
  let n = 1;
  while (taken.has(n)) n++;
  return n;
}

export type AcceptTarget = { layer: LayerKey; isNew: boolean } | { refused: string };

/**
 * Where an accepted SAM mask goes. `addTo`: the user chose to add it to the selected segment;
 * `selected`: the active label and instance (null without a label); `used`: instance numbers
 * of the selected label that are taken; `lockedName`: the selected segment's name when locked.
 */
export function samAcceptTarget(opts: { addTo: boolean; selected: LayerKey | null; used: Iterable<number>; lockedName: string | null }): AcceptTarget {
  const { addTo, selected, lockedName } = opts;
  if (!selected) return { refused: 'Add a label class before accepting a SAM mask.' };
  if (!addTo) return { layer: { labelId: selected.labelId, instance: nextFreeInstance(opts.used) }, isNew: true };
  if (lockedName !== null) return { refused: `"${lockedName}" is locked: unlock it in the segment list to add to it, or accept as a new segment.` };
  return { layer: selected, isNew: false };
}

/** The sentence shown when a brush, eraser, polygon or undo would change a locked segment; null when it may. */
export function lockedEditRefusal(lockedName: string | null): string | null {
  return lockedName === null ? null : `"${lockedName}" is locked: unlock it in the segment list before changing it.`;
}
