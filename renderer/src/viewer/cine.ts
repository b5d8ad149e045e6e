/**
 * Cine playback timing: frames per second within bounds, the loop through a stack, and when
 * the next frame is due. A frame that is not drawn yet holds the clock, so slow decoding slows
 * the playback down instead of skipping slices or piling up requests.
 *
 * Runtime: pure.
 */

export const MIN_FPS = 1;
export const MAX_FPS = 60;
export const DEFAULT_FPS = 10;

/** Frames per second as typed or stepped, kept to whole numbers within [MIN_FPS, MAX_FPS]; DEFAULT_FPS for nonsense. */
export function clampFps(fps: number): number {
  if (!Number.isFinite(fps)) return DEFAULT_FPS;
  return Math.min(MAX_FPS, Math.max(MIN_FPS, Math.round(fps)));
}

/** The slice after `index` in a loop through `count` slices (back to the first after the last). */
export function nextCineIndex(index: number, count: number): number {
  if (count <= 0) return 0;
  return (((index + 1) % count) + count) % count;
}

/**
 * Whether the next frame is due at `now` (ms) when the last was shown at `lastAt`, at `fps`,
 * and the shown frame has been drawn (`drawn`). Half a display refresh early counts as due,
 * so 60 fps on a 60 Hz display does not fall to 30.
 */
export function cineDue(lastAt: number, now: number, fps: number, drawn: boolean): boolean {
  if (!drawn) return false;
  return now - lastAt >= 1000 / clampFps(fps) - 8;
}
