/**
 * The SAM tool's state in the renderer: the prompts on the current slice, the candidate masks
 * SAM returned, which one is shown, and the embedding progress. One prediction runs at a
 * time; prompts that change while it runs are sent once it returns (latest wins).
 *
 * Runtime: browser (Svelte runes).
 */
import { api } from '../transport';
import { ApiError, type MaskPrompts, type SamBox, type SamPoint } from '../../../electron/contract/api';
import { decodeRle } from '../../../electron/contract/rle';
import type { SliceMasks, LayerKey, Edit } from '../lib/masks';
import { maskBox } from './samGeometry';

export interface SamTarget {
  imageId: number;
  frame: number;
  width: number;
  height: number;
  window: { center: number; width: number } | null;
}

export interface Candidate {
  /** Null until fetched: SAM upsamples only the best candidate up front (see sam.candidate). */
  mask: Uint8Array | null;
  score: number;
  lowRes: string;
}

export type SamPhase = 'idle' | 'preparing' | 'ready' | 'predicting' | 'no-model' | 'error';

export class SamSession {
  phase = $state<SamPhase>('idle');
  message = $state('');
  /** Set when the last embedding could not be kept on disk (a full disk): SAM still works from memory. */
  cacheWarning = $state<string | null>(null);
  points = $state.raw<SamPoint[]>([]);
  box = $state.raw<SamBox | null>(null);
  candidates = $state.raw<Candidate[]>([]);
  shown = $state(0);
  /** Bumped on every change the overlay must redraw for. */
  version = $state(0);
  /** The box being dragged (not yet sent). */
  dragBox = $state.raw<SamBox | null>(null);
  lastDecodeMs = $state<number | null>(null);
  /** What answered the last click: the decoder graph and the execution provider (status line). */
  lastDecoder = $state<{ kind: 'fast' | 'canonical'; provider: string } | null>(null);
  lastEncodeMs = $state<number | null>(null);
  /** How long computing an embedding took last time (not counting disk hits): the estimate shown while one computes. */
  typicalEncodeMs = $state<number | null>(null);
  /** When the current preparation started (performance.now()), for the elapsed time shown. */
  preparingSince = $state<number | null>(null);
  /** The SAM model that prepared the current target (sam.prepare's answer); recorded with accepted masks. */
  modelId = $state<string | null>(null);
  private target: SamTarget | null = null;
  private targetKey = '';
  private preparing: Promise<boolean> | null = null;
  private inFlight = false;
  private again = false;
  /** The low-res logits of the mask shown before the latest prompt change (refinement). */
  private maskInput: string | null = null;

  get current(): Candidate | null {
    return this.candidates[this.shown] ?? null;
  }

  get hasPrompts(): boolean {
    return this.points.length > 0 || this.box !== null;
  }

  /** Point the tool at a slice as shown (window included); computes or loads its embedding. */
  async prepare(t: SamTarget, next: { imageId: number; frame: number }[] = []): Promise<boolean> {
    const key = `${t.imageId}:${t.frame}:${t.window ? `${t.window.center}/${t.window.width}` : '-'}`;
    if (key === this.targetKey && this.preparing) return this.preparing;
    if (key !== this.targetKey) this.discard();
    this.target = t;
    this.targetKey = key;
    this.modelId = null;
    this.phase = 'preparing';
    this.preparingSince = performance.now();
    const p = api
      .call('sam.prepare', { imageId: t.imageId, frame: t.frame, window: t.window, next })
      .then((r) => {
        if (this.targetKey !== key) return false;
        this.lastEncodeMs = r.encodeMs;
        if (!r.cached && r.encodeMs > 0) this.typicalEncodeMs = r.encodeMs;
        this.preparingSince = null;
        this.modelId = r.modelId;
        this.cacheWarning = r.cacheWarning ?? null;
        this.phase = 'ready';
        return true;
      })
      .catch((e: unknown) => {
        if (this.targetKey !== key) return false;
        const err = ApiError.from(e);
        this.phase = err.code === 'not_found' && /No SAM model/.test(err.message) ? 'no-model' : 'error';
        this.message = err.message;
        return false;
      });
    this.preparing = p;
    return p;
  }

  /** Bumped when the installed/active model changes, so the layer prepares again. */
  modelEpoch = $state(0);

  modelChanged(): void {
    this.reset();
    this.modelEpoch++;
  }

