/**
 * Check ONNX files against what the app runs: an encoder `[1, 3, S, S] -> embeddings` and the
 * canonical SAM decoder (the signature of segment-anything's scripts/export_onnx_model.py).
 * Runtime: node (opens the files with onnxruntime-node, which also catches truncated files).
 */
import * as ort from 'onnxruntime-node';

export const DECODER_INPUTS = ['image_embeddings', 'point_coords', 'point_labels', 'mask_input', 'has_mask_input', 'orig_im_size'] as const;
export const DECODER_OUTPUTS = ['masks', 'iou_predictions', 'low_res_masks'] as const;
const DECODER_RANKS: Record<string, number> = { image_embeddings: 4, point_coords: 3, point_labels: 2, mask_input: 4, has_mask_input: 1, orig_im_size: 1 };

export interface TensorInfo {
  name: string;
  dtype: string;
  shape: (number | string)[];
}

export interface OnnxIo {
  inputs: TensorInfo[];
  outputs: TensorInfo[];
}

function info(m: ort.InferenceSession.ValueMetadata): TensorInfo {
  return m.isTensor ? { name: m.name, dtype: m.type, shape: [...m.shape] } : { name: m.name, dtype: 'non-tensor', shape: [] };
}

/** Open `file` (label: how to name it in messages); throws a message naming the file. */
export async function readOnnxIo(file: string, label: string): Promise<OnnxIo> {
  let s: ort.InferenceSession;
  try {
    s = await ort.InferenceSession.create(file, { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 });
  } catch (e) {
    const why = (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 300);
    throw new Error(`${label}: not a readable ONNX model (truncated or not ONNX?): ${why}`);
  }
  const io = { inputs: s.inputMetadata.map(info), outputs: s.outputMetadata.map(info) };
  await s.release();
  return io;
}

/** Problems with an encoder; `imageSize` when the bundle states one. Returns the input side S. */
export function encoderProblems(io: OnnxIo, label: string, imageSize?: number): { problems: string[]; size: number | null } {
  const problems: string[] = [];
  if (io.inputs.length !== 1) {
    problems.push(`${label}: an encoder has one input (the 1x3xSxS image); this file has ${io.inputs.length}: ${io.inputs.map((i) => i.name).join(', ')}${io.inputs.some((i) => i.name === 'image_embeddings') ? ' (is this the decoder?)' : ''}`);
    return { problems, size: null };
  }
  const x = io.inputs[0]!;
  const [n, c, h, w] = x.shape;
  if (x.shape.length !== 4 || c !== 3 || typeof h !== 'number' || h !== w || (typeof n === 'number' && n !== 1)) {
    problems.push(`${label}: encoder input '${x.name}' has shape [${x.shape.join(', ')}]; expected [1, 3, S, S] (preprocessed RGB, square)`);
  } else if (imageSize !== undefined && h !== imageSize) {
    problems.push(`${label}: encoder input side ${h} does not match model.json preprocessing.image_size ${imageSize}`);
  }
  if (x.dtype !== 'float32') problems.push(`${label}: encoder input '${x.name}' is ${x.dtype}, expected float32`);
  const out = io.outputs[0];
  if (!out || out.shape.length !== 4) problems.push(`${label}: encoder output should be 1xCxGxG image embeddings, got ${out ? `[${out.shape.join(', ')}]` : 'none'}`);
  return { problems, size: typeof h === 'number' ? h : null };
}

export function decoderProblems(io: OnnxIo, label: string): string[] {
  const problems: string[] = [];
  const names = io.inputs.map((i) => i.name);
  const missing = DECODER_INPUTS.filter((n) => !names.includes(n));
  const extra = names.filter((n) => !(DECODER_INPUTS as readonly string[]).includes(n));
  if (missing.length) problems.push(`${label}: missing decoder inputs ${missing.join(', ')} (has ${names.join(', ') || 'none'}); expected the canonical SAM decoder signature`);
  if (extra.length) problems.push(`${label}: unexpected decoder inputs ${extra.join(', ')}`);
  for (const i of io.inputs) {
    const rank = DECODER_RANKS[i.name];
    if (rank !== undefined && i.shape.length !== rank) problems.push(`${label}: input ${i.name} has rank ${i.shape.length}, expected ${rank}`);
  }
  const outs = io.outputs.map((o) => o.name);
  const missingOut = DECODER_OUTPUTS.filter((n) => !outs.includes(n));
  if (missingOut.length) problems.push(`${label}: missing decoder outputs ${missingOut.join(', ')} (has ${outs.join(', ')})`);
  return problems;
}

