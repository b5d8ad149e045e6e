/**
 * Image browser grouping: DICOM by patient / study / series (one row per series, with its
 * slice count), everything else by folder. Produces flat rows with a depth so the list can
 * be rendered densely and virtualised later without a tree component.
 *
 * Runtime: pure.
 */
import type { ImageStatus, ImageSummary } from '../../../electron/contract/api';

export interface StackItem {
  imageId: number;
  frame: number;
}

export type BrowserRow =
  | {
      type: 'patient' | 'study' | 'folder';
      key: string;
      depth: number;
      label: string;
      /** Shown after the label: the patient ID, the study's date and accession number, a folder's image count. */
      detail: string;
      /** Shown on hover (a study's UID). */
      title: string;
    }
  | {
      type: 'series' | 'image';
      key: string;
      depth: number;
      label: string;
      detail: string;
      /** What the list filter searches, lower case: patient name and ID, accession, study date and description, series, file. */
      search: string;
      /** Study Date (YYYYMMDD) of a DICOM row; null otherwise. */
      studyDate: string | null;
      status: ImageStatus;
      /** Images in display order (by seriesIndex). */
      imageIds: number[];
      /** Every slice/frame to scroll through, in order. */
      stack: StackItem[];
      /** The image whose thumbnail represents the row (the middle slice). */
      thumbImageId: number;
      modality: string | null;
    };

/** Aggregate status of several images: all done -> done, none started -> unlabelled, else in progress. */
export function aggregateStatus(statuses: readonly ImageStatus[]): ImageStatus {
  if (statuses.length === 0) return 'unlabelled';
  if (statuses.every((s) => s === 'done')) return 'done';
  if (statuses.every((s) => s === 'unlabelled')) return 'unlabelled';
  return 'in_progress';
}

/** Every (image, frame) of the given images, in order. */
export function stackOf(images: readonly ImageSummary[]): StackItem[] {
  const out: StackItem[] = [];
  for (const im of images) for (let f = 0; f < im.frames; f++) out.push({ imageId: im.id, frame: f });
  return out;
}

function byText(a: string, b: string): number {
  return a.localeCompare(b, undefined, { numeric: true, sensitivity: 'base' });
}

/** YYYYMMDD as YYYY-MM-DD; anything else as it is. */
export function formatDicomDate(d: string | null): string {
  if (!d) return '';
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(d.trim());
  return m ? `${m[1]}-${m[2]}-${m[3]}` : d.trim();
}

/** The text a row is found by: every field the filter promises, the date in both spellings. */
function searchText(im: ImageSummary, label: string): string {
  return [
    label, im.patientName, im.patientName?.replace(/\^/g, ' '), im.patientId, im.accessionNumber, im.studyDate, formatDicomDate(im.studyDate),
    im.studyDescription, im.seriesDescription, im.modality, im.kind === 'raster' ? im.fileName : null, im.kind === 'raster' ? im.folder : null,
  ]
    .filter((t): t is string => !!t)
    .join('\n')
    .toLowerCase();
}

function leafRow(type: 'series' | 'image', key: string, depth: number, label: string, detail: string, images: ImageSummary[]): BrowserRow {
  const stack = stackOf(images);
  return {
    type,
    key,
    depth,
    label,
    detail,
    search: searchText(images[0]!, label),
    studyDate: images[0]!.studyDate?.trim() || null,
    status: aggregateStatus(images.map((i) => i.status)),
    imageIds: images.map((i) => i.id),
    stack,
    thumbImageId: images[Math.floor(images.length / 2)]!.id,
    modality: images[0]!.modality,
  };
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    const list = m.get(k);
    if (list) list.push(it);
    else m.set(k, [it]);
  }
  return m;
}

