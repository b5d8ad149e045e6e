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
import { groupImages, type BrowserRow, type StackItem } from '../lib/grouping';
import { SliceMasks, layerKey, parseLayerKey, type Edit, type EditSource, type LayerKey } from '../lib/masks';
import { SaveQueue, type SaveState } from '../lib/saveQueue';
import { batchBySize } from '../lib/batches';
import { watchJob } from '../lib/watchJob';
import type { ExportKind } from '../lib/exportState';
import { rememberProject } from './recent';

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

export class Workspace {
  readonly transport = transportKind;
  project = $state.raw<ProjectInfo | null>(null);
  images = $state.raw<ImageSummary[]>([]);
  rows = $derived(groupImages(this.images));
  labels = $state.raw<LabelClass[]>([]);
  activeLabelId = $state<number | null>(null);
  activeInstance = $state(1);
  tool = $state<Tool>('brush');
  /** Brush diameter in image pixels. */
  brushSize = $state(12);
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
    this.openRow = null;
    this.slice = null;
    this.shownWindow = null;
    this.retrainOpen = false;
    this.slices.clear();
    this.loadedImages.clear();
    this.extraInstances.clear();
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
      const merged: ImportReport = { imported: [], duplicates: [], failed: [], warnings: [], cancelled: 0, elapsedMs: 0 };
      const sized = files.map((f) => ({ ...f, size: f.file.size }));
      for (const batch of batchBySize(sized, IMPORT_BATCH_BYTES, IMPORT_BATCH_FILES)) {
        const payload = await Promise.all(batch.map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.file.arrayBuffer()) })));
        const r = await api.call('images.importFiles', { files: payload });
        merged.imported.push(...r.imported);
        merged.duplicates.push(...r.duplicates);
        merged.failed.push(...r.failed);
        merged.warnings.push(...r.warnings);
        merged.elapsedMs += r.elapsedMs;
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
    if (this.openRow?.key !== row.key) await this.saver.flush();
    this.openRow = row;
    this.slice = null;
    await this.goToSlice(Math.min(Math.max(index, 0), row.stack.length - 1));
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

  /** Instances of the active label to offer: those with pixels on this slice, plus ones made this session. */
  instancesOf(labelId: number): number[] {
    void this.maskVersion; // re-evaluate when masks change
    const set = new Set<number>(this.extraInstances.get(labelId) ?? []);
    for (const key of this.slice?.layers.keys() ?? []) {
      const k = parseLayerKey(key);
      if (k.labelId === labelId && this.slice!.layers.get(key)!.some((v) => v !== 0)) set.add(k.instance);
    }
    set.add(this.activeInstance);
    return [...set].sort((a, b) => a - b);
  }

  newInstance(): void {
    const label = this.activeLabelId;
    if (label === null) return;
    let max = 0;
    for (const s of this.slices.values()) for (const key of s.layers.keys()) {
      const k = parseLayerKey(key);
      if (k.labelId === label) max = Math.max(max, k.instance);
    }
    for (const n of this.extraInstances.get(label) ?? []) max = Math.max(max, n);
    const next = max + 1;
    if (!this.extraInstances.has(label)) this.extraInstances.set(label, new Set());
    this.extraInstances.get(label)!.add(next);
    this.activeInstance = next;
  }

  get activeLayer(): LayerKey | null {
    return this.activeLabelId === null ? null : { labelId: this.activeLabelId, instance: this.activeInstance };
  }

  /** Called by the viewer after an edit was committed on the visible slice. */
  /** `prompts`: the SAM prompts that produced the edit, stored with the mask for the audit trail. */
  edited(slice: SliceMasks, edit: Edit | null, source: EditSource | 'undo' | 'redo', prompts?: MaskPrompts): void {
    if (!edit) return;
    this.maskVersion++;
    this.queueSave(slice, edit, source, prompts);
  }

  undo(): void {
    const s = this.slice;
    if (!s) return;
    this.edited(s, s.undo(), 'undo');
  }

  redo(): void {
    const s = this.slice;
    if (!s) return;
    this.edited(s, s.redo(), 'redo');
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
        await api.call('masks.save', { imageId, frame: slice.frame, labelId: k.labelId, instance: k.instance, rle, source, ...(prompts ? { prompts } : {}), ...(viewWindow !== undefined ? { window: viewWindow } : {}) });
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
