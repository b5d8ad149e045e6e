/**
 * Attaching a parsed DICOM Segmentation (seg-import.ts) to the project: each SEG frame goes
 * to the source image and frame it refers to, as the mask of (label, instance) its segment
 * becomes, written through the masks repository with an audit row, all of one SEG in one
 * transaction.
 *
 * - Source frames: by Referenced SOP Instance UID (and frame number) when the SEG frame
 *   names them, else by Plane Position in the same Frame of Reference, matched against the
 *   images of the SEG's study (their headers are read only when a frame needs it).
 * - Labels: by Segment Label, case ignored; a missing one is created with the segment's
 *   recommended colour and, when the label codes list knows its coded concept, that code.
 * - Provenance: 'automatic' when the segment's algorithm type is AUTOMATIC, else 'import';
 *   the SEG's SOP Instance UID and segment number go into the mask's prompts and the audit.
 *   A later edit through masks.save writes its own source, so an edited mask stops being
 *   automatic (the source is always the mask's last write).
 * - AUTOMATIC segments arrive as drafts: a model's output nobody has looked at is reviewed
 *   like propagation's proposals (accepted, edited or discarded in the same panel) and is
 *   never trained on, exported or measured until then. Without this, the node's own output
 *   would come back as labels and validation truth, and the next retrain's "after" Dice would
 *   grade the model against itself. An accepted draft keeps its automatic origin until edited.
 * - Never overwrites a person's work: an existing mask is replaced only when it is an
 *   unaccepted draft and its segment is not locked; any other is kept and counted in the
 *   report. The same mask already there is left alone (an accepted one stays accepted), so
 *   importing a SEG twice changes nothing.
 * - A SEG none of whose sources is in the project writes nothing and says so ("import the
 *   series first"): imported again after its series, it attaches then.
 *
 * Runtime: Node (better-sqlite3, reads source headers from the project's media).
 */
import { readFileSync } from 'node:fs';
import type { ImportFailure, SegmentationImport } from '../../contract/imports.js';
import { decodeRle, encodeRle, rleArea } from '../../contract/rle.js';
import { parseDicomFile } from '../imaging/dicom-file.js';
import { insideProject } from '../project-folder.node.js';
import { lockedSegmentName } from '../segments/segment-lock.js';
import { LabelsRepository } from '../store/labels.repository.js';
import { MasksRepository } from '../store/masks.repository.js';
import type { ImportDeps } from './import.service.js';
import { codeKeyOf, framePositions, type ParsedSeg, type SegFrame, type SegFrameMask, type SegInfo, segmentInstances } from './seg-import.js';

/** Attaching runs inside an import (import.service.ts), with its deps. */
export type SegAttachDeps = ImportDeps;

/** Colours for labels a SEG creates without recommending one (the label list's first two are the project's defaults). */
const FALLBACK_COLORS = ['#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#bfef45', '#469990', '#9a6324'];

/** Two frames lie on the same plane when their positions are this close (mm): well under any slice spacing. */
const POSITION_TOLERANCE_MM = 0.01;

interface ImageRow {
  id: number;
  frames: number;
  width: number;
  height: number;
}

interface Target {
  imageId: number;
  frame: number;
}

/** Where the SEG's frames go, resolved against the project. */
export class SourceFinder {
  private readonly bySop;
  private planes: { imageId: number; frame: number; for: string | null; position: number[] }[] | null = null;

  constructor(
    private readonly d: SegAttachDeps,
    private readonly seg: SegInfo,
  ) {
    this.bySop = d.db.prepare("SELECT id, frames, width, height FROM images WHERE sop_instance_uid = ? AND kind = 'dicom' ORDER BY id LIMIT 1");
  }

  image(id: number): ImageRow {
    return this.d.db.prepare('SELECT id, frames, width, height FROM images WHERE id = ?').get(id) as ImageRow;
  }

  targets(m: SegFrame): Target[] {
    const out: Target[] = [];
    for (const ref of m.refs) {
      const img = this.bySop.get(ref.sopInstanceUid) as ImageRow | undefined;
      if (!img) continue;
      const frame = ref.frame ?? (img.frames === 1 ? 0 : -1);
      if (frame >= 0 && frame < img.frames) out.push({ imageId: img.id, frame });
    }
    if (out.length > 0 || m.refs.length > 0 || !m.position) return out;
    // No reference to a source frame: the plane it lies on, in the SEG's frame of reference.
    return this.byPlane(m.position);
  }

