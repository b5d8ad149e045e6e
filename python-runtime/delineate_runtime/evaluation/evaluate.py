"""Evaluate a SAM model on records with simulated prompts and in automatic mode.

Modes: ``click1`` (one click deep inside the object), ``click3`` (then two corrective clicks
on the largest error, feeding back the previous low-res mask as SAM's predictor does),
``box`` (tight box), ``auto`` (no prompt; compared with the union of all instances).
Prompts are made in original pixels and transformed to the model frame, so this also checks
the coordinate transforms end to end.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from segment_anything.modeling import Sam

from ..data.images import load_image
from ..data.preprocess import Preprocessor
from ..data.prompts import Prompt, center_click, corrective_click, tight_box
from ..data.records import ImageRecord
from ..models.forward import decode
from .metrics import aggregate, dice, iou

MODES = ("click1", "click3", "box", "auto")
EmbeddingFn = Callable[[int, ImageRecord], torch.Tensor]


def _to_model(prompt: Prompt, pre: Preprocessor, hw: tuple[int, int]) -> Prompt:
    coords = (
        pre.coords(prompt.coords, hw).astype(np.float32) if len(prompt.coords) else prompt.coords
    )
    box = pre.boxes(prompt.box, hw)[0].astype(np.float32) if prompt.box is not None else None
    return Prompt(prompt.kind, coords, prompt.labels, box)


@torch.no_grad()
def predict(
    sam: Sam,
    emb: torch.Tensor,
    prompt: Prompt,
    pre: Preprocessor,
    hw: tuple[int, int],
    mask_input: torch.Tensor | None = None,
) -> tuple[np.ndarray, torch.Tensor]:
    """-> (binary mask at original size, chosen low-res logits (1,1,h,w))."""
    logits, ious = decode(sam, emb, _to_model(prompt, pre, hw), mask_input)
    k = int(ious[0].argmax())
    low = logits[:, k : k + 1]
    full = pre.postprocess_masks(low[0, 0], hw)
    return (full > 0).cpu().numpy(), low


@torch.no_grad()
def evaluate_records(
    sam: Sam,
    records: Sequence[ImageRecord],
    pre: Preprocessor,
    categories: dict[int, str],
    modes: Sequence[str] = MODES,
    embedding_fn: EmbeddingFn | None = None,
) -> dict[str, Any]:
    sam.eval()
    device = sam.pixel_mean.device
    rows: dict[str, list[tuple[str, float, float]]] = {m: [] for m in modes}
    for idx, rec in enumerate(records):
        hw = (rec.height, rec.width)
        if embedding_fn is not None:
            emb = embedding_fn(idx, rec).to(device)
        else:
            img = pre.image(load_image(rec.path, rec.window)).to(device)
            emb = sam.image_encoder(img[None])
        for inst in rec.instances:
            name = categories.get(inst.category_id, str(inst.category_id))
            gt = inst.mask
            if "box" in modes:
                pred, _ = predict(sam, emb, tight_box(gt), pre, hw)
                rows["box"].append((name, dice(pred, gt), iou(pred, gt)))
            if "click1" in modes or "click3" in modes:
                prompt = center_click(gt)
                pred, low = predict(sam, emb, prompt, pre, hw)
                if "click1" in modes:
                    rows["click1"].append((name, dice(pred, gt), iou(pred, gt)))
                if "click3" in modes:
                    for _ in range(2):
                        click = corrective_click(pred, gt)
                        if click is None:
                            break
                        prompt = prompt.with_click(*click)
                        pred, low = predict(sam, emb, prompt, pre, hw, mask_input=low)
                    rows["click3"].append((name, dice(pred, gt), iou(pred, gt)))
        if "auto" in modes:
            union = np.any([i.mask for i in rec.instances], axis=0)
            pred, _ = predict(sam, emb, Prompt("none"), pre, hw)
            rows["auto"].append(("all", dice(pred, union), iou(pred, union)))
    return {m: aggregate(rows[m]) for m in modes}


def val_score(result: dict[str, Any], modes: Sequence[str] = ("box", "click1")) -> float:
    """The early-stopping metric: mean Dice over the prompted modes."""
    vals = [float(result[m]["dice_mean"]) for m in modes if m in result]
    return float(np.mean(vals)) if vals else 0.0
