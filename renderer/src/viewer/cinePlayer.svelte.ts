/**
 * Cine playback of the open stack: plays and pauses, at an adjustable frame rate, looping;
 * each animation frame asks whether the next slice is due (cine.ts) and steps when it is.
 *
 * Runtime: browser (Svelte runes, requestAnimationFrame).
 */
import { cineDue, clampFps, DEFAULT_FPS } from './cine';

export interface CineHost {
  /** Slices in the open stack (a single image does not play). */
  count(): number;
  /** Whether the slice asked for last has been drawn. */
  drawn(): boolean;
  /** Show the next slice (looping). */
  advance(): void;
}

export class CinePlayer {
  playing = $state(false);
  fps = $state(DEFAULT_FPS);
  private raf = 0;
  private lastAt = 0;

  constructor(private readonly host: CineHost) {}

  setFps(fps: number): void {
    this.fps = clampFps(fps);
  }

  toggle(): void {
    if (this.playing) this.stop();
    else this.play();
  }

  play(): void {
    if (this.playing || this.host.count() < 2) return;
    this.playing = true;
    this.lastAt = performance.now();
    const tick = (now: number) => {
      if (!this.playing) return;
      if (this.host.count() < 2) {
        this.stop();
        return;
      }
      if (cineDue(this.lastAt, now, this.fps, this.host.drawn())) {
        this.lastAt = now;
        this.host.advance();
      }
      this.raf = requestAnimationFrame(tick);
    };
    this.raf = requestAnimationFrame(tick);
  }

  stop(): void {
    this.playing = false;
    cancelAnimationFrame(this.raf);
  }
}
