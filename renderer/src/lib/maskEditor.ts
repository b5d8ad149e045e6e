/**
 * The editing gestures on masks, apart from any DOM: a brush/eraser stroke (start, move,
 * end) and a polygon/lasso (add vertices, close). Each gesture remembers the slice and
 * layer it started on, so scrolling or switching label in the middle of a stroke cannot
 * spill it onto another slice; ending it yields one undoable edit.
 *
 * Runtime: pure.
 */
import { SliceMasks, type Edit, type EditSource, type LayerKey } from './masks';
import { fillPolygon, paintDisc, paintStroke, unionBox, type Box, type Point } from './raster';

export interface EditResult {
  slice: SliceMasks;
  edit: Edit | null;
  source: EditSource;
}

interface Stroke {
  slice: SliceMasks;
  layer: LayerKey;
  prev: Point;
  box: Box | null;
  value: 0 | 1;
}

export class MaskEditor {
  private stroke: Stroke | null = null;
  private poly: { slice: SliceMasks; points: Point[] } | null = null;

  get stroking(): boolean {
    return this.stroke !== null;
  }

  /** The slice the stroke in progress paints on (the overlay redraws it). */
  get strokeSlice(): SliceMasks | null {
    return this.stroke?.slice ?? null;
  }

  /** Starts a stroke with one dab; returns the area changed. */
  startStroke(slice: SliceMasks, layer: LayerKey, p: Point, radius: number, erase: boolean): Box | null {
    if (this.stroke) this.endStroke();
    const mask = slice.begin(layer);
    const value = erase ? 0 : 1;
    const box = paintDisc(mask, slice.width, slice.height, p.x, p.y, radius, value);
    this.stroke = { slice, layer, prev: p, box, value };
    return box;
  }

  moveStroke(p: Point, radius: number): Box | null {
    const s = this.stroke;
    if (!s) return null;
    const mask = s.slice.ensureLayer(s.layer);
    const box = paintStroke(mask, s.slice.width, s.slice.height, s.prev, p, radius, s.value);
    s.prev = p;
    s.box = unionBox(s.box, box);
    return box;
  }

  endStroke(): EditResult | null {
    const s = this.stroke;
    this.stroke = null;
    if (!s) return null;
    const source: EditSource = s.value ? 'brush' : 'eraser';
    return { slice: s.slice, edit: s.slice.commit(s.box, source), source };
  }

  get polygon(): readonly Point[] | null {
    return this.poly?.points ?? null;
  }

  /** Adds a vertex; a vertex on another slice starts over there. */
  addVertex(slice: SliceMasks, p: Point): void {
    if (!this.poly || this.poly.slice !== slice) this.poly = { slice, points: [] };
    this.poly.points.push(p);
  }

  /** Adds a lasso point when it is at least `minStep` image pixels from the last one. */
  addLassoPoint(p: Point, minStep: number): boolean {
    const pts = this.poly?.points;
    const last = pts?.[pts.length - 1];
    if (!pts || !last || Math.hypot(p.x - last.x, p.y - last.y) < minStep) return false;
    pts.push(p);
    return true;
  }

  cancelPolygon(): void {
    this.poly = null;
  }

  /** Fills (or with `erase`, clears) the polygon into `layer`; null when it has fewer than 3 vertices. */
  closePolygon(layer: LayerKey, erase: boolean): EditResult | null {
    const p = this.poly;
    this.poly = null;
    if (!p || p.points.length < 3) return null;
    const mask = p.slice.begin(layer);
    const box = fillPolygon(mask, p.slice.width, p.slice.height, p.points, erase ? 0 : 1);
    return { slice: p.slice, edit: p.slice.commit(box, 'polygon'), source: 'polygon' };
  }
}
