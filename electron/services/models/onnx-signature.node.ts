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
