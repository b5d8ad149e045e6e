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
  | { type: 'patient' | 'study' | 'folder'; key: string; depth: number; label: string; detail: string }
  | {
      type: 'series' | 'image';
      key: string;
      depth: number;
      label: string;
      detail: string;
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

function leafRow(type: 'series' | 'image', key: string, depth: number, label: string, detail: string, images: ImageSummary[]): BrowserRow {
  const stack = stackOf(images);
  return {
    type,
    key,
    depth,
    label,
    detail,
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
    rows.push({ type: 'patient', key: `p:${pid}`, depth: 0, label: pname, detail: pid });
    const studies = groupBy(pImages, (i) => i.studyUid ?? '(no study)');
    for (const [suid, sImages] of [...studies].sort((a, b) => byText(a[1][0]!.studyDescription ?? a[0], b[1][0]!.studyDescription ?? b[0]))) {
      rows.push({ type: 'study', key: `st:${suid}`, depth: 1, label: sImages[0]!.studyDescription || 'Study', detail: suid });
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
    rows.push({ type: 'folder', key: `f:${folder}`, depth: 0, label: folder, detail: countLabel(fImages.length, 'image', 'images') });
    fImages.sort((a, b) => byText(a.fileName, b.fileName));
    for (const im of fImages) {
      const detail = `${im.width}×${im.height}${im.frames > 1 ? ` · ${im.frames} frames` : ''}`;
      rows.push(leafRow('image', `i:${im.id}`, 1, im.fileName, detail, [im]));
    }
  }
  return rows;
}
