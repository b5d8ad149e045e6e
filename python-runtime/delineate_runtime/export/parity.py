"""Parity figures recorded in model.json.

* ONNX fp32 vs PyTorch: max abs difference of the image embeddings, and of the mask
  logits (decoder alone on PyTorch's embedding; and end to end, ONNX encoder -> ONNX
  decoder). The PyTorch side is the upstream modules used the way `SamPredictor` uses them
  (PromptEncoder pads the points itself), not our export wrapper, so a wrapper bug shows.
* int8 vs fp32: IoU of the thresholded masks (logit > 0), int8 pipeline vs fp32 ONNX.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from segment_anything.modeling import Sam

from .onnx_sam import OnnxSam, decode_clicks, decoder_feed, make_session
from .preprocess import preprocess_image, scale_points


def sample_clicks(
    h: int, w: int, n_sets: int, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Deterministic click sets of 1..3 points (mostly positive) in original pixels."""
    rng = np.random.default_rng(seed)
    sets = []
    for i in range(n_sets):
        n = 1 + i % 3
        pts = np.stack([rng.uniform(0, w - 1, n), rng.uniform(0, h - 1, n)], axis=1).astype(
            np.float32
        )
        labels = np.ones(n, np.float32)
        if n > 1:
            labels[-1] = 0.0
        sets.append((pts, labels))
    return sets


@torch.no_grad()
def torch_reference(sam: Sam, image: np.ndarray, clicks: Sequence[tuple[np.ndarray, np.ndarray]]):
    """Embedding and all-token mask logits at original size, from the upstream modules."""
    size = sam.image_encoder.img_size
    mean = tuple(sam.pixel_mean.flatten().tolist())
    std = tuple(sam.pixel_std.flatten().tolist())
    x, input_hw = preprocess_image(image, size, mean, std)
    emb = sam.image_encoder(torch.from_numpy(x))
    orig_hw = image.shape[:2]
    out = []
    for pts, labels in clicks:
        coords = torch.from_numpy(scale_points(pts[None], orig_hw, size))
        sparse, dense = sam.prompt_encoder(
            points=(coords, torch.from_numpy(labels[None])), boxes=None, masks=None
        )
        low, iou = sam.mask_decoder.predict_masks(
            emb, sam.prompt_encoder.get_dense_pe(), sparse, dense
        )
        masks = sam.postprocess_masks(low, input_hw, orig_hw)
        out.append((masks.numpy(), iou.numpy()))
    return emb.numpy(), out


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0, b > 0
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def onnx_embeddings(sam: Sam, encoder: Path, images: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The ONNX encoder's embeddings of ``images``, preprocessed as ``sam`` expects."""
    size = sam.image_encoder.img_size
    mean = tuple(sam.pixel_mean.flatten().tolist())
    std = tuple(sam.pixel_std.flatten().tolist())
    session = make_session(encoder)
    return [session.run(None, {"image": preprocess_image(im, size, mean, std)[0]})[0] for im in images]


def fp32_parity(
    sam: Sam,
    encoder: Path,
    decoder: Path,
    images: Sequence[np.ndarray],
    clicks_per_image: int = 3,
    embeddings: Sequence[np.ndarray] | None = None,
) -> dict:
    """``embeddings``: the ONNX encoder's, when the caller has computed them already."""
    size = sam.image_encoder.img_size
    onnx_emb = list(embeddings) if embeddings is not None else onnx_embeddings(sam, encoder, images)
    decoder_session = make_session(decoder)
    enc_diff = dec_diff = e2e_diff = iou_diff = 0.0
    for k, image in enumerate(images):
        clicks = sample_clicks(image.shape[0], image.shape[1], clicks_per_image, seed=k)
        emb_t, ref = torch_reference(sam, image, clicks)
        emb_o = onnx_emb[k]
        enc_diff = max(enc_diff, float(np.abs(emb_o - emb_t).max()))
        for (pts, labels), (masks_t, iou_t) in zip(clicks, ref, strict=True):
            masks_d, _ = decode_clicks(decoder_session, emb_t, pts, labels, image.shape[:2], size)
            masks_e, iou_e = decode_clicks(decoder_session, emb_o, pts, labels, image.shape[:2], size)
            dec_diff = max(dec_diff, float(np.abs(masks_d - masks_t).max()))
            e2e_diff = max(e2e_diff, float(np.abs(masks_e - masks_t).max()))
            iou_diff = max(iou_diff, float(np.abs(iou_e - iou_t).max()))
    return {
        "images": len(images),
        "prompts_per_image": clicks_per_image,
        "encoder_max_abs_diff": enc_diff,
        "decoder_max_abs_logit_diff": dec_diff,
        "end_to_end_max_abs_logit_diff": e2e_diff,
        "iou_prediction_max_abs_diff": iou_diff,
    }


def int8_parity(
    fp32: OnnxSam, int8: OnnxSam, images: Sequence[np.ndarray], clicks_per_image: int = 3
) -> dict:
    """Mask IoU of the int8 pipeline against fp32, per mask token, over sampled clicks.

    ``best_mask`` compares the mask each side would show (argmax of its own IoU head)."""
    ious, best = [], []
    for k, image in enumerate(images):
        emb32, emb8 = fp32.embed(image), int8.embed(image)
        for pts, labels in sample_clicks(
            image.shape[0], image.shape[1], clicks_per_image, seed=100 + k
        ):
            m32, q32 = fp32.predict(emb32, pts, labels, image.shape[:2])
            m8, _ = int8.predict(emb8, pts, labels, image.shape[:2])
            ious += [mask_iou(m8[0, t], m32[0, t]) for t in range(m32.shape[1])]
            t = int(np.argmax(q32[0]))
            best.append(mask_iou(m8[0, t], m32[0, t]))
    return {
        "mask_iou_mean": float(np.mean(ious)),
        "mask_iou_min": float(np.min(ious)),
        "best_mask_iou_mean": float(np.mean(best)),
        "compared_masks": len(ious),
    }


__all__ = [
    "fp32_parity",
    "int8_parity",
    "mask_iou",
    "sample_clicks",
    "torch_reference",
    "decoder_feed",
]
