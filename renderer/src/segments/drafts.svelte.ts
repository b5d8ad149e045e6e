/**
 * The drafts of the open series (propagation, fill between slices, a model's AUTOMATIC SEG),
 * for DraftReview, the propagation panel and the viewer's draft outline: listed from the
 * store, refreshed after anything that makes, accepts or discards them (and, debounced, after
 * saves: editing a draft accepts it). Runtime: browser (Svelte runes).
 */
import { api } from '../transport';
import type { DraftSlice } from '../../../electron/contract/propagation';

class Drafts {
  /** Drafts of every segment in the stack `imageId` is part of, in stack order. */
  list = $state.raw<DraftSlice[]>([]);
  /** The stack they belong to (any image of it). */
  imageId = $state<number | null>(null);
  private seq = 0;

  async refresh(imageId: number | null): Promise<void> {
    const seq = ++this.seq;
    if (imageId === null) {
      this.list = [];
      this.imageId = null;
      return;
    }
    const list = await api.call('segments.drafts', { imageId });
    if (seq !== this.seq) return; // a newer refresh (another series) won
    this.list = list;
    this.imageId = imageId;
  }

  /** Drafts on one slice (any segment). */
  on(imageId: number, frame: number): DraftSlice[] {
    return this.list.filter((d) => d.imageId === imageId && d.frame === frame);
  }

  /** The drafts of one segment, in stack order. */
  of(segment: { labelId: number; instance: number }): DraftSlice[] {
    return this.list.filter((d) => d.labelId === segment.labelId && d.instance === segment.instance);
  }

  /** One segment's draft on one slice, if any. */
  at(segment: { labelId: number; instance: number }, slice: { imageId: number; frame: number }): DraftSlice | null {
    return this.list.find((d) => d.labelId === segment.labelId && d.instance === segment.instance && d.imageId === slice.imageId && d.frame === slice.frame) ?? null;
  }
}

export const drafts = new Drafts();