/** decoder.fast.onnx of a runtime bundle: the canonical inputs minus orig_im_size, low-res outputs only. */
export function fastDecoderProblems(io: OnnxIo, label: string): string[] {
  const names = io.inputs.map((i) => i.name).sort();
  const expected = DECODER_INPUTS.filter((n) => n !== 'orig_im_size').sort();
  const outs = io.outputs.map((o) => o.name).sort();
  const problems: string[] = [];
  if (names.join() !== expected.join()) problems.push(`${label}: fast decoder inputs are ${names.join(', ')}; expected ${expected.join(', ')}`);
  if (outs.join() !== 'iou_predictions,low_res_masks') problems.push(`${label}: fast decoder outputs are ${outs.join(', ')}; expected iou_predictions, low_res_masks`);
  return problems.length ? problems : decoderOutputProblems(io, label);
}

const num = (v: number | string | undefined): number | null => (typeof v === 'number' && v > 0 ? v : null);
const shapeText = (s: (number | string)[]) => `[${s.join(', ')}]`;

/**
 * Problems with the decoder's output shapes: `masks` [B, K, H, W], `iou_predictions` [B, K],
 * `low_res_masks` [B, K, 4G, 4G] with the same K, and 4G the side of its `mask_input`. Names
 * alone are not enough: a decoder exported with extra metrics carries `low_res_masks` as
 * [B, 4], and then every refinement click fails.
 */
export function decoderOutputProblems(io: OnnxIo, label: string): string[] {
  const out = new Map(io.outputs.map((o) => [o.name, o.shape]));
  const problems: string[] = [];
  const masks = out.get('masks');
  const ious = out.get('iou_predictions');
  const low = out.get('low_res_masks');
  if (masks && masks.length !== 4) problems.push(`${label}: output masks has shape ${shapeText(masks)}; expected [B, K, H, W]`);
  if (ious && ious.length !== 2) problems.push(`${label}: output iou_predictions has shape ${shapeText(ious)}; expected [B, K]`);
  if (low && low.length !== 4) problems.push(`${label}: output low_res_masks has shape ${shapeText(low)}; expected [B, K, 4G, 4G] (the low-resolution logits a refinement click sends back)`);
  if (problems.length) return problems;
  const k = [masks?.[1], ious?.[1], low?.[1]].map(num).filter((v): v is number => v !== null);
  if (new Set(k).size > 1) problems.push(`${label}: masks, iou_predictions and low_res_masks disagree on the number of candidates (${k.join(' vs ')})`);
  const maskInput = io.inputs.find((i) => i.name === 'mask_input')?.shape;
  const side = num(maskInput?.[2]);
  if (low && side !== null && num(low[2]) !== null && num(low[2]) !== side) {
    problems.push(`${label}: low_res_masks is ${low[2]}x${low[3]} but mask_input takes ${side}x${side}: a refinement click could not send it back`);
  }
  return problems;
}

/**
 * Whether an encoder and a decoder fit each other: the encoder's embeddings [1, C, G, G] must
 * be what the decoder's `image_embeddings` takes, or the first click fails inside
 * onnxruntime. Dimensions that a file leaves symbolic are not compared.
 */
export function pairProblems(enc: OnnxIo, dec: OnnxIo, encLabel: string, decLabel: string): string[] {
  const made = enc.outputs[0]?.shape ?? [];
  const taken = dec.inputs.find((i) => i.name === 'image_embeddings')?.shape ?? [];
  if (made.length !== 4 || taken.length !== 4) return [];
  for (let d = 1; d < 4; d++) {
    const a = num(made[d]);
    const b = num(taken[d]);
    if (a !== null && b !== null && a !== b) {
      return [
        `${encLabel} and ${decLabel} are not a pair: the encoder makes embeddings of shape ${shapeText(made)}, the decoder takes ${shapeText(taken)}. Import the encoder and decoder exported from the same model.`,
      ];
    }
  }
  return [];
}
