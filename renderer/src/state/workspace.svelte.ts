/**
 * The renderer's state: project, image list, labels, tool settings, the open stack, the
 * masks of the slices seen so far and the autosave queue. Components read it and call its
 * methods; only this module talks to the API (besides the image loader), so errors are
 * surfaced in one place.
 *
 * Runtime: browser (Svelte runes).
 */
import { api, ApiError, transportKind } from '../transport';
import type { ImageStatus, ImageSummary, ImportReport, LabelClass, MaskPrompts, ProjectInfo } from '../../../electron/contract/api';
import { jobIsLive, type JobInfo } from '../../../electron/contract/training';
import { decodeListing } from '../../../electron/contract/image-listing';
import { decodeRle, encodeRle } from '../../../electron/contract/rle';
import { filterRows, groupImages, NO_FILTER, type BrowserRow, type ListFilter, type StackItem } from '../lib/grouping';
import { SliceMasks, layerKey, parseLayerKey, type Edit, type EditSource, type LayerKey } from '../lib/masks';
import { SaveQueue, type SaveState } from '../lib/saveQueue';
import { batchBySize } from '../lib/batches';
import { watchJob } from '../lib/watchJob';
import type { ExportKind } from '../lib/exportState';
import { rememberProject } from './recent';
import { defaultInstanceColor, type Segment, type SegmentList } from '../../../electron/contract/segments';
import { lockedEditRefusal, nextFreeInstance, samAcceptTarget, type AcceptTarget } from '../segments/segmentTarget';
import type { LayerStyle } from '../segments/segmentLayers';

export type Tool = 'brush' | 'eraser' | 'polygon' | 'sam' | 'wl' | 'zoom' | 'pan';
export interface ShownWindow {
  imageId: number;
  frame: number;
  window: { center: number; width: number } | null;
}
export type LeafRow = Extract<BrowserRow, { type: 'series' | 'image' }>;

export const TOOLS: { id: Tool; name: string; key: string }[] = [
  { id: 'brush', name: 'Brush', key: 'B' },
  { id: 'eraser', name: 'Eraser', key: 'E' },
  { id: 'polygon', name: 'Polygon', key: 'P' },
  { id: 'sam', name: 'SAM', key: 'S' },
  { id: 'wl', name: 'W/L', key: 'W' },
  { id: 'zoom', name: 'Zoom', key: 'Z' },
  { id: 'pan', name: 'Pan', key: 'H' },
];

/** The text shown for an error; API errors about a file or record name it. */
function message(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const file = (e as { file?: unknown } | null)?.file;
  return typeof file === 'string' && file && !text.includes(file) ? `${text}: ${file}` : text;
}

function sliceKey(imageId: number, frame: number): string {
  return `${imageId}:${frame}`;
}

const LAST_OPEN_KEY = 'delineate.lastOpen';
/** Well under the host's request limit (MAX_REQUEST_BYTES), so one batch never holds much memory twice. */
const IMPORT_BATCH_BYTES = 64 * 1024 * 1024;
const IMPORT_BATCH_FILES = 1000;
/** Segment deletions Ctrl+Z can still bring back. */
const DELETED_KEPT = 50;

export class Workspace {
  readonly transport = transportKind;
  project = $state.raw<ProjectInfo | null>(null);
  /** Counts project opens and closes: the viewer's slice cache belongs to one of them (image ids are per project). */
  projectEpoch = $state(0);
  images = $state.raw<ImageSummary[]>([]);
  rows = $derived(groupImages(this.images));
  /** The image list's search words and study date range; `visibleRows` is what they leave (the list, and the keys that move through it). */
  listFilter = $state<ListFilter>({ ...NO_FILTER });
  visibleRows = $derived(filterRows(this.rows, this.listFilter));
  labels = $state.raw<LabelClass[]>([]);
  activeLabelId = $state<number | null>(null);
  activeInstance = $state(1);
  tool = $state<Tool>('brush');
  /** Brush diameter in image pixels. */
  brushSize = $state(12);
  /** Pixel Spacing [row, column] (mm) of the image on screen, set by the viewport; null when unknown (sizes shown in px). */
  pixelSpacing = $state.raw<[number, number] | null>(null);
  opacity = $state(0.5);
  outlineView = $state(false);
  helpOpen = $state(false);
  importOpen = $state(false);
  /** The "Retrain on my data" dialog (button, Shift+R, menu). */
  retrainOpen = $state(false);
  importing = $state(false);
  importReport = $state.raw<ImportReport | null>(null);
  errors = $state<{ id: number; text: string }[]>([]);
  saveState = $state.raw<SaveState>({ kind: 'idle' });
  busy = $state(false);

