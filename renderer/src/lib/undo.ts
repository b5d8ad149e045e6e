/**
 * A bounded undo/redo history.
 *
 * Pure data structure: the caller decides what an entry is (for masks, a rectangular patch
 * with the pixels before and after an edit) and how to apply it. A new edit clears the redo
 * side, as every editor does. The oldest entries fall off once `limit` is reached, so memory
 * stays bounded during long sessions.
 *
 * Runtime: pure.
 */
export class UndoStack<T> {
  private readonly done: T[] = [];
  private undone: T[] = [];

  constructor(readonly limit = 100) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`UndoStack limit must be a positive integer, got ${limit}`);
  }

  push(entry: T): void {
    this.done.push(entry);
    if (this.done.length > this.limit) this.done.shift();
    this.undone = [];
  }

  /** Returns the entry to revert, or undefined when there is nothing to undo. */
  undo(): T | undefined {
    const e = this.done.pop();
    if (e !== undefined) this.undone.push(e);
    return e;
  }

  /** Returns the entry to re-apply, or undefined when there is nothing to redo. */
  redo(): T | undefined {
    const e = this.undone.pop();
    if (e !== undefined) this.done.push(e);
    return e;
  }

  get canUndo(): boolean {
    return this.done.length > 0;
  }
  get canRedo(): boolean {
    return this.undone.length > 0;
  }
  get undoDepth(): number {
    return this.done.length;
  }
  get redoDepth(): number {
    return this.undone.length;
  }
  clear(): void {
    this.done.length = 0;
    this.undone = [];
  }
}
