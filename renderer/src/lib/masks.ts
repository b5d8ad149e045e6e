/**
 * The masks of one slice (image + frame): one binary layer per (label, instance), with its
 * own undo history. Edits are recorded as rectangular before/after patches, so 100 steps
 * of brush work on a 512x512 slice cost kilobytes, not megabytes.
 *
 * Runtime: pure.
 */
import { UndoStack } from './undo';
import { applyPatch, extractPatch, type Box } from './raster';

export type EditSource = 'brush' | 'eraser' | 'polygon' | 'sam';

export interface LayerKey {
  labelId: number;
  instance: number;
}

export interface Edit extends LayerKey {
  box: Box;
  before: Uint8Array;
  after: Uint8Array;
  source: EditSource;
}

export function layerKey(k: LayerKey): string {
  return `${k.labelId}:${k.instance}`;
}

export function parseLayerKey(s: string): LayerKey {
  const [l, i] = s.split(':').map(Number);
  return { labelId: l!, instance: i! };
}

/** Undo depth kept per slice; the issue asks for at least 50. */
export const UNDO_LIMIT = 100;

export class SliceMasks {
  readonly layers = new Map<string, Uint8Array>();
  readonly history = new UndoStack<Edit>(UNDO_LIMIT);
  private pending: { key: LayerKey; snapshot: Uint8Array } | null = null;

  constructor(
    readonly imageId: number,
    readonly frame: number,
    readonly width: number,
    readonly height: number,
  ) {}

  layer(k: LayerKey): Uint8Array | undefined {
    return this.layers.get(layerKey(k));
  }

  /** The layer to paint into, created empty on first use. */
  ensureLayer(k: LayerKey): Uint8Array {
    const key = layerKey(k);
    let m = this.layers.get(key);
    if (!m) {
      m = new Uint8Array(this.width * this.height);
      this.layers.set(key, m);
    }
    return m;
  }

  /** Replace a layer with stored data (on load); not an edit, so no history. */
  setLayer(k: LayerKey, mask: Uint8Array): void {
    if (mask.length !== this.width * this.height) {
      throw new Error(`Mask for label ${k.labelId} instance ${k.instance} has ${mask.length} pixels, slice has ${this.width}x${this.height}`);
    }
    this.layers.set(layerKey(k), mask);
  }

  /** Start an edit (a brush stroke, a polygon fill): remembers the layer as it was. */
  begin(k: LayerKey): Uint8Array {
    const m = this.ensureLayer(k);
    this.pending = { key: k, snapshot: m.slice() };
    return m;
  }

  /** Finish the edit that `begin` started; records it when `box` (the touched area) changed anything. */
  commit(box: Box | null, source: EditSource): Edit | null {
    const p = this.pending;
    this.pending = null;
    if (!p || !box) return null;
    const m = this.ensureLayer(p.key);
    const before = extractPatch(p.snapshot, this.width, box);
    const after = extractPatch(m, this.width, box);
    if (before.every((v, i) => v === after[i])) return null;
    const e: Edit = { ...p.key, box, before, after, source };
    this.history.push(e);
    return e;
  }

  /** Abandon the edit in progress, restoring the layer. */
  cancel(): void {
    const p = this.pending;
    this.pending = null;
    if (p) this.ensureLayer(p.key).set(p.snapshot);
  }

  undo(): Edit | null {
    const e = this.history.undo();
    if (!e) return null;
    applyPatch(this.ensureLayer(e), this.width, e.box, e.before);
    return e;
  }

  redo(): Edit | null {
    const e = this.history.redo();
    if (!e) return null;
    applyPatch(this.ensureLayer(e), this.width, e.box, e.after);
    return e;
  }
}
