"""Losses behave as their definitions say."""

from __future__ import annotations

import torch

from delineate_runtime.training.losses import (
    LossWeights,
    bce_loss,
    dice_loss,
    focal_loss,
    mask_iou,
    mask_losses,
)


def _target() -> torch.Tensor:
    t = torch.zeros(1, 16, 16)
    t[:, 4:12, 4:12] = 1
    return t


def test_perfect_prediction_scores_near_zero_and_wrong_scores_high() -> None:
    t = _target()
    good, bad = t * 20 - 10, -(t * 20 - 10)
    for fn in (bce_loss, dice_loss, focal_loss):
        assert fn(good, t).item() < 0.01 < fn(bad, t).item()
    assert mask_iou(good, t).item() == 1.0 and mask_iou(bad, t).item() == 0.0


def test_label_smoothing_raises_the_floor() -> None:
    t = _target()
    good = t * 20 - 10
    assert bce_loss(good, t, 0.1).item() > bce_loss(good, t, 0.0).item() + 0.05


def test_multimask_trains_the_best_mask_and_iou_head_learns_true_iou() -> None:
    t = _target()[0]
    logits = torch.stack([-(t * 20 - 10), t * 20 - 10, torch.zeros(16, 16) - 10])
    iou_pred = torch.tensor([0.0, 1.0, 0.0], requires_grad=True)
    loss, parts = mask_losses(logits, t, iou_pred, LossWeights())
    assert parts["mask"] < 0.01 and parts["iou_mse"] < 1e-6
    loss2, parts2 = mask_losses(logits, t, torch.tensor([1.0, 0.0, 1.0]), LossWeights())
    assert parts2["iou_mse"] > 0.5 and loss2 > loss
    teacher = logits.clone()
    _, parts3 = mask_losses(logits, t, iou_pred, LossWeights(distill=1.0), teacher)
    assert "distill" in parts3
