/**
 * One image in, one mask out, with no project around it: a decoded frame is rendered through
 * the window policy (sam-window.ts, contract/windowing.ts), embedded and decoded by a
 * SamEngine (onnxruntime-node, sam-preprocess.ts), exactly the steps the app's SAM service
 * takes for a slice on screen. The headless DICOM node calls this; so can any tool that has
 * pixels and a model but no project. Runtime: node (the engine is), otherwise pure.
 */
import type { PixelFrame } from '../../contract/api.js';
import type { Box, Point } from './sam-preprocess.js';
import type { DecodeRequest, DecodeResult, EmbedResult, ModelFiles } from './sam-engine.node.js';
import { renderForSam, samplesOf, samWindowFor, type DisplayWindow, type RgbImage } from './sam-window.js';

/** What a prompt-free or prompted segmentation needs from the engine (SamEngine, or a test double of its shape). */
export interface SegmentEngine {
  embed(files: ModelFiles, image: RgbImage): Promise<EmbedResult>;
  decode(files: ModelFiles, embedding: { data: Float32Array; dims: number[] }, req: DecodeRequest): Promise<DecodeResult>;
}

/** No prompt (automatic), or the user's points and box. */
export type SegmentPrompt = { kind: 'none' } | { kind: 'prompt'; points: Point[]; box: Box | null };

export interface SegmentResult {
  /** Row-major binary mask (1 inside) at the image's size. */
  mask: Uint8Array;
  /** The decoder's predicted IoU of that mask. */
  iou: number;
  /** Mask pixels: 0 means the model found nothing. */
  area: number;
}

/**
 * A decoded frame as SAM sees it: through the viewer's window if given, else the first window
 * stored in the file, else the frame's range (8-bit photos as stored), as the app renders it.
 */
export function frameForSam(px: PixelFrame, storedWindows: readonly DisplayWindow[], viewer: DisplayWindow | null = null): RgbImage {
  const window = samWindowFor(px, storedWindows, viewer);
  return renderForSam({ ...px, samples: samplesOf(px.dtype, px.data) }, window);
}

/**
 * Segment one rendered image. 'none' decodes with no prompt token at all, the runtime's
 * Prompt("none") that fine-tuning trains (see DecodeRequest.promptFree), and keeps the best
 * of the multimask candidates by predicted IoU, as the runtime's evaluation does.
 */
export async function segmentImage(engine: SegmentEngine, files: ModelFiles, image: RgbImage, prompt: SegmentPrompt): Promise<SegmentResult> {
  const { provider: _, ...embedding } = await engine.embed(files, image);
  const r = await engine.decode(files, embedding, {
    points: prompt.kind === 'none' ? [] : prompt.points,
    box: prompt.kind === 'none' ? null : prompt.box,
    maskInput: null,
    multimask: prompt.kind === 'none' || (prompt.points.length <= 1 && !prompt.box),
    promptFree: prompt.kind === 'none',
    origHeight: image.height,
    origWidth: image.width,
  });
  const best = r.ious.reduce((a, v, i) => (v > r.ious[a]! ? i : a), 0);
  const mask = r.masks[best]!;
  let area = 0;
  for (let i = 0; i < mask.length; i++) area += mask[i]!;
  return { mask, iou: r.ious[best]!, area };
}