  /**
   * The one source frame on this plane. Two images on it (a pre- and a post-contrast series
   * sharing a frame of reference, when the SEG does not say which series it segments) is
   * ambiguous: nothing is attached rather than perhaps the wrong one.
   */
  private byPlane(position: number[]): Target[] {
    this.planes ??= this.readPlanes();
    const hits = this.planes.filter((p) => p.for === this.seg.frameOfReferenceUid && Math.hypot(p.position[0]! - position[0]!, p.position[1]! - position[1]!, p.position[2]! - position[2]!) < POSITION_TOLERANCE_MM);
    return hits.length === 1 ? [{ imageId: hits[0]!.imageId, frame: hits[0]!.frame }] : [];
  }

  /**
   * The planes of the DICOM images of the SEG's study (of the series it names, when it names
   * them), from their own headers: the database keeps no frame of reference or per-frame positions.
   */
  private readPlanes(): { imageId: number; frame: number; for: string | null; position: number[] }[] {
    if (!this.seg.studyUid || !this.seg.frameOfReferenceUid) return [];
    const named = new Set(this.seg.referencedSeries);
    const rows = (this.d.db.prepare("SELECT id, media_path AS mediaPath, series_uid AS seriesUid FROM images WHERE study_uid = ? AND kind = 'dicom' ORDER BY id").all(this.seg.studyUid) as { id: number; mediaPath: string; seriesUid: string | null }[]).filter(
      (r) => named.size === 0 || (r.seriesUid !== null && named.has(r.seriesUid)),
    );
    return rows.flatMap((r) => {
      const file = insideProject(this.d.projectDir, r.mediaPath);
      if (!file) return [];
      try {
        const p = parseDicomFile(readFileSync(file));
        const forUid = p.dataSet.string('x00200052')?.trim() || null;
        return framePositions(p.dataSet, p.header.frames).flatMap((position, frame) => (position ? [{ imageId: r.id, frame, for: forUid, position }] : []));
      } catch {
        return []; // an image that cannot be read is not a place to attach to
      }
    });
  }
}

/** A mask write of the SEG: where, which label and instance, the pixels and their provenance. */
interface Planned {
  imageId: number;
  frame: number;
  labelId: number;
  instance: number;
  mask: Uint8Array;
  height: number;
  width: number;
  segment: number;
  source: 'automatic' | 'import';
}

/**
 * Check a SEG read but not decoded (readSeg) against the project: its frames must lie on
 * images here of its own size. Returns the failure when none does (nothing is decoded then:
 * a SEG's claimed size costs nothing until its frames are decoded, and a hostile one can
 * claim any), else the finder to attach with (it keeps what it read of the project).
 */
export function checkSegSources(d: SegAttachDeps, file: string, seg: SegInfo): { failed: ImportFailure } | { finder: SourceFinder } {
  const finder = new SourceFinder(d, seg);
  let missing = 0;
  let mismatched = 0;
  for (const f of seg.frameList) {
    const targets = finder.targets(f);
    if (targets.length === 0) missing++;
    for (const t of targets) {
      const img = finder.image(t.imageId);
      if (img.height === seg.rows && img.width === seg.columns) return { finder };
      mismatched++;
    }
  }
  if (mismatched > 0) return { failed: sizeMismatch(file, seg, mismatched, missing) };
  return {
    failed: {
      file,
      code: 'seg_sources_missing',
      reason: 'This segmentation refers to images not in this project: import the series first, then import this file again.',
      detail: `${missing} frame(s) refer to ${describeRefs(seg.frameList, seg)}`,
    },
  };
}

function sizeMismatch(file: string, seg: SegInfo, mismatched: number, missing: number): ImportFailure {
  return {
    file,
    code: 'unsupported_format',
    reason: `This segmentation's frames are ${seg.columns} x ${seg.rows} pixels, a different size from the images they refer to, so they cannot be attached.`,
    detail: `${mismatched} frame(s) of a different size${missing ? `; ${missing} refer to images not in this project` : ''}`,
  };
}

/**
 * Attach `seg` (read from `file`) to the project. Returns the report entry, or a failure
 * when none of its sources is in the project (nothing written then). `finder`: the one
 * checkSegSources returned for this SEG.
 */
