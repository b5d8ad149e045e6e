/**
 * Wheel events to slice steps. A mouse notch (about 100 px of delta) is one slice; Chromium
 * coalesces notches into one event when the page is busy, so a bigger delta is several
 * slices; trackpads send many small deltas, which accumulate until they make a slice.
 *
 * Runtime: pure.
 */

const LINE_PX = 40;
const PAGE_PX = 800;
const NOTCH_PX = 100;
/** Deltas at least this big are (coalesced) notches; smaller ones accumulate. */
const SMALL_PX = 50;

export class WheelStepper {
  private accum = 0;

  /** Slices to move for one wheel event (`deltaMode` as in WheelEvent: 0 px, 1 lines, 2 pages). */
  steps(deltaY: number, deltaMode: number): number {
    const d = deltaMode === 1 ? deltaY * LINE_PX : deltaMode === 2 ? deltaY * PAGE_PX : deltaY;
    if (d === 0) return 0;
    if (Math.abs(d) >= SMALL_PX) {
      this.accum = 0;
      return Math.sign(d) * Math.max(1, Math.round(Math.abs(d) / NOTCH_PX));
    }
    this.accum += d;
    const n = Math.trunc(this.accum / SMALL_PX);
    this.accum -= n * SMALL_PX;
    return n;
  }
}