  openRow = $state.raw<LeafRow | null>(null);
  sliceIndex = $state(0);
  /** Bumped whenever a mask of the visible slice changes, so the overlay redraws. */
  maskVersion = $state(0);
  /** The slice currently shown, with its masks loaded (null while loading). */
  slice = $state.raw<SliceMasks | null>(null);
  /**
   * The window the viewer shows the visible slice through (modality units), set by the
   * viewport; null for colour images, which are shown as stored. Saved with every mask, so a
   * snapshot and SAM see the image as the person who drew on it did.
   */
  shownWindow: ShownWindow | null = null;
  /** Instance numbers created in this session per label (so an empty new instance is selectable). */
  private extraInstances = new Map<number, Set<number>>();

  private readonly slices = new Map<string, SliceMasks>();
  private readonly loadedImages = new Map<number, Promise<void>>();
  private errorSeq = 0;
  readonly saver = new SaveQueue((s) => (this.saveState = s));

  get activeLabel(): LabelClass | null {
    return this.labels.find((l) => l.id === this.activeLabelId) ?? null;
  }

  get stack(): StackItem[] {
    return this.openRow?.stack ?? [];
  }

  get currentItem(): StackItem | null {
    return this.stack[this.sliceIndex] ?? null;
  }

  get currentImage(): ImageSummary | null {
    const it = this.currentItem;
    return it ? (this.images.find((i) => i.id === it.imageId) ?? null) : null;
  }

  report(e: unknown): void {
    const text = message(e);
    console.error('[delineate]', text);
    this.errors = [...this.errors.slice(-4), { id: ++this.errorSeq, text }];
  }

  dismissError(id: number): void {
    this.errors = this.errors.filter((e) => e.id !== id);
  }

  // ------------------------------------------------------------ project

  async init(): Promise<void> {
    try {
      const p = await api.call('project.current', {});
      if (p) await this.afterOpen(p, true);
    } catch (e) {
      this.report(e);
    }
  }

  async createProject(path: string, name?: string): Promise<void> {
    await this.withBusy(async () => this.afterOpen(await api.call('project.create', name ? { path, name } : { path }), false));
  }

  async openProject(path: string): Promise<void> {
    await this.withBusy(async () => this.afterOpen(await api.call('project.open', { path }), false));
  }

  /** The sample project (made on first use in the home folder, reopened after that). */
  async openSample(): Promise<void> {
    await this.withBusy(async () => this.afterOpen(await api.call('project.openSample', {}), false));
  }

  async closeProject(): Promise<void> {
    await this.saver.flush();
    await this.withBusy(async () => {
      await api.call('project.close', {});
      this.resetProjectState();
      this.project = null;
    });
  }

  private resetProjectState(): void {
    this.projectEpoch++;
    this.openRow = null;
    this.slice = null;
    this.shownWindow = null;
    this.retrainOpen = false;
    this.slices.clear();
    this.loadedImages.clear();
    this.extraInstances.clear();
    this.segmentList = null;
    this.deleted.length = 0;
    this.lastDeleted = null;
    this.images = [];
    this.labels = [];
    this.importReport = null;
  }

  private async afterOpen(p: ProjectInfo, restore: boolean): Promise<void> {
    this.resetProjectState();
    this.project = p;
    rememberProject({ path: p.path, name: p.name });
    for (const w of p.warnings) this.errors = [...this.errors.slice(-4), { id: ++this.errorSeq, text: w }];
    await Promise.all([this.refreshImages(), this.refreshLabels()]);
    if (restore) this.restoreLastOpen();
  }

  async refreshImages(): Promise<void> {
    this.images = decodeListing(await api.call('images.listing', {}));
    // Keep the open row's stack in step with newly imported slices.
    if (this.openRow) {
      const key = this.openRow.key;
      const row = this.rows.find((r): r is LeafRow => r.key === key && (r.type === 'series' || r.type === 'image'));
      if (row) this.openRow = row;
    }
  }

