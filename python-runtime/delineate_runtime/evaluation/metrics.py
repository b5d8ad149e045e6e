"""Overlap metrics and their aggregation per class."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np


def dice(pred: np.ndarray, gt: np.ndarray) -> float:
    s = pred.sum() + gt.sum()
    return 1.0 if s == 0 else float(2 * (pred & gt).sum() / s)


def iou(pred: np.ndarray, gt: np.ndarray) -> float:
    u = (pred | gt).sum()
    return 1.0 if u == 0 else float((pred & gt).sum() / u)


def aggregate(rows: Iterable[tuple[str, float, float]]) -> dict[str, object]:
    """rows of (class name, dice, iou) -> per-class means and class-mean Dice / mIoU."""
    by: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for name, d, i in rows:
        by[name].append((d, i))
    per_class = {
        name: {
            "dice": float(np.mean([d for d, _ in v])),
            "iou": float(np.mean([i for _, i in v])),
            "n": len(v),
        }
        for name, v in sorted(by.items())
    }
    return {
        "dice_mean": float(np.mean([c["dice"] for c in per_class.values()])) if per_class else 0.0,
        "miou": float(np.mean([c["iou"] for c in per_class.values()])) if per_class else 0.0,
        "per_class": per_class,
    }


def epochs_to_fraction_of_best(values: list[float], fraction: float = 0.9) -> int | None:
    """1-based epoch at which a curve first reaches ``fraction`` of its best value."""
    if not values:
        return None
    best = max(values)
    return next(i + 1 for i, v in enumerate(values) if v >= fraction * best)
