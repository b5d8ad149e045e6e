"""Segmentation losses: BCE (the guide's), Dice, sigmoid focal (SAM's), IoU-head MSE."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


def smooth(target: torch.Tensor, label_smoothing: float) -> torch.Tensor:
    return target * (1 - label_smoothing) + 0.5 * label_smoothing


def bce_loss(
    logits: torch.Tensor, target: torch.Tensor, label_smoothing: float = 0.0
) -> torch.Tensor:
    """Per-mask mean BCE; logits/target (K,H,W) -> (K,)."""
    t = smooth(target, label_smoothing)
    return F.binary_cross_entropy_with_logits(logits, t, reduction="none").flatten(1).mean(1)


def dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    p = logits.sigmoid().flatten(1)
    t = target.flatten(1)
    return 1 - (2 * (p * t).sum(1) + eps) / (p.sum(1) + t.sum(1) + eps)


def focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    alpha: float = 0.25,
    gamma: float = 2.0,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    t = smooth(target, label_smoothing)
    p = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    a_t = alpha * t + (1 - alpha) * (1 - t)
    return (a_t * ce * (1 - p_t) ** gamma).flatten(1).mean(1)


def mask_iou(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """IoU of each thresholded predicted mask with the target: the IoU head's regression target."""
    p = (logits > 0).flatten(1).float()
    t = (target > 0.5).flatten(1).float()
    inter = (p * t).sum(1)
    union = p.sum(1) + t.sum(1) - inter
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(inter))


@dataclass
class LossWeights:
    bce: float = 1.0
    dice: float = 1.0
    focal: float = 0.0
    iou: float = 1.0
    label_smoothing: float = 0.0
    distill: float = 0.0


def mask_losses(
    logits: torch.Tensor,
    target: torch.Tensor,
    iou_pred: torch.Tensor,
    w: LossWeights,
    teacher_logits: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss for one sample: logits (K,h,w) against one target (h,w).

    With K>1 (ambiguous single click) only the best of the K masks gets the mask loss, as in
    SAM; the IoU head learns the true IoU of all K.
    """
    logits = logits.float()
    tgt = target.expand_as(logits)
    per_mask = w.bce * bce_loss(logits, tgt, w.label_smoothing) + w.dice * dice_loss(logits, tgt)
    if w.focal:
        per_mask = per_mask + w.focal * focal_loss(logits, tgt, label_smoothing=w.label_smoothing)
    best = int(per_mask.argmin())
    loss = per_mask[best]
    with torch.no_grad():
        true_iou = mask_iou(logits, tgt)
    iou_l = F.mse_loss(iou_pred.float(), true_iou)
    loss = loss + w.iou * iou_l
    parts = {"mask": float(per_mask[best].detach()), "iou_mse": float(iou_l.detach())}
    if teacher_logits is not None and w.distill:
        kd = F.binary_cross_entropy_with_logits(
            logits[best], teacher_logits[best].float().sigmoid()
        )
        loss = loss + w.distill * kd
        parts["distill"] = float(kd.detach())
    return loss, parts
