/**
 * The segment list: every lesion or defect (label + instance) of a series with how it is
 * shown (name, colour, hidden, locked), deleted and restored as a whole. Runtime: node.
 *
 * A deletion keeps what it removed (every mask row in full, and the settings row) in the
 * detail of its audit row; the audit row's id is the token segments.restore takes. So an
 * undo puts back the same bytes, ids and timestamps (an export that listed those masks still
 * matches them), and it survives closing the project.
 */
import { ApiError, type ParsedParams, type Result, type SegmentsHandlers } from '../../contract/api.js';
import type { Segment } from '../../contract/segments.js';
import type { ProjectService } from '../project.service.js';
import { AuditRepository } from '../store/audit.repository.js';
import { LabelsRepository } from '../store/labels.repository.js';
import type { Db } from '../store/project-database.js';
import { summariseSegment, summariseSegments, type SegmentSettings } from './segment-summary.js';
import { SegmentsRepository, type StoredMask } from './segments.repository.js';
import { seriesStack, type SeriesStack } from './series-stack.js';

type Sync<M extends keyof SegmentsHandlers> = (params: ParsedParams<M>) => Result<M>;

/** What a deletion's audit row keeps, enough to restore it exactly. */
interface Deletion {
  seriesKey: string;
  labelId: number;
  instance: number;
  name: string;
  settings: (SegmentSettings & { id: number }) | null;
  masks: StoredMask[];
}

interface Ctx {
  db: Db;
  repo: SegmentsRepository;
  labels: LabelsRepository;
  audit: AuditRepository;
}

export class SegmentsService implements SegmentsHandlers {
  constructor(
    private readonly project: ProjectService,
    private readonly opts: { user: string; now?: () => string },
  ) {}

  private ctx(): Ctx {
    const p = this.project.openProject();
    if (!p) throw new ApiError('no_project', 'No project is open: create or open one first');
    return { db: p.db, repo: new SegmentsRepository(p.db), labels: new LabelsRepository(p.db), audit: new AuditRepository(p.db) };
  }

  private now(): string {
    return this.opts.now?.() ?? new Date().toISOString();
  }

  private stackOf(db: Db, imageId: number): SeriesStack {
    const stack = seriesStack(db, imageId);
    if (!stack) throw new ApiError('not_found', `No image with id ${imageId}`);
    return stack;
  }

  private label(c: Ctx, labelId: number): { id: number; name: string; color: string } {
    const l = c.labels.get(labelId);
    if (!l) throw new ApiError('not_found', `No label with id ${labelId}`);
    return l;
  }

  /** The list entry of one segment as it stands now. */
  private one(c: Ctx, stack: SeriesStack, labelId: number, instance: number): Segment {
    const imageIds = imageIdsOf(stack);
    const rows = c.repo.maskRowsOn(imageIds, { labelId, instance });
    return summariseSegment(this.label(c, labelId), instance, rows, c.repo.settings(stack.key, labelId, instance), orderOf(stack));
  }

  'segments.list': Sync<'segments.list'> = ({ imageId }) => {
    const c = this.ctx();
    const stack = this.stackOf(c.db, imageId);
    const rows = c.repo.maskRowsOn(imageIdsOf(stack));
    const segments = summariseSegments(c.labels.list(), rows, c.repo.settingsOf(stack.key), orderOf(stack));
    return { seriesKey: stack.key, sliceCount: stack.slices.length, segments };
  };

  'segments.update': Sync<'segments.update'> = ({ imageId, labelId, instance, name, color, hidden, locked }) => {
    const c = this.ctx();
    return c.db
      .transaction(() => {
        const stack = this.stackOf(c.db, imageId);
        this.label(c, labelId);
        const before = c.repo.settings(stack.key, labelId, instance);
        const after: SegmentSettings = {
          labelId,
          instance,
          name: name === undefined ? (before?.name ?? null) : name,
          color: color === undefined ? (before?.color ?? null) : color === null ? null : color.toLowerCase(),
          hidden: hidden ?? before?.hidden ?? false,
          locked: locked ?? before?.locked ?? false,
        };
        const id = c.repo.upsertSettings(stack.key, after, this.now());
        c.audit.record({
          at: this.now(), author: this.opts.user, action: before ? 'update' : 'create', entity: 'segment', entityId: id, imageId,
          detail: { seriesKey: stack.key, ...(before ? { from: before } : {}), to: after },
        });
        return this.one(c, stack, labelId, instance);
      })
      .immediate();
  };