  /** Forget the target (tool switched off, project closed). */
  reset(): void {
    this.discard();
    this.target = null;
    this.targetKey = '';
    this.preparing = null;
    this.modelId = null;
    this.phase = 'idle';
  }

  addPoint(p: SamPoint): void {
    this.points = [...this.points, p];
    void this.predict();
  }

  setBox(b: SamBox): void {
    this.box = b;
    this.maskInput = null; // a new box starts over
    void this.predict();
  }

  /** Tab: the next candidate (SAM's three masks for one ambiguous click). */
  cycle(): void {
    if (this.candidates.length < 2) return;
    this.shown = (this.shown + 1) % this.candidates.length;
    this.version++;
    if (!this.current?.mask) void this.fetchShown();
  }

  /** The shown candidate's full-size mask, when SAM returned only its low-res logits. */
  private async fetchShown(): Promise<void> {
    const t = this.target;
    const c = this.current;
    if (!t || !c) return;
    try {
      const { rle } = await api.call('sam.candidate', { imageId: t.imageId, frame: t.frame, lowRes: c.lowRes });
      const i = this.candidates.indexOf(c);
      if (i < 0 || this.target !== t) return; // a newer prediction replaced it
      this.candidates = this.candidates.map((x, k) => (k === i ? { ...x, mask: decodeRle(rle) } : x));
      this.version++;
    } catch (e) {
      this.phase = 'error';
      this.message = ApiError.from(e).message;
    }
  }

  discard(): void {
    this.points = [];
    this.box = null;
    this.candidates = [];
    this.shown = 0;
    this.maskInput = null;
    this.again = false;
    this.version++;
  }

  private async predict(): Promise<void> {
    if (this.inFlight) {
      this.again = true;
      return;
    }
    const t = this.target;
    if (!t || !this.preparing || !(await this.preparing) || this.target !== t) return;
    this.inFlight = true;
    this.phase = 'predicting';
    try {
      do {
        this.again = false;
        const key = this.targetKey;
        const points = this.points;
        const box = this.box;
        if (points.length === 0 && !box) break;
        // The first prompt is ambiguous: ask for SAM's three masks and show the best. Later
        // prompts refine the mask on screen (its low-res logits go back in), one mask out.
        const refine = this.maskInput !== null;
        const r = await api.call('sam.predict', {
          imageId: t.imageId,
          frame: t.frame,
          window: t.window,
          points,
          box,
          maskInput: this.maskInput,
          multimask: !refine,
        });
        if (key !== this.targetKey) return;
        this.candidates = r.masks.map((m) => ({ mask: m.rle ? decodeRle(m.rle) : null, score: m.score, lowRes: m.lowRes }));
        this.shown = r.best;
        this.lastDecodeMs = r.decodeMs;
        this.lastDecoder = { kind: r.decoder, provider: r.provider };
        this.maskInput = this.candidates[this.shown]?.lowRes ?? null;
        this.version++;
      } while (this.again);
      this.phase = 'ready';
    } catch (e) {
      const err = ApiError.from(e);
      if (err.code === 'not_found' && /no longer held/.test(err.message)) this.maskInput = null;
      this.phase = 'error';
      this.message = err.message;
    } finally {
      this.inFlight = false;
    }
  }

  /** Tab cycles what is shown; the next refinement starts from the shown candidate. */
  syncMaskInput(): void {
    this.maskInput = this.current?.lowRes ?? this.maskInput;
  }

  /**
   * Enter: add the shown mask to `layer` of `slice` as one undoable edit (through the same
   * path as a brush stroke, so it autosaves and Ctrl+Z removes it). Returns the edit.
   */
  accept(slice: SliceMasks, layer: LayerKey): { edit: Edit; prompts: MaskPrompts } | null {
    const c = this.current;
    if (!c?.mask || slice.imageId !== this.target?.imageId || slice.frame !== this.target.frame) return null;
    const prompts: MaskPrompts = { points: [...this.points], box: this.box, ...(this.modelId ? { model: this.modelId } : {}) };
    const box = maskBox(c.mask, slice.width, slice.height);
    if (!box) return null;
    const m = slice.begin(layer);
    for (let y = box.y0; y < box.y1; y++) for (let x = box.x0; x < box.x1; x++) if (c.mask[y * slice.width + x]) m[y * slice.width + x] = 1;
    const edit = slice.commit(box, 'sam');
    this.discard();
    return edit ? { edit, prompts } : null;
  }
}

export const samSession = new SamSession();