  async refreshLabels(): Promise<void> {
    this.labels = await api.call('labels.list', {});
    if (!this.labels.some((l) => l.id === this.activeLabelId)) this.activeLabelId = this.labels[0]?.id ?? null;
    // Default segment names and colours follow the label's.
    if (this.openRow) void this.refreshSegments();
  }

  private async withBusy(f: () => Promise<void>): Promise<void> {
    this.busy = true;
    try {
      await f();
    } catch (e) {
      this.report(e);
    } finally {
      this.busy = false;
    }
  }

  // ------------------------------------------------------------ import

  /** Progress of the import job running now (files read of all), for the import panel. */
  importProgress = $state<{ jobId: string; done: number; total: number; detail: string; etaS: number | null } | null>(null);

  /**
   * Paths on this machine: an import job, polled for progress until it ends; Cancel stops it
   * after the current file (what was read is stored).
   */
  async importPaths(paths: string[]): Promise<void> {
    if (paths.length === 0) return;
    await this.runImport(async () => {
      const { jobId } = await api.call('images.importStart', { paths });
      this.importProgress = { jobId, done: 0, total: 0, detail: 'Starting', etaS: null };
      try {
        const j = await watchJob(jobId, (p) => (this.importProgress = { jobId, done: p.step ?? 0, total: p.steps ?? 0, detail: p.detail, etaS: p.etaS }));
        if (j.error && !j.importReport) throw new ApiError('io', j.error.message);
        return j.importReport ?? { imported: [], duplicates: [], failed: [], warnings: [], cancelled: 0, elapsedMs: 0 };
      } finally {
        this.importProgress = null;
      }
    });
  }

  async cancelImport(): Promise<void> {
    const p = this.importProgress;
    if (!p) return;
    try {
      await api.call('jobs.cancel', { jobId: p.jobId });
    } catch (e) {
      this.report(e);
    }
  }