function countLabel(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function groupImages(images: readonly ImageSummary[]): BrowserRow[] {
  const rows: BrowserRow[] = [];
  const dicom = images.filter((i) => i.kind === 'dicom' && i.seriesUid);
  const other = images.filter((i) => !(i.kind === 'dicom' && i.seriesUid));

  const patients = groupBy(dicom, (i) => i.patientId ?? i.patientName ?? '(no patient id)');
  for (const [pid, pImages] of [...patients].sort((a, b) => byText(a[1][0]!.patientName ?? a[0], b[1][0]!.patientName ?? b[0]))) {
    const pname = pImages[0]!.patientName?.replace(/\^/g, ' ').trim() || '(no name)';
    rows.push({ type: 'patient', key: `p:${pid}`, depth: 0, label: pname, detail: pid, title: pid });
    const studies = groupBy(pImages, (i) => i.studyUid ?? '(no study)');
    for (const [suid, sImages] of [...studies].sort((a, b) => byText(a[1][0]!.studyDescription ?? a[0], b[1][0]!.studyDescription ?? b[0]))) {
      const first = sImages[0]!;
      const detail = [formatDicomDate(first.studyDate), first.accessionNumber ?? ''].filter(Boolean).join(' · ');
      rows.push({ type: 'study', key: `st:${suid}`, depth: 1, label: first.studyDescription || 'Study', detail, title: suid });
      const series = groupBy(sImages, (i) => i.seriesUid!);
      const ordered = [...series].sort((a, b) => (a[1][0]!.seriesNumber ?? 1e9) - (b[1][0]!.seriesNumber ?? 1e9) || byText(a[0], b[0]));
      for (const [seuid, seImages] of ordered) {
        seImages.sort((a, b) => a.seriesIndex - b.seriesIndex || a.id - b.id);
        const first = seImages[0]!;
        const frames = seImages.reduce((n, i) => n + i.frames, 0);
        const what = seImages.length === 1 && first.frames > 1 ? countLabel(frames, 'frame', 'frames') : countLabel(frames, 'slice', 'slices');
        const label = first.seriesDescription || (first.seriesNumber !== null ? `Series ${first.seriesNumber}` : 'Series');
        rows.push(leafRow('series', `se:${seuid}`, 2, label, `${first.modality ?? ''} · ${what}`.replace(/^ · /, ''), seImages));
      }
    }
  }

  const folders = groupBy(other, (i) => i.folder || '.');
  for (const [folder, fImages] of [...folders].sort((a, b) => byText(a[0], b[0]))) {
    rows.push({ type: 'folder', key: `f:${folder}`, depth: 0, label: folder, detail: countLabel(fImages.length, 'image', 'images'), title: folder });
    fImages.sort((a, b) => byText(a.fileName, b.fileName));
    for (const im of fImages) {
      const detail = `${im.width}×${im.height}${im.frames > 1 ? ` · ${im.frames} frames` : ''}`;
      rows.push(leafRow('image', `i:${im.id}`, 1, im.fileName, detail, [im]));
    }
  }
  return rows;
}

/** What the image list is narrowed to: words to find (all of them) and a study date range (YYYY-MM-DD, either end open). */
export interface ListFilter {
  text: string;
  from: string;
  to: string;
}

export const NO_FILTER: ListFilter = { text: '', from: '', to: '' };

export function filterActive(f: ListFilter): boolean {
  return f.text.trim() !== '' || f.from !== '' || f.to !== '';
}

/** A YYYY-MM-DD or YYYYMMDD date as YYYYMMDD, for comparing; null when it is not one. */
function dateKey(d: string): string | null {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(d.trim());
  return m ? `${m[1]}${m[2]}${m[3]}` : null;
}

/**
 * The rows that match `f`: series and images whose text holds every word of `f.text` (patient
 * name or ID, accession number, study date or description, series description, modality; file
 * and folder names of non-DICOM images) and whose study date lies in [from, to] (a date range
 * leaves out rows without a study date), each under its patient and study or folder row.
 */
export function filterRows(rows: readonly BrowserRow[], f: ListFilter): BrowserRow[] {
  if (!filterActive(f)) return rows as BrowserRow[];
  const words = f.text.toLowerCase().split(/\s+/).filter(Boolean);
  const from = f.from ? dateKey(f.from) : null;
  const to = f.to ? dateKey(f.to) : null;
  const out: BrowserRow[] = [];
  // Group rows seen but not yet shown, by depth: shown once a row beneath them matches.
  const pending: (BrowserRow | null)[] = [];
  for (const r of rows) {
    if (r.type !== 'series' && r.type !== 'image') {
      pending.length = r.depth;
      pending[r.depth] = r;
      continue;
    }
    if (!words.every((w) => r.search.includes(w))) continue;
    if (from || to) {
      const d = r.studyDate ? dateKey(r.studyDate) : null;
      if (!d || (from && d < from) || (to && d > to)) continue;
    }
    for (let i = 0; i < r.depth; i++) {
      const g = pending[i];
      if (g) {
        out.push(g);
        pending[i] = null;
      }
    }
    out.push(r);
  }
  return out;
}

/** The series or image `delta` leaf rows away from the one with `key` in `rows` (clamped to the ends); null when there is none. */
export function neighbourLeaf<R extends BrowserRow>(rows: readonly R[], key: string | null, delta: number): Extract<R, { type: 'series' | 'image' }> | null {
  const leaves = rows.filter((r): r is Extract<R, { type: 'series' | 'image' }> => r.type === 'series' || r.type === 'image');
  if (leaves.length === 0) return null;
  const i = key === null ? -1 : leaves.findIndex((r) => r.key === key);
  if (i < 0) return leaves[delta >= 0 ? 0 : leaves.length - 1]!;
  return leaves[Math.min(leaves.length - 1, Math.max(0, i + delta))]!;
}
