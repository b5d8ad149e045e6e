/**
 * Pointer and key handling of the SAM tool, called by the viewport: left click = positive
 * point, right click or Alt+click = negative point, drag = box; Tab cycles SAM's candidate
 * masks, Enter accepts as a new segment of the active label (or into the selected one when
 * the user chose "add to"), Esc discards.
 *
 * Runtime: browser.
 */
import type { Workspace } from '../state/workspace.svelte';
import { boxFrom, isDrag, pointLabel, toSamCoords } from './samGeometry';
import { samSession } from './samSession.svelte';

interface Press {
  button: number;
  altKey: boolean;
  pageX: number;
  pageY: number;
  at: { x: number; y: number };
}

export class SamPointer {
  private press: Press | null = null;

  down(e: PointerEvent, at: { x: number; y: number }): void {
    this.press = { button: e.button, altKey: e.altKey, pageX: e.pageX, pageY: e.pageY, at };
  }

  move(e: PointerEvent, at: { x: number; y: number }, width: number, height: number): void {
    const p = this.press;
    if (!p || p.button !== 0 || !isDrag(e.pageX - p.pageX, e.pageY - p.pageY)) return;
    samSession.dragBox = boxFrom(toSamCoords(p.at), toSamCoords(at), width, height);
  }

  up(e: PointerEvent, at: { x: number; y: number }, width: number, height: number): void {
    const p = this.press;
    this.press = null;
    if (!p) return;
    samSession.dragBox = null;
    if (p.button === 0 && isDrag(e.pageX - p.pageX, e.pageY - p.pageY)) {
      samSession.setBox(boxFrom(toSamCoords(p.at), toSamCoords(at), width, height));
      return;
    }
    const q = toSamCoords(p.at);
    if (q.x < -0.5 || q.y < -0.5 || q.x > width - 0.5 || q.y > height - 0.5) return; // outside the image
    samSession.addPoint({ ...q, label: pointLabel(p.button, p.altKey) });
  }

  /** Returns true when the key was the SAM tool's. */
  key(e: KeyboardEvent, ws: Workspace): boolean {
    if (e.ctrlKey || e.metaKey) return false;
    if (e.key === 'Tab' && samSession.candidates.length > 1) {
      samSession.cycle();
      samSession.syncMaskInput();
      return true;
    }
    if (e.key === 'Enter' && samSession.current) {
      const slice = ws.slice;
      if (!slice) return true;
      // A new segment unless the user chose "add to" the selected one (segments/segmentTarget.ts).
      const target = ws.samAcceptTarget();
      if ('refused' in target) {
        ws.report(new Error(target.refused));
        return true;
      }
      const accepted = samSession.accept(slice, target.layer);
      if (accepted) {
        if (target.isNew) ws.selectLayer(target.layer);
        ws.edited(slice, accepted.edit, 'sam', accepted.prompts);
      }
      return true;
    }
    if (e.key === 'Escape' && samSession.hasPrompts) {
      samSession.discard();
      return true;
    }
    return false;
  }
}

export const samPointer = new SamPointer();