  'segments.delete': Sync<'segments.delete'> = ({ imageId, labelId, instance }) => {
    const c = this.ctx();
    return c.db
      .transaction(() => {
        const stack = this.stackOf(c.db, imageId);
        const shown = this.one(c, stack, labelId, instance);
        if (shown.locked) throw new ApiError('conflict', `"${shown.name}" is locked: unlock it in the segment list before deleting it.`);
        const settings = c.repo.settings(stack.key, labelId, instance) ?? null;
        const masks = c.repo.storedMasks(imageIdsOf(stack), labelId, instance);
        if (masks.length === 0 && !settings) throw new ApiError('not_found', `There is no "${shown.name}" in this series to delete.`);
        const at = this.now();
        const author = this.opts.user;
        for (const m of masks) {
          c.repo.deleteMask(m.id);
          c.audit.record({
            at, author, action: 'delete', entity: 'mask', entityId: m.id, imageId: m.imageId,
            detail: { frame: m.frame, labelId, instance, areaBefore: m.area, draft: m.draft === 1, via: 'segments.delete' },
          });
        }
        if (settings) c.repo.deleteSettings(settings.id);
        const kept: Deletion = { seriesKey: stack.key, labelId, instance, name: shown.name, settings, masks };
        c.audit.record({ at, author, action: 'delete', entity: 'segment', entityId: settings?.id ?? 0, imageId, detail: kept });
        return { token: c.repo.lastAuditId(), masks: masks.length };
      })
      .immediate();
  };

  'segments.restore': Sync<'segments.restore'> = ({ token }) => {
    const c = this.ctx();
    return c.db
      .transaction(() => {
        const rec = c.repo.deletionRecord(token);
        if (!rec) throw new ApiError('not_found', `No deleted segment to restore under token ${token}.`);
        const d = JSON.parse(rec.detail) as Deletion;
        if (c.repo.wasRestored(token)) throw new ApiError('conflict', `"${d.name}" was restored already.`);
        this.label(c, d.labelId);
        const imageIds = [...new Set(d.masks.map((m) => m.imageId))];
        if (c.repo.imagesExist(imageIds).length !== imageIds.length) {
          throw new ApiError('not_found', `"${d.name}" cannot be restored: some of its images are no longer in the project.`);
        }
        const anchor = d.masks[0]?.imageId ?? rec.imageId;
        const stack = anchor === null ? undefined : seriesStack(c.db, anchor);
        if (!stack || stack.key !== d.seriesKey) throw new ApiError('not_found', `"${d.name}" cannot be restored: its series is no longer in the project.`);
        if (c.repo.hasMasks(imageIdsOf(stack), d.labelId, d.instance) || c.repo.settings(stack.key, d.labelId, d.instance)) {
          throw new ApiError('conflict', `"${d.name}" cannot be restored: its label and number were used again since it was deleted.`);
        }
        const at = this.now();
        const author = this.opts.user;
        for (const m of d.masks) {
          const id = c.repo.restoreMask(m);
          c.audit.record({
            at, author, action: 'create', entity: 'mask', entityId: id, imageId: m.imageId,
            detail: { frame: m.frame, labelId: m.labelId, instance: m.instance, area: m.area, source: m.source, draft: m.draft === 1, restoredFrom: token },
          });
        }
        if (d.settings) c.repo.restoreSettings(stack.key, d.settings, at);
        c.audit.record({
          at, author, action: 'create', entity: 'segment', entityId: d.settings?.id ?? 0, imageId: anchor,
          detail: { seriesKey: d.seriesKey, labelId: d.labelId, instance: d.instance, masks: d.masks.length, restoredFrom: token },
        });
        return this.one(c, stack, d.labelId, d.instance);
      })
      .immediate();
  };
}

function imageIdsOf(stack: SeriesStack): number[] {
  return [...new Set(stack.slices.map((s) => s.imageId))];
}

function orderOf(stack: SeriesStack): Map<string, number> {
  return new Map(stack.slices.map((s, i) => [`${s.imageId}:${s.frame}`, i]));
}
