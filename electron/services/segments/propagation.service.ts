/**
 * Carrying a mask through the slices with SAM (a job: progress, cancel), filling between
 * drawn slices, and accepting or discarding the drafts both produce. Runtime: node.
 *
 * Propagation runs its SAM work behind the user (SamService.predictBehind): its embeddings
 * give way to a click's, so annotating the slice on screen never waits for the series.
 */
import { randomBytes } from 'node:crypto';
import { ApiError, type ImageDetail, type PropagationHandlers } from '../../contract/api.js';
import type { DraftSlice, PropagationOutcome } from '../../contract/propagation.js';
import { slicePosition } from '../../contract/geometry.js';
import { encodeRle } from '../../contract/rle.js';
import type { SamService } from '../inference/sam.service.js';
import { JobsRepository } from '../jobs/jobs.repository.js';
import type { ProjectService } from '../project.service.js';
import { ImagesRepository } from '../store/images.repository.js';
import type { Db } from '../store/project-database.js';
import { DraftsRepository, type DraftRow } from './drafts.repository.js';
import { framePlanesOf } from './frame-planes.node.js';
import { propagationSummary, runPropagation } from './propagation-run.js';
import { maskArea } from './propagation-step.js';
import { assertSegmentUnlocked } from './segment-lock.js';
import { seriesStack, type SeriesStack } from './series-stack.js';
import { fillBetween, pixelAspect } from './slice-interpolation.js';

const sliceKey = (s: { imageId: number; frame: number }): string => `${s.imageId}:${s.frame}`;

export class PropagationService implements PropagationHandlers {
  private readonly now = (): string => new Date().toISOString();
  /** Segments being propagated now (series key, label, instance -> job id): one run per segment at a time. */
  private readonly running = new Map<string, string>();

  constructor(
    private readonly project: ProjectService,
    private readonly sam: SamService,
    private readonly opts: { user: string },
  ) {
    // A propagation that was running when the app or its project closed: say so; its drafts are kept.
    project.onSwitch((p) => {
      if (p) new JobsRepository(p.db, this.now).markInterrupted('The propagation stopped when the app or its project closed; the drafts it made are kept. Propagate again to go on.', 'propagate');
    });
  }

  private open(): { db: Db; drafts: DraftsRepository } {
    const p = this.project.openProject();
    if (!p) throw new ApiError('no_project', 'No project is open: create or open one first');
    return { db: p.db, drafts: new DraftsRepository(p.db, { author: this.opts.user, now: this.now }) };
  }

  private stackOf(db: Db, imageId: number): SeriesStack & { imageIds: number[]; indexOf: Map<string, number> } {
    const stack = seriesStack(db, imageId);
    if (!stack) throw new ApiError('not_found', `No image with id ${imageId}`);
    return { ...stack, imageIds: [...new Set(stack.slices.map((s) => s.imageId))], indexOf: new Map(stack.slices.map((s, i) => [sliceKey(s), i])) };
  }

  private detail(imageId: number): ImageDetail {
    return this.project['image.get']({ imageId });
  }

  /** Each frame's position along its normal (mm, or null) for a stack that is one multi-frame DICOM image; null for any other stack. */
  private async framePositions(db: Db, stack: SeriesStack): Promise<(number | null)[] | null> {
    const ids = new Set(stack.slices.map((s) => s.imageId));
    if (ids.size !== 1 || stack.slices.length < 2) return null;
    const d = this.detail([...ids][0]!);
    if (d.kind !== 'dicom') return null;
    const dir = this.project.openProject()!.dir;
    const planes = await framePlanesOf(dir, new ImagesRepository(db), d);
    return stack.slices.map((s) => {
      const p = planes[s.frame];
      return p ? slicePosition(p.position, p.orientation) : null;
    });
  }

  private draftSlices(rows: readonly DraftRow[], indexOf: Map<string, number>): DraftSlice[] {
    return rows
      .flatMap((r) => {
        const index = indexOf.get(sliceKey(r));
        const source: DraftSlice['source'] = r.source === 'interpolate' ? 'interpolate' : r.source === 'automatic' ? 'automatic' : 'propagate';
        return index === undefined ? [] : [{ imageId: r.imageId, frame: r.frame, index, labelId: r.labelId, instance: r.instance, source, area: r.area, score: r.score }];
      })
      .sort((a, b) => a.index - b.index || a.labelId - b.labelId || a.instance - b.instance);
  }

