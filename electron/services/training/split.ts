/**
 * Train/validation split by group: whole patients (else studies, else series, else folders)
 * stay on one side, so neighbouring slices of one scan never sit in both train and validation
 * and the validation Dice measures what the model does on a scan it has not seen.
 * Pinned images pull their whole group into validation. Deterministic: the same groups give
 * the same split on every machine (ordered by a hash of the group key, not by chance).
 *
 * Runtime: pure.
 */
import { createHash } from 'node:crypto';

export interface SplitItem {
  /** Unique per labelled frame (image id + frame). */
  key: string;
  patientId: string | null;
  studyUid: string | null;
  seriesUid: string | null;
  folder: string;
  /** Position in its series (slice index, then frame), for slabs of a single scan. */
  order: number;
  pinned: boolean;
}

export type GroupBy = 'patient' | 'study' | 'series' | 'folder' | 'slab';

export interface Split {
  /** key -> side */
  side: Map<string, 'train' | 'val'>;
  /** key -> the group it was kept with */
  group: Map<string, string>;
  groupBy: GroupBy;
  groups: number;
  train: number;
  val: number;
  pinned: number;
}

const LEVELS: { by: GroupBy; key: (i: SplitItem) => string | null }[] = [
  { by: 'patient', key: (i) => i.patientId || null },
  { by: 'study', key: (i) => i.studyUid || null },
  { by: 'series', key: (i) => i.seriesUid || null },
  { by: 'folder', key: (i) => i.folder }, // always there ('' = the import root)
];

/**
 * The coarsest level that some item has and that still gives two groups or more. Items
 * without a value at that level fall back to the next finer one, prefixed so they never
 * merge with a real group.
 */
function grouping(items: readonly SplitItem[]): { by: GroupBy; of: (i: SplitItem) => string } {
  for (let l = 0; l < LEVELS.length; l++) {
    if (!items.some((i) => LEVELS[l]!.key(i) !== null)) continue;
    const of = (i: SplitItem): string => {
      for (let k = l; k < LEVELS.length; k++) {
        const v = LEVELS[k]!.key(i);
        if (v !== null) return `${LEVELS[k]!.by}:${v}`;
      }
      return `item:${i.key}`;
    };
    if (new Set(items.map(of)).size >= 2) return { by: LEVELS[l]!.by, of };
  }
  // One scan only: contiguous slabs of it (5 of them), so validation slices touch training
  // slices only at one slab boundary instead of being interleaved with them.
  const sorted = [...items].sort((a, b) => a.order - b.order);
  const slabOf = new Map(sorted.map((i, n) => [i.key, `slab:${Math.floor((n * SLABS) / sorted.length)}`]));
  return { by: 'slab', of: (i) => slabOf.get(i.key)! };
}

const SLABS = 5;

const rank = (group: string): string => createHash('sha256').update(group).digest('hex');

/**
 * Put about `valFraction` of the items into validation, whole groups at a time, with at least
 * one group on each side when there are two groups or more.
 */
export function splitByGroup(items: readonly SplitItem[], valFraction = 0.2): Split {
  const { by, of } = grouping(items);
  const members = new Map<string, SplitItem[]>();
  for (const i of items) {
    const g = of(i);
    let list = members.get(g);
    if (!list) members.set(g, (list = []));
    list.push(i);
  }
  const groups = [...members.keys()].sort((a, b) => rank(a).localeCompare(rank(b)));
  const val = new Set(groups.filter((g) => members.get(g)!.some((i) => i.pinned)));
  const target = Math.max(1, Math.round(items.length * valFraction));
  let inVal = [...val].reduce((n, g) => n + members.get(g)!.length, 0);
  for (const g of groups) {
    if (inVal >= target || val.size >= groups.length - 1) break;
    if (val.has(g)) continue;
    val.add(g);
    inVal += members.get(g)!.length;
  }
  const side = new Map<string, 'train' | 'val'>();
  const group = new Map<string, string>();
  for (const [g, list] of members) {
    for (const i of list) {
      side.set(i.key, val.has(g) ? 'val' : 'train');
      group.set(i.key, g);
    }
  }
  return {
    side,
    group,
    groupBy: by,
    groups: members.size,
    train: items.length - inVal,
    val: inVal,
    pinned: items.filter((i) => i.pinned).length,
  };
}
