/**
 * Draft masks in the store (masks.draft = 1): written by propagation and interpolation, listed
 * for review, accepted or discarded. A draft is never written over a mask someone accepted;
 * the check and the write share one transaction, so a save racing a propagation keeps the
 * person's mask. Nor is one written, accepted or discarded in a locked segment: the lock is
 * read in the same transaction as the write, so locking a segment while a propagation runs
 * stops its next draft (ApiError 'conflict'). Every write goes into the audit trail. Runtime: node.
 */
import { decodeRle } from '../../contract/rle.js';
import { AuditRepository } from '../store/audit.repository.js';
import { countsFromBlob } from '../store/counts-blob.js';
import { MasksRepository, type MaskKey } from '../store/masks.repository.js';
import type { Db } from '../store/project-database.js';
import { assertSegmentUnlocked } from './segment-lock.js';

export interface DraftRow extends MaskKey {
  id: number;
  area: number;
  source: string;
  /** SAM's predicted IoU where the draft came from SAM. */
  score: number | null;
}

/** The segment's mask on one slice, decoded, and whether it is a draft. */
export interface SliceMask {
  mask: Uint8Array;
  draft: boolean;
  area: number;
}

export class DraftsRepository {
  private readonly masks: MasksRepository;
  private readonly audit: AuditRepository;

  constructor(
    private readonly db: Db,
    private readonly who: { author: string; now: () => string },
  ) {
    this.masks = new MasksRepository(db);
    this.audit = new AuditRepository(db);
  }

  /** The mask of (image, frame, label, instance), or null where there is none. */
  read(k: MaskKey): SliceMask | null {
    const r = this.db
      .prepare('SELECT height, width, counts, area, draft FROM masks WHERE image_id = ? AND frame = ? AND label_id = ? AND instance = ?')
      .get(k.imageId, k.frame, k.labelId, k.instance) as { height: number; width: number; counts: Uint8Array; area: number; draft: number } | undefined;
    if (!r) return null;
    return { mask: decodeRle({ size: [r.height, r.width], counts: countsFromBlob(r.counts) }), draft: r.draft === 1, area: r.area };
  }

  /** Accepted, non-empty masks of a segment on these images, decoded (the key slices of fill between slices). */
  accepted(imageIds: readonly number[], labelId: number, instance: number): { imageId: number; frame: number; mask: Uint8Array }[] {
    const stmt = this.db.prepare(
      'SELECT image_id AS imageId, frame, height, width, counts FROM masks WHERE image_id = ? AND label_id = ? AND instance = ? AND draft = 0 AND area > 0 ORDER BY frame',
    );
    return imageIds.flatMap((id) =>
      (stmt.all(id, labelId, instance) as { imageId: number; frame: number; height: number; width: number; counts: Uint8Array }[]).map((r) => ({
        imageId: r.imageId,
        frame: r.frame,
        mask: decodeRle({ size: [r.height, r.width], counts: countsFromBlob(r.counts) }),
      })),
    );
  }

  /**
   * Store `counts` as a draft at `k` unless an accepted mask is there (then false, nothing
   * written). A draft already there is replaced. Throws ApiError('conflict') when the segment is locked.
   */
  writeDraft(k: MaskKey, m: { height: number; width: number; counts: number[]; area: number; source: 'propagate' | 'interpolate'; prompts: unknown; modelId: string | null; window: { center: number; width: number } | null }): boolean {
    return this.db
      .transaction((): boolean => {
        assertSegmentUnlocked(this.db, k);
        const at = this.who.now();
        const author = this.who.author;
        const existing = this.db
          .prepare('SELECT id, area, draft FROM masks WHERE image_id = ? AND frame = ? AND label_id = ? AND instance = ?')
          .get(k.imageId, k.frame, k.labelId, k.instance) as { id: number; area: number; draft: number } | undefined;
        if (existing && existing.draft === 0) return false;
        const write = { ...m, author, at, draft: true };
        const detail = { frame: k.frame, labelId: k.labelId, instance: k.instance, area: m.area, source: m.source, draft: true };
        if (existing) {
          this.masks.update(existing.id, write);
          this.audit.record({ at, author, action: 'update', entity: 'mask', entityId: existing.id, imageId: k.imageId, detail: { ...detail, areaBefore: existing.area } });
        } else {
          const id = this.masks.insert(k, write);
          this.audit.record({ at, author, action: 'create', entity: 'mask', entityId: id, imageId: k.imageId, detail });
        }
        return true;
      })
      .immediate();
  }

  /** Drafts on these images (every segment, or one), in image then frame order. */
  drafts(imageIds: readonly number[], segment?: { labelId: number; instance: number }): DraftRow[] {
    const stmt = this.db.prepare(
      `SELECT id, image_id AS imageId, frame, label_id AS labelId, instance, area, source, prompts FROM masks
       WHERE image_id = ? AND draft = 1${segment ? ' AND label_id = ? AND instance = ?' : ''} ORDER BY frame, label_id, instance`,
    );
    return imageIds.flatMap((id) =>
      (stmt.all(...(segment ? [id, segment.labelId, segment.instance] : [id])) as (Omit<DraftRow, 'score'> & { prompts: string | null })[]).map(({ prompts, ...r }) => ({ ...r, score: scoreOf(prompts) })),
    );
  }

  /** Make these drafts ordinary masks (as a save would); returns how many were drafts. None when one's segment is locked (ApiError 'conflict'). */
  accept(rows: readonly DraftRow[]): number {
    return this.db
      .transaction((): number => {
        for (const r of rows) assertSegmentUnlocked(this.db, r);
        const at = this.who.now();
        let n = 0;
        const stmt = this.db.prepare('UPDATE masks SET draft = 0, author = ?, updated_at = ? WHERE id = ? AND draft = 1');
        for (const r of rows) {
          if (stmt.run(this.who.author, at, r.id).changes === 0) continue;
          n++;
          this.audit.record({ at, author: this.who.author, action: 'update', entity: 'mask', entityId: r.id, imageId: r.imageId, detail: { frame: r.frame, labelId: r.labelId, instance: r.instance, area: r.area, source: r.source, accepted: true } });
        }
        return n;
      })
      .immediate();
  }

  /** Delete these drafts (never an accepted mask); returns how many went. None when one's segment is locked (ApiError 'conflict'). */
  discard(rows: readonly DraftRow[]): number {
    return this.db
      .transaction((): number => {
        for (const r of rows) assertSegmentUnlocked(this.db, r);
        const at = this.who.now();
        let n = 0;
        const stmt = this.db.prepare('DELETE FROM masks WHERE id = ? AND draft = 1');
        for (const r of rows) {
          if (stmt.run(r.id).changes === 0) continue;
          n++;
          this.audit.record({ at, author: this.who.author, action: 'delete', entity: 'mask', entityId: r.id, imageId: r.imageId, detail: { frame: r.frame, labelId: r.labelId, instance: r.instance, areaBefore: r.area, source: r.source, draft: true } });
        }
        return n;
      })
      .immediate();
  }
}

/** SAM's IoU kept with a propagated draft's prompts; null when there is none. */
function scoreOf(prompts: string | null): number | null {
  if (!prompts) return null;
  try {
    const iou = (JSON.parse(prompts) as { iou?: unknown }).iou;
    return typeof iou === 'number' && Number.isFinite(iou) ? iou : null;
  } catch {
    return null;
  }
}