  'segments.propagateStart': PropagationHandlers['segments.propagateStart'] = (p) => {
    const { db, drafts } = this.open();
    const stack = this.stackOf(db, p.imageId);
    const start = stack.indexOf.get(sliceKey(p));
    if (start === undefined) throw new ApiError('bad_request', `Image ${p.imageId} has no frame ${p.frame}`);
    // Checked again with every draft it writes (drafts.repository.ts): a lock set while it runs stops it.
    assertSegmentUnlocked(db, p);
    this.sam.requireModel();
    const seed = drafts.read(p);
    if (!seed || seed.area === 0) throw new ApiError('bad_request', 'There is no mask of this segment on this slice to carry through the series: draw or accept one first');
    if (seed.draft) throw new ApiError('bad_request', 'The mask on this slice is a draft: accept it (or fix it) before carrying it on');
    const runKey = `${stack.key}\n${p.labelId}\n${p.instance}`;
    const already = this.running.get(runKey);
    if (already) throw new ApiError('conflict', `This segment is being propagated already (job ${already}); cancel it or wait for it to end`);
    const d = this.detail(p.imageId);
    const direction = p.direction ?? 'both';
    const jobs = new JobsRepository(db, this.now);
    const jobId = `propagate-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    jobs.createPropagate({ id: jobId, author: this.opts.user, settings: { imageId: p.imageId, frame: p.frame, labelId: p.labelId, instance: p.instance, minIoU: p.minIoU, minAreaRatio: p.minAreaRatio, direction } });
    const controller = this.project.registerJob(jobId, 'Stopping after the current slice; the drafts made so far are kept');
    this.running.set(runKey, jobId);
    const write = (f: Parameters<JobsRepository['update']>[1]): void => {
      if (db.open) jobs.update(jobId, f); // a project closed under the job reads as interrupted when reopened
    };
    const segment = { labelId: p.labelId, instance: p.instance };
    const t0 = performance.now();
    let modelId: string | null = null;
    const run = runPropagation(
      { slices: stack.slices, start, seed: seed.mask, width: d.width, height: d.height, minIoU: p.minIoU, minAreaRatio: p.minAreaRatio, direction },
      {
        read: (s) => drafts.read({ ...s, ...segment }),
        predict: async (s, prompt, signal) => {
          const r = await this.sam.predictBehind({ ...s, window: p.window }, prompt, signal);
          modelId = r.modelId;
          return r;
        },
        writeDraft: (s, mask, meta) =>
          drafts.writeDraft(
            { ...s, ...segment },
            {
              height: d.height,
              width: d.width,
              counts: encodeRle(mask, d.height, d.width).counts,
              area: meta.area,
              source: 'propagate',
              prompts: { points: meta.prompt.points, box: meta.prompt.box, model: modelId, iou: meta.iou, from: meta.from },
              modelId,
              window: p.window,
            },
          ),
        progress: (done, total, detail) => {
          const perSlice = done > 0 ? (performance.now() - t0) / 1000 / done : null;
          write({ stage: 'propagating', detail, progress: { step: done, steps: total, epoch: null, epochs: null, etaS: perSlice === null ? null : perSlice * Math.max(0, total - done) } });
        },
      },
      controller.signal,
    );
    void run
      .then((o: PropagationOutcome) => {
        const cancelled = o.ends.some((e) => e.reason === 'cancelled');
        write({ state: cancelled ? 'cancelled' : 'succeeded', stage: 'done', detail: propagationSummary(o), propagated: o, error: null });
      })
      .catch((e: unknown) => {
        const err = e instanceof ApiError ? e : new ApiError('internal', e instanceof Error ? e.message : String(e));
        write({ state: 'failed', stage: 'done', detail: err.message, error: { code: err.code, message: err.message, ...(err.file ? { file: err.file } : {}) } });
      })
      .finally(() => {
        this.running.delete(runKey);
        this.project.endJob(jobId);
      });
    return { jobId };
  };

  'segments.interpolate': PropagationHandlers['segments.interpolate'] = async ({ imageId, labelId, instance }) => {
    const { db, drafts } = this.open();
    const stack = this.stackOf(db, imageId);
    // A multi-frame image's frames by their own positions, read from its file: the one await,
    // after which the project must still be the one the stack was read from.
    const frameAt = await this.framePositions(db, stack);
    if (this.project.openProject()?.db !== db) throw new ApiError('conflict', 'The project changed while its frame positions were read; fill between slices again');
    assertSegmentUnlocked(db, { imageId, labelId, instance });
    const keys = drafts
      .accepted(stack.imageIds, labelId, instance)
      .flatMap((k) => {
        const index = stack.indexOf.get(sliceKey(k));
        return index === undefined ? [] : [{ ...k, index }];
      })
      .sort((a, b) => a.index - b.index);
    if (keys.length < 2) {
      throw new ApiError('bad_request', `Fill between slices needs this segment drawn and accepted on at least two slices of the series; it is on ${keys.length}`);
    }
    const details = new Map(stack.imageIds.map((id) => [id, this.detail(id)]));
    const { width, height, pixelSpacing } = details.get(keys[0]!.imageId)!;
    // Positions along the stack (mm): each image's, or each frame's; NaN where a slice has none,
    // so fillBetween falls back to indices for that gap instead of mixing mm and indices.
    const ownImages = stack.imageIds.length === stack.slices.length;
    const positionOf = (i: number): number => (ownImages ? (details.get(stack.slices[i]!.imageId)!.slicePosition ?? Number.NaN) : (frameAt?.[i] ?? Number.NaN));
    // Distances in mm, not pixels: on non-square pixels a shape would otherwise grow faster along one axis.
    const filled = fillBetween(keys.map((k) => ({ index: k.index, position: positionOf(k.index), mask: k.mask })), positionOf, width, height, pixelAspect(pixelSpacing));
    const segment = { labelId, instance };
    const written = new Set<string>();
    const neighbours = (i: number) => {
      const before = [...keys].reverse().find((k) => k.index < i)!;
      const after = keys.find((k) => k.index > i)!;
      return [before, after].map((k) => ({ imageId: k.imageId, frame: k.frame }));
    };
    for (const f of filled) {
      const area = maskArea(f.mask);
      if (area === 0) continue; // the shapes do not meet here: nothing to propose
      const s = stack.slices[f.index]!;
      const ok = drafts.writeDraft(
        { ...s, ...segment },
        { height, width, counts: encodeRle(f.mask, height, width).counts, area, source: 'interpolate', prompts: { between: neighbours(f.index) }, modelId: null, window: null },
      );
      if (ok) written.add(sliceKey(s));
    }
    const rows = drafts.drafts(stack.imageIds, segment).filter((r) => written.has(sliceKey(r)));
    return { drafted: this.draftSlices(rows, stack.indexOf) };
  };

  'segments.drafts': PropagationHandlers['segments.drafts'] = ({ imageId }) => {
    const { db, drafts } = this.open();
    const stack = this.stackOf(db, imageId);
    return this.draftSlices(drafts.drafts(stack.imageIds), stack.indexOf);
  };

  private selected(p: { imageId: number; labelId: number; instance: number; slice?: { imageId: number; frame: number } | undefined }): { drafts: DraftsRepository; rows: DraftRow[] } {
    const { db, drafts } = this.open();
    const stack = this.stackOf(db, p.imageId);
    if (p.slice && !stack.indexOf.has(sliceKey(p.slice))) throw new ApiError('bad_request', `Image ${p.slice.imageId} frame ${p.slice.frame} is not in the series of image ${p.imageId}`);
    // Accept and discard alike (and again in their transactions): a locked segment's masks stay as they are.
    assertSegmentUnlocked(db, p);
    const rows = drafts.drafts(stack.imageIds, { labelId: p.labelId, instance: p.instance }).filter((r) => !p.slice || sliceKey(r) === sliceKey(p.slice));
    return { drafts, rows };
  }

  'segments.acceptDrafts': PropagationHandlers['segments.acceptDrafts'] = (p) => {
    const { drafts, rows } = this.selected(p);
    const accepted = drafts.accept(rows);
    // As a save does: an image that gets its first accepted mask is in progress.
    for (const id of new Set(rows.map((r) => r.imageId))) {
      if (this.detail(id).status === 'unlabelled') this.project['images.setStatus']({ imageId: id, status: 'in_progress' });
    }
    return { accepted };
  };

  'segments.discardDrafts': PropagationHandlers['segments.discardDrafts'] = (p) => {
    const { drafts, rows } = this.selected(p);
    return { discarded: drafts.discard(rows) };
  };
}
