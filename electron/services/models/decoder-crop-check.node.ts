/**
 * A trial decode at import: does the decoder's own upsampling follow the image size it is
 * given? Runtime: node (onnxruntime-node).
 *
 * segment-anything 1.0's SamOnnxModel crops the padded mask with `masks[..., :int(h), :int(w)]`;
 * exported by torch 2.x's TorchScript exporter those int() calls become constants of the
 * example input, so the decoder installs, answers every click, and gives masks stretched from
 * the wrong region for every other image shape. Names and shapes cannot show that. A decode
 * can: for two image sizes of different shapes, the `masks` output must have those sizes and
 * equal the decoder's own `low_res_masks` upsampled the way SAM defines it (mask-upsample.ts).
 */
import * as ort from 'onnxruntime-node';
import { upsampleMaskLogits } from '../inference/mask-upsample.js';
import { promptTensors } from '../inference/sam-preprocess.js';

/** Image sizes (h, w) tried: one landscape, one portrait, neither the usual export examples' shape. */
const TRIAL_SIZES: [number, number][] = [
  [61, 128],
  [150, 97],
];

/** A fixed pseudo-random embedding (the check needs structure in the logits, not a real image). */
function trialEmbedding(n: number): Float32Array {
  const out = new Float32Array(n);
  let s = 0x2545f491;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 0xffffffff - 0.5) * 2;
  }
  return out;
}

/**
 * Problems found by decoding at two image sizes; empty when the decoder's crop and resize are
 * right. `imageSize` is the encoder's input side S. Dimensions the file leaves symbolic are
 * not checked (nothing to build the trial from).
 */
export async function decoderCropProblems(file: string, label: string, imageSize: number): Promise<string[]> {
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, graphOptimizationLevel: 'basic' });
  try {
    const meta = session.inputMetadata.find((m) => m.name === 'image_embeddings');
    const dims = meta?.isTensor ? meta.shape : [];
    if (dims.length !== 4 || dims.slice(1).some((d) => typeof d !== 'number')) return [];
    const [c, g] = [dims[1] as number, dims[2] as number];
    const low = 4 * g;
    const embedding = new ort.Tensor('float32', trialEmbedding(c * g * (dims[3] as number)), [1, c, g, dims[3] as number]);
    const problems: string[] = [];
    for (const [h, w] of TRIAL_SIZES) {
      const p = promptTensors([{ x: w * 0.4, y: h * 0.55, label: 1 }], null, h, w, imageSize);
      const out = await session.run({
        image_embeddings: embedding,
        point_coords: new ort.Tensor('float32', p.coords, [1, p.count, 2]),
        point_labels: new ort.Tensor('float32', p.labels, [1, p.count]),
        mask_input: new ort.Tensor('float32', new Float32Array(low * low), [1, 1, low, low]),
        has_mask_input: new ort.Tensor('float32', Float32Array.of(0), [1]),
        orig_im_size: new ort.Tensor('float32', Float32Array.of(h, w), [2]),
      });
      const masks = out.masks!;
      const lowRes = out.low_res_masks!;
      const [, k, mh, mw] = masks.dims;
      if (mh !== h || mw !== w) {
        problems.push(`${label}: for an image of ${h}x${w} the decoder returns masks of ${mh}x${mw}; its output size is fixed, so masks would not fit the image`);
        break;
      }
      const lowData = lowRes.data as Float32Array;
      const data = masks.data as Float32Array;
      let worst = 0;
      let scale = 1e-6;
      for (let t = 0; t < k!; t++) {
        const expected = upsampleMaskLogits(lowData.subarray(t * low * low, (t + 1) * low * low), low, imageSize, h, w);
        for (let i = 0; i < expected.length; i++) {
          scale = Math.max(scale, Math.abs(expected[i]!));
          worst = Math.max(worst, Math.abs(expected[i]! - data[t * h * w + i]!));
        }
      }
      if (worst > 1e-3 * scale + 1e-4) {
        problems.push(
          `${label}: its masks for a ${h}x${w} image are not its own low-resolution masks upsampled to that image (largest difference ${worst.toPrecision(3)} of ${scale.toPrecision(3)}): the crop inside the decoder is frozen to the image size it was exported with (segment-anything 1.0's export under torch 2.x does this). Re-export the decoder with Delineate (import the .pth checkpoint) or with an exporter that keeps orig_im_size dynamic.`,
        );
        break;
      }
      for (const v of Object.values(out)) v.dispose();
    }
    return problems;
  } finally {
    await session.release();
  }
}