export function attachSegmentation(d: SegAttachDeps, file: string, seg: ParsedSeg, finder = new SourceFinder(d, seg)): { ok: SegmentationImport } | { failed: ImportFailure } {
  const instances = segmentInstances(seg.segments);
  const segmentsByNumber = new Map(seg.segments.map((s) => [s.number, s]));
  let missing = 0;
  let mismatched = 0;
  const resolved: { m: SegFrameMask; t: Target }[] = [];
  for (const m of seg.masks) {
    const targets = finder.targets(m);
    if (targets.length === 0) missing++;
    for (const t of targets) {
      const img = finder.image(t.imageId);
      if (img.height !== seg.rows || img.width !== seg.columns) mismatched++;
      else resolved.push({ m, t });
    }
  }
  if (resolved.length === 0 && mismatched > 0) return { failed: sizeMismatch(file, seg, mismatched, missing) };
  if (resolved.length === 0) {
    const none = seg.masks.length === 0;
    return {
      failed: {
        file,
        code: none ? 'unreadable' : 'seg_sources_missing',
        reason: none
          ? 'This segmentation has no segmented pixels: there is nothing to attach.'
          : 'This segmentation refers to images not in this project: import the series first, then import this file again.',
        detail: none ? `${seg.frames} empty frame(s)` : `${missing} frame(s) refer to ${describeRefs(seg.masks, seg)}`,
      },
    };
  }

  const at = d.now();
  const result = d.db
    .transaction(() => {
      const labels = new LabelsRepository(d.db);
      const masks = new MasksRepository(d.db);
      const labelIds = new Map<number, number>();
      const labelNames = new Set<string>();
      const known = labels.list();
      const labelFor = (segmentNumber: number): number => {
        const cached = labelIds.get(segmentNumber);
        if (cached !== undefined) return cached;
        const s = segmentsByNumber.get(segmentNumber)!;
        const name = s.label.slice(0, 200);
        let label = known.find((l) => l.name.trim().toLowerCase() === name.toLowerCase());
        if (!label) {
          const color = s.color ?? FALLBACK_COLORS[known.length % FALLBACK_COLORS.length]!;
          label = labels.insert(name, color, codeKeyOf(s));
          known.push(label);
          d.audit.record({ at, author: d.user, action: 'create', entity: 'label', entityId: label.id, imageId: null, detail: { name, color, code: label.code, from: { seg: seg.sopInstanceUid, segment: s.number } } });
        }
        labelIds.set(segmentNumber, label.id);
        labelNames.add(label.name);
        return label.id;
      };

      // One mask per (image, frame, label, instance): SEG frames that land on the same one are united.
      const planned = new Map<string, Planned>();
      for (const { m, t } of resolved) {
        const labelId = labelFor(m.segment);
        const instance = instances.get(m.segment)!.instance;
        const key = `${t.imageId}/${t.frame}/${labelId}/${instance}`;
        const pixels = decodeRle(m.rle);
        const prev = planned.get(key);
        if (prev) for (let i = 0; i < pixels.length; i++) prev.mask[i] ||= pixels[i]!;
        else {
          const source = segmentsByNumber.get(m.segment)!.algorithmType === 'AUTOMATIC' ? 'automatic' : 'import';
          planned.set(key, { imageId: t.imageId, frame: t.frame, labelId, instance, mask: pixels, height: seg.rows, width: seg.columns, segment: m.segment, source });
        }
      }

      let written = 0;
      let unchanged = 0;
      let kept = 0;
      let locked = 0;
      const imageIds = new Set<number>();
      const sources = new Set<string>();
      const existingOf = new Map<number, ReturnType<MasksRepository['listForImage']>>();
      for (const p of planned.values()) {
        const rle = encodeRle(p.mask, p.height, p.width);
        const area = rleArea(rle);
        const key = { imageId: p.imageId, frame: p.frame, labelId: p.labelId, instance: p.instance };
        if (!existingOf.has(p.imageId)) existingOf.set(p.imageId, masks.listForImage(p.imageId));
        const existing = existingOf.get(p.imageId)!.find((e) => e.frame === p.frame && e.labelId === p.labelId && e.instance === p.instance);
        const draft = p.source === 'automatic';
        // Same pixels: nothing to do, unless an accepted import would replace a draft (an accepted mask stays accepted).
        if (existing && sameCounts(existing.rle.counts, rle.counts) && (!existing.draft || draft)) {
          unchanged++;
          continue;
        }
        if (existing && !existing.draft) {
          kept++;
          continue;
        }
        if (lockedSegmentName(d.db, p.imageId, p.labelId, p.instance) !== null) {
          // A locked segment keeps its pixels, whoever writes (as masks.save refuses).
          kept++;
          locked++;
          continue;
        }
        const prompts = { seg: { sopInstanceUid: seg.sopInstanceUid, segment: p.segment } };
        const write = { height: p.height, width: p.width, counts: rle.counts, area, prompts, source: p.source, window: null, modelId: null, author: d.user, at, draft };
        const detail = { frame: p.frame, labelId: p.labelId, instance: p.instance, area, source: p.source, draft, seg: seg.sopInstanceUid, segment: p.segment, file };
        if (existing) {
          masks.update(existing.id, write);
          d.audit.record({ at, author: d.user, action: 'update', entity: 'mask', entityId: existing.id, imageId: p.imageId, detail: { ...detail, areaBefore: existing.area } });
        } else {
          const id = masks.insert(key, write);
          d.audit.record({ at, author: d.user, action: 'create', entity: 'mask', entityId: id, imageId: p.imageId, detail });
          if (!draft && d.images.status(p.imageId) === 'unlabelled') {
            // As a first mask drawn by hand does: the image is now being worked on (a draft is not work yet).
            d.images.setStatus(p.imageId, 'in_progress');
            d.audit.record({ at, author: d.user, action: 'update', entity: 'image', entityId: p.imageId, imageId: p.imageId, detail: { status: { from: 'unlabelled', to: 'in_progress' }, seg: seg.sopInstanceUid } });
          }
        }
        written++;
        imageIds.add(p.imageId);
        sources.add(p.source);
      }
      return { written, unchanged, kept, locked, imageIds: [...imageIds].sort((a, b) => a - b), labels: [...labelNames].sort(), sources };
    })
    .immediate();

  const { written, unchanged, kept, locked } = result;
  const outcome: SegmentationImport['outcome'] = written > 0 ? 'attached' : kept > 0 ? 'kept' : 'unchanged';
  const source: SegmentationImport['source'] = result.sources.size > 1 ? 'mixed' : result.sources.has('automatic') ? 'automatic' : 'import';
  const parts = [
    written > 0 ? `${written} mask${written === 1 ? '' : 's'} attached to ${result.imageIds.length} image${result.imageIds.length === 1 ? '' : 's'} (${result.labels.join(', ')}${source === 'automatic' ? ', automatic: drafts to review' : source === 'mixed' ? '; the automatic ones are drafts to review' : ''})` : null,
    unchanged > 0 ? `${unchanged} already in the project` : null,
    kept > locked ? `${kept - locked} not attached because a mask drawn, corrected or accepted by hand is there (it was kept)` : null,
    locked > 0 ? `${locked} not attached because the segment is locked` : null,
    missing > 0 ? `${missing} frame${missing === 1 ? '' : 's'} refer to images not in this project (import that series, then this file again)` : null,
    mismatched > 0 ? `${mismatched} frame${mismatched === 1 ? '' : 's'} not attached: a different size from the source image` : null,
  ].filter((x): x is string => x !== null);
  return {
    ok: {
      file,
      sopInstanceUid: seg.sopInstanceUid,
      outcome,
      written,
      unchanged,
      kept,
      missing,
      mismatched,
      source,
      imageIds: result.imageIds,
      labels: result.labels,
      message: `Segmentation: ${parts.join('; ')}.`,
    },
  };
}

function sameCounts(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** What the SEG's frames point at, for the report's detail: a few instance UIDs or the plane. */
function describeRefs(frames: readonly SegFrame[], seg: SegInfo): string {
  const uids = [...new Set(frames.flatMap((m) => m.refs.map((r) => r.sopInstanceUid)))];
  if (uids.length === 0) return `planes of frame of reference ${seg.frameOfReferenceUid ?? '(none)'} in study ${seg.studyUid ?? '(none)'}`;
  return `${uids.length} source instance(s), e.g. ${uids.slice(0, 2).join(', ')}`;
}