  /** Sends file contents in batches the host accepts (size and count), merging the reports. */
  async importFiles(files: { name: string; file: Blob }[]): Promise<void> {
    if (files.length === 0) return;
    await this.runImport(async () => {
      const merged: ImportReport = { imported: [], duplicates: [], failed: [], warnings: [], cancelled: 0, segmentations: [], elapsedMs: 0 };
      const sized = files.map((f) => ({ ...f, size: f.file.size }));
      const send = async (batch: typeof sized): Promise<ImportReport> => {
        const payload = await Promise.all(batch.map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.file.arrayBuffer()) })));
        return api.call('images.importFiles', { files: payload });
      };
      const add = (r: ImportReport): void => {
        merged.imported.push(...r.imported);
        merged.duplicates.push(...r.duplicates);
        merged.failed.push(...r.failed);
        merged.warnings.push(...r.warnings);
        merged.segmentations!.push(...(r.segmentations ?? []));
        merged.elapsedMs += r.elapsedMs;
      };
      for (const batch of batchBySize(sized, IMPORT_BATCH_BYTES, IMPORT_BATCH_FILES)) add(await send(batch));
      // Files travel in batches, so a DICOM SEG can arrive before its series: those are sent
      // once more after everything else, when their source images are in the project.
      const early = new Set(merged.failed.filter((f) => f.code === 'seg_sources_missing').map((f) => f.file));
      if (early.size > 0 && merged.imported.length > 0) {
        merged.failed = merged.failed.filter((f) => !early.has(f.file));
        for (const batch of batchBySize(sized.filter((f) => early.has(f.name)), IMPORT_BATCH_BYTES, IMPORT_BATCH_FILES)) add(await send(batch));
      }
      return merged;
    });
  }

  private async runImport(run: () => Promise<ImportReport>): Promise<void> {
    this.importing = true;
    this.importOpen = true;
    try {
      this.importReport = await run();
      await this.refreshImages();
    } catch (e) {
      this.report(e);
    } finally {
      this.importing = false;
    }
  }

  // ------------------------------------------------------------ labels & status

  async upsertLabel(label: { id?: number; name: string; color: string; code?: string | null }): Promise<void> {
    try {
      const saved = await api.call('labels.upsert', label);
      await this.refreshLabels();
      if (label.id === undefined) this.activeLabelId = saved.id;
      this.maskVersion++;
    } catch (e) {
      this.report(e);
    }
  }

  /** Keep an image (and its patient or study) on the validation side of every retrain split. */
  async setValidationPinned(imageId: number, pinned: boolean): Promise<void> {
    try {
      await api.call('training.pinValidation', { imageId, pinned });
      this.images = this.images.map((i) => (i.id === imageId ? { ...i, validationPinned: pinned } : i));
    } catch (e) {
      this.report(e);
    }
  }

  async setStatus(imageIds: number[], status: ImageStatus): Promise<void> {
    try {
      for (const imageId of imageIds) await api.call('images.setStatus', { imageId, status });
      const ids = new Set(imageIds);
      this.images = this.images.map((i) => (ids.has(i.id) ? { ...i, status } : i));
      if (this.openRow) {
        const key = this.openRow.key;
        this.openRow = (this.rows.find((r) => r.key === key) as LeafRow | undefined) ?? this.openRow;
      }
    } catch (e) {
      this.report(e);
    }
  }

  // ------------------------------------------------------------ navigation

  async openStack(row: LeafRow, index = 0): Promise<void> {
    const changed = this.openRow?.key !== row.key;
    if (changed) await this.saver.flush();
    this.openRow = row;
    this.slice = null;
    if (changed) {
      // Instance numbers are per series: what was new or selected in the last one says nothing here.
      this.segmentList = null;
      this.lastDeleted = null;
      this.extraInstances.clear();
    }
    await this.goToSlice(Math.min(Math.max(index, 0), row.stack.length - 1));
    if (changed || !this.segmentList) await this.refreshSegments();
    if (changed && this.activeLabelId !== null && this.segmentList) {
      // Select this series' first segment of the active label (or its number 1, empty).
      const first = this.segmentList.segments.find((x) => x.labelId === this.activeLabelId);
      this.activeInstance = first?.instance ?? 1;
    }
  }

  async goToSlice(index: number): Promise<void> {
    const stack = this.stack;
    if (stack.length === 0) return;
    const i = Math.min(Math.max(index, 0), stack.length - 1);
    // Leaving a slice (another image, or another frame) saves its edits now rather than after the quiet period.
    if (i !== this.sliceIndex && this.saver.pendingCount > 0) void this.saver.flush();
    this.sliceIndex = i;
    const item = stack[i]!;
    this.rememberLastOpen();
    const s = await this.sliceMasks(item);
    if (this.currentItem === item && s) {
      this.slice = s;
      this.maskVersion++;
    }
  }

  /** Show an image (its series, at its slice) wherever it sits in the browser. */
  async showImage(imageId: number): Promise<boolean> {
    for (const r of this.rows) {
      if (r.type !== 'series' && r.type !== 'image') continue;
      const index = r.stack.findIndex((item) => item.imageId === imageId);
      if (index >= 0) {
        await this.openStack(r, index);
        return true;
      }
    }
    return false;
  }

  step(delta: number): void {
    void this.goToSlice(this.sliceIndex + delta);
  }

  private rememberLastOpen(): void {
    if (!this.project || !this.openRow) return;
    try {
      sessionStorage.setItem(LAST_OPEN_KEY, JSON.stringify({ project: this.project.path, row: this.openRow.key, index: this.sliceIndex }));
    } catch {
      /* storage unavailable: nothing to restore later */
    }
  }

  private restoreLastOpen(): void {
    try {
      const raw = sessionStorage.getItem(LAST_OPEN_KEY);
      if (!raw || !this.project) return;
      const saved = JSON.parse(raw) as { project: string; row: string; index: number };
      if (saved.project !== this.project.path) return;
      const row = this.rows.find((r): r is LeafRow => r.key === saved.row && (r.type === 'series' || r.type === 'image'));
      if (row) void this.openStack(row, saved.index);
    } catch {
      /* a stale or unreadable entry is ignored */
    }
  }

  // ------------------------------------------------------------ masks

  /** The masks of a slice, loading every frame of its image from the store on first use. */
  private async sliceMasks(item: StackItem): Promise<SliceMasks | null> {
    const image = this.images.find((i) => i.id === item.imageId);
    if (!image) return null;
    let loading = this.loadedImages.get(image.id);
    if (!loading) {
      loading = this.loadImageMasks(image);
      this.loadedImages.set(image.id, loading);
    }
    try {
      await loading;
    } catch (e) {
      this.loadedImages.delete(image.id);
      this.report(e);
      return null;
    }
    return this.slices.get(sliceKey(item.imageId, item.frame)) ?? null;
  }

  private async loadImageMasks(image: ImageSummary): Promise<void> {
    for (let f = 0; f < image.frames; f++) {
      const k = sliceKey(image.id, f);
      if (!this.slices.has(k)) this.slices.set(k, new SliceMasks(image.id, f, image.width, image.height));
    }
    // Most slices of a series have no masks: skip the request (it would compete with pixel fetches while scrolling).
    if (image.maskCount === 0) return;
    const records = await api.call('masks.list', { imageId: image.id });
    for (const r of records) {
      const s = this.slices.get(sliceKey(r.imageId, r.frame));
      if (!s) continue;
      if (r.rle.size[0] !== image.height || r.rle.size[1] !== image.width) {
        this.report(new Error(`Mask ${r.id} of ${image.fileName} is ${r.rle.size[1]}x${r.rle.size[0]}, image is ${image.width}x${image.height}; skipped`));
        continue;
      }
      s.setLayer({ labelId: r.labelId, instance: r.instance }, decodeRle(r.rle));
    }
  }

  /** A new, empty segment of the active label, selected: the next free instance number in this series. */
  newInstance(): void {
    const label = this.activeLabelId;
    if (label === null) return;
    this.selectLayer({ labelId: label, instance: nextFreeInstance(this.usedInstances(label)) });
  }

  get activeLayer(): LayerKey | null {
    return this.activeLabelId === null ? null : { labelId: this.activeLabelId, instance: this.activeInstance };
  }

  /** Called by the viewer after an edit was committed on the visible slice. */
  /** `prompts`: the SAM prompts that produced the edit, stored with the mask for the audit trail. */
  edited(slice: SliceMasks, edit: Edit | null, source: EditSource | 'undo' | 'redo', prompts?: MaskPrompts): void {
    if (!edit) return;
    this.deleteIsLast = false;
    this.maskVersion++;
    this.queueSave(slice, edit, source, prompts);
  }

  /** Ctrl+Z: brings back the segment just deleted, else undoes the slice's last edit (unless its segment is locked). */
  undo(): void {
    if (this.deleteIsLast && this.deleted.length > 0) {
      void this.restoreDeleted();
      return;
    }
    const s = this.slice;
    if (!s) return;
    const e = s.undo();
    if (!e) return;
    const refusal = lockedEditRefusal(this.lockedName(e));
    if (refusal) {
      s.redo(); // put the pixels back: the undo never happened
      this.report(new Error(refusal));
      return;
    }
    this.edited(s, e, 'undo');
  }

  redo(): void {
    const s = this.slice;
    if (!s) return;
    const e = s.redo();
    if (!e) return;
    const refusal = lockedEditRefusal(this.lockedName(e));
    if (refusal) {
      s.undo();
      this.report(new Error(refusal));
      return;
    }
    this.edited(s, e, 'redo');
  }

  private queueSave(slice: SliceMasks, k: LayerKey, source: EditSource | 'undo' | 'redo', prompts?: MaskPrompts): void {
    const key = `${slice.imageId}:${slice.frame}:${layerKey(k)}`;
    const imageId = slice.imageId;
    // The window as the edit was made (edits happen on the visible slice); read now, not at save time.
    const shown = this.shownWindow;
    const viewWindow = shown && shown.imageId === imageId && shown.frame === slice.frame ? shown.window : undefined;
    this.saver.mark({
      key,
      run: async () => {
        // Encode at save time: several edits in a burst become one save of the newest state.
        const mask = slice.layer(k) ?? new Uint8Array(slice.width * slice.height);
        const rle = encodeRle(mask, slice.height, slice.width);
        try {
          await api.call('masks.save', { imageId, frame: slice.frame, labelId: k.labelId, instance: k.instance, rle, source, ...(prompts ? { prompts } : {}), ...(viewWindow !== undefined ? { window: viewWindow } : {}) });
        } catch (e) {
          // A segment locked meanwhile (another window, a stale list): retrying cannot help. Say so and show what is stored.
          if (!(e instanceof ApiError && e.code === 'conflict')) throw e;
          this.report(e);
          slice.history.clear();
          await this.reloadLayers(k, [imageId]);
          return;
        }
        this.segmentsChanged();
        const img = this.images.find((i) => i.id === imageId);
        if (img && img.status === 'unlabelled') await this.setStatus([imageId], 'in_progress');
      },
    });
  }

  /** Edits not yet acknowledged by the store: waiting for their batch, being saved, or failed. */
  get hasUnsavedEdits(): boolean {
    return this.saver.pendingCount > 0 || this.saveState.kind === 'saving' || this.saveState.kind === 'error';
  }

  async flushSaves(): Promise<void> {
    await this.saver.flush();
  }

  // ------------------------------------------------------------ segments

  /** The open stack's segments (segments.list): every lesion with its colour, visibility and lock. Null while loading. */
  segmentList = $state.raw<SegmentList | null>(null);
  /** SAM's Enter adds to the selected segment instead of making a new one (the user's choice in the segment list). */
  samAddTo = $state(false);
  /** The segment deleted last, for the list's "Undo" note; null once restored or superseded. */
  lastDeleted = $state.raw<{ name: string; masks: number } | null>(null);
  /**
   * Deleted segments an undo brings back (their restore tokens), newest last, at most
   * DELETED_KEPT. A plain list rather than lib/undo's UndoStack: nothing redoes a restore,
   * and the instance numbers in it stay taken (see usedInstances).
   */
  private readonly deleted: { token: number; labelId: number; instance: number; name: string; /** Deleted right after the one before it (no edit between): Ctrl+Z goes on to that one. */ chained: boolean }[] = [];
  /** While the last change was a deletion, Ctrl+Z restores it rather than undoing a slice edit. */
  private deleteIsLast = false;
  private segmentsSeq = 0;
  private segmentsTimer: ReturnType<typeof setTimeout> | null = null;

  segmentOf(k: LayerKey): Segment | undefined {
    return this.segmentList?.segments.find((s) => s.labelId === k.labelId && s.instance === k.instance);
  }

  /**
   * How a layer is drawn: its segment's colour and visibility, or (for a layer the list has
   * not caught up with yet) the default colour the service will give it. Undefined: unknown label.
   */
  layerStyle(k: LayerKey): LayerStyle | undefined {
    const label = this.labels.find((l) => l.id === k.labelId);
    if (!label) return undefined;
    const seg = this.segmentOf(k);
    return { color: seg?.color ?? defaultInstanceColor(label.color, k.instance), hidden: seg?.hidden ?? false };
  }

  /** The segment's name when it is locked, else null. */
  lockedName(k: LayerKey): string | null {
    const seg = this.segmentOf(k);
    return seg?.locked ? seg.name : null;
  }

  /**
   * Called before a brush stroke or polygon fill on `k`: false (with the reason shown) when
   * the segment is locked. Painting into a hidden segment shows it, so the stroke is seen.
   */
  mayEdit(k: LayerKey): boolean {
    const refusal = lockedEditRefusal(this.lockedName(k));
    if (refusal) {
      this.report(new Error(refusal));
      return false;
    }
    const seg = this.segmentOf(k);
    if (seg?.hidden) void this.updateSegment(seg, { hidden: false });
    return true;
  }

  /** Instance numbers of `labelId` taken in this series: its segments, layers on loaded slices, new ones, deleted ones an undo may restore. */
  usedInstances(labelId: number): Set<number> {
    const used = new Set<number>(this.extraInstances.get(labelId) ?? []);
    for (const seg of this.segmentList?.segments ?? []) if (seg.labelId === labelId) used.add(seg.instance);
    const images = new Set(this.stack.map((it) => it.imageId));
    for (const s of this.slices.values()) {
      if (!images.has(s.imageId)) continue;
      for (const key of s.layers.keys()) {
        const k = parseLayerKey(key);
        if (k.labelId === labelId) used.add(k.instance);
      }
    }
    for (const d of this.deleted) if (d.labelId === labelId) used.add(d.instance);
    return used;
  }

  /** Select a segment (label + instance): what brush, eraser, polygon and "add to" act on. */
  selectLayer(k: LayerKey): void {
    if (!this.extraInstances.has(k.labelId)) this.extraInstances.set(k.labelId, new Set());
    this.extraInstances.get(k.labelId)!.add(k.instance);
    this.activeLabelId = k.labelId;
    this.activeInstance = k.instance;
  }

  /** Whether the selected segment has no pixels anywhere yet (a "+ New" one): SAM fills it rather than making another. */
  private selectedIsEmpty(k: LayerKey): boolean {
    if ((this.segmentOf(k)?.slices.length ?? 0) > 0) return false;
    const key = layerKey(k);
    for (const s of this.slices.values()) if (s.layers.get(key)?.some((v) => v !== 0)) return false;
    return true;
  }

  /** Where SAM's Enter puts the shown mask: a new segment (next free instance) unless "add to" is chosen. */
  samAcceptTarget(): AcceptTarget {
    const selected = this.activeLayer;
    const target = samAcceptTarget({
      addTo: this.samAddTo || (selected !== null && this.selectedIsEmpty(selected) && this.lockedName(selected) === null),
      selected,
      used: selected ? this.usedInstances(selected.labelId) : [],
      lockedName: selected ? this.lockedName(selected) : null,
    });
    // Adding to a hidden segment shows it, as painting into one does.
    const into = 'layer' in target && !target.isNew ? this.segmentOf(target.layer) : undefined;
    if (into?.hidden) void this.updateSegment(into, { hidden: false });
    return target;
  }

  /** The image the API names the open stack by. */
  private stackAnchor(): number | null {
    return this.currentItem?.imageId ?? this.openRow?.imageIds[0] ?? null;
  }

  async refreshSegments(): Promise<void> {
    const imageId = this.stackAnchor();
    if (imageId === null) return;
    const seq = ++this.segmentsSeq;
    const rowKey = this.openRow?.key;
    try {
      const list = await api.call('segments.list', { imageId });
      // A newer request, or another stack opened meanwhile, wins.
      if (seq === this.segmentsSeq && rowKey === this.openRow?.key) {
        this.segmentList = list;
        this.maskVersion++;
      }
    } catch (e) {
      this.report(e);
    }
  }

  /** Masks were saved: the list (slices, areas, origin) follows shortly, once per burst. */
  private segmentsChanged(): void {
    if (this.segmentsTimer) clearTimeout(this.segmentsTimer);
    this.segmentsTimer = setTimeout(() => {
      this.segmentsTimer = null;
      void this.refreshSegments();
    }, 200);
  }

  /** Rename, recolour, show/hide, lock/unlock (null name or colour: back to the default). */
  async updateSegment(seg: Segment, patch: { name?: string | null; color?: string | null; hidden?: boolean; locked?: boolean }): Promise<void> {
    const imageId = this.stackAnchor();
    if (imageId === null) return;
    try {
      // Edits waiting to be saved go first, so a lock never lands between an edit and its save.
      if (patch.locked) await this.saver.flush();
      const updated = await api.call('segments.update', { imageId, labelId: seg.labelId, instance: seg.instance, ...patch });
      this.segmentsSeq++; // a list read before this update must not overwrite it when it lands
      if (this.segmentList) {
        const has = this.segmentList.segments.some((s) => s.labelId === updated.labelId && s.instance === updated.instance);
        const segments = has
          ? this.segmentList.segments.map((s) => (s.labelId === updated.labelId && s.instance === updated.instance ? updated : s))
          : [...this.segmentList.segments, updated].sort((a, b) => a.labelId - b.labelId || a.instance - b.instance);
        this.segmentList = { ...this.segmentList, segments };
      }
      this.maskVersion++;
    } catch (e) {
      this.report(e);
    }
  }

  /** Delete a segment on every slice of the series; Ctrl+Z (or the list's Undo) brings it back. */
  async deleteSegment(seg: Segment): Promise<void> {
    const imageId = this.stackAnchor();
    if (imageId === null) return;
    try {
      await this.saver.flush();
      const r = await api.call('segments.delete', { imageId, labelId: seg.labelId, instance: seg.instance });
      this.deleted.push({ token: r.token, labelId: seg.labelId, instance: seg.instance, name: seg.name, chained: this.deleteIsLast });
      if (this.deleted.length > DELETED_KEPT) this.deleted.shift();
      this.deleteIsLast = true;
      this.lastDeleted = { name: seg.name, masks: r.masks };
      // Its pixels leave the loaded slices; their per-slice undo would paint into a deleted segment, so it goes too.
      const key = layerKey(seg);
      const images = new Set(this.stack.map((it) => it.imageId));
      for (const s of this.slices.values()) {
        if (images.has(s.imageId) && s.layers.delete(key)) s.history.clear();
      }
      this.extraInstances.get(seg.labelId)?.delete(seg.instance);
      this.maskVersion++;
      await this.refreshSegments();
    } catch (e) {
      this.report(e);
    }
  }

  /** Bring back the segment deleted last (Ctrl+Z right after a delete, or the list's Undo). */
  async restoreDeleted(): Promise<void> {
    const d = this.deleted.pop();
    if (!d) return;
    try {
      const seg = await api.call('segments.restore', { token: d.token });
      this.deleteIsLast = d.chained && this.deleted.length > 0;
      this.lastDeleted = null;
      await this.reloadLayers(seg, [...new Set(seg.slices.map((x) => x.imageId))]);
      await this.refreshSegments();
    } catch (e) {
      this.deleted.push(d); // still deleted: it can be tried again
      this.report(e);
    }
  }

  /** Read one layer of these images again from the store (after a restore or a refused save). */
  private async reloadLayers(k: LayerKey, imageIds: number[]): Promise<void> {
    for (const imageId of imageIds) {
      if (!this.loadedImages.has(imageId)) continue; // loaded from the store when first shown
      const image = this.images.find((i) => i.id === imageId);
      if (!image) continue;
      const records = await api.call('masks.list', { imageId });
      for (let f = 0; f < image.frames; f++) this.slices.get(sliceKey(imageId, f))?.layers.delete(layerKey(k));
      for (const r of records) {
        if (r.labelId !== k.labelId || r.instance !== k.instance) continue;
        this.slices.get(sliceKey(r.imageId, r.frame))?.setLayer(k, decodeRle(r.rle));
      }
    }
    this.maskVersion++;
  }

  /** A segment's masks changed in the store (propagation, fill between slices, drafts accepted or discarded): show them as stored. */
  async reloadSegment(k: LayerKey, imageIds: number[]): Promise<void> {
    await this.saver.flush();
    await this.refreshImages(); // images that had no mask before are loaded from the store when shown
    await this.reloadLayers(k, imageIds);
    void this.refreshSegments();
  }

  /** Select a segment and show its largest slice. */
  async jumpToLargest(seg: Segment): Promise<void> {
    this.selectLayer(seg);
    const at = seg.largest;
    if (!at) return;
    const index = this.stack.findIndex((it) => it.imageId === at.imageId && it.frame === at.frame);
    if (index >= 0) await this.goToSlice(index);
    else await this.showImage(at.imageId);
  }

  // ------------------------------------------------------------ DICOM output

  /** The SEG export running or last finished (its job), for the toolbar. */
  exportJob = $state.raw<JobInfo | null>(null);

  /** Whether the open row's images are DICOM (a SEG needs DICOM sources). */
  get openRowIsDicom(): boolean {
    const first = this.openRow?.imageIds[0];
    return first !== undefined && this.images.find((i) => i.id === first)?.kind === 'dicom';
  }

  /** Export the open series' masks as a DICOM SEG: the edits on screen are saved first. */
  async exportSeg(): Promise<void> {
    const row = this.openRow;
    if (row) await this.runExport('seg', () => api.call('export.segStart', { imageId: row.imageIds[0]! }));
  }

  /** Export the open series' masks as an RTSTRUCT (contours per slice); the edits on screen are saved first. */
  async exportRtstruct(): Promise<void> {
    const row = this.openRow;
    if (row) await this.runExport('rtstruct', () => api.call('export.rtstructStart', { imageId: row.imageIds[0]! }));
  }

  /** Write the open series' segment measurements as a DICOM SR (TID 1500) referring to its SEG; the edits on screen are saved first. */
  async exportSr(): Promise<void> {
    const row = this.openRow;
    if (row) await this.runExport('sr', () => api.call('export.srStart', { imageId: row.imageIds[0]! }));
  }

  /** Export the open image's masks (or every non-DICOM image's, `all`) as a COCO folder. */
  async exportCoco(all: boolean): Promise<void> {
    const row = this.openRow;
    if (row) await this.runExport('coco', () => api.call('export.cocoStart', all ? {} : { imageId: row.imageIds[0]! }));
  }

  /** Which kind the export job in `exportJob` writes (its failure says so). */
  exportKind = $state<ExportKind>('seg');

  /** One export at a time, as a job watched into `exportJob`; the edits on screen are saved first. */
  private async runExport(kind: ExportKind, start: () => Promise<{ jobId: string }>): Promise<void> {
    if (this.exportJob && jobIsLive(this.exportJob.state)) return;
    try {
      await this.flushSaves();
      this.exportKind = kind;
      const { jobId } = await start();
      const j = await watchJob(jobId, (p) => (this.exportJob = p));
      if (j.state === 'failed') this.report(new Error(j.error?.message ?? j.detail));
    } catch (e) {
      this.report(e);
    }
  }
}

export const workspace = new Workspace();
