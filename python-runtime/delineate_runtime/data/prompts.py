"""Prompt simulation for training and evaluation.

All functions work in whatever pixel frame the mask is given in (training uses the padded
model-input frame; evaluation the original image, then transforms coordinates). Points are
(x, y); labels follow SAM: 1 = foreground, 0 = background, -1 = padding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

PromptKind = Literal["points", "box", "none"]


@dataclass
class Prompt:
    kind: PromptKind
    coords: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    labels: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))
    box: np.ndarray | None = None  # (4,) x0 y0 x1 y1

    def with_click(self, xy: np.ndarray, label: int) -> Prompt:
        coords = np.concatenate([self.coords, np.asarray(xy, np.float32).reshape(1, 2)])
        labels = np.concatenate([self.labels, np.asarray([label], np.float32)])
        return Prompt("points" if self.kind == "none" else self.kind, coords, labels, self.box)


def _sample_pixels(region: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    ys, xs = np.nonzero(region)
    if len(ys) == 0:
        return np.zeros((0, 2), np.float32)
    idx = rng.choice(len(ys), size=min(n, len(ys)), replace=False)
    # Integer pixel coordinates: SAM's prompt encoder adds the 0.5 to reach pixel centres.
    return np.stack([xs[idx], ys[idx]], axis=1).astype(np.float32)


def sample_points(
    mask: np.ndarray, n_pos: int, n_neg: int, rng: np.random.Generator, neg_margin: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """Positive points inside the mask; negatives in a band around it (where confusions are)."""
    pos = _sample_pixels(mask, n_pos, rng)
    neg = np.zeros((0, 2), np.float32)
    if n_neg:
        band = dilate(mask, neg_margin) & ~mask
        neg = _sample_pixels(band if band.any() else ~mask, n_neg, rng)
    coords = np.concatenate([pos, neg])
    labels = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))]).astype(np.float32)
    return coords, labels


def mask_box(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max(), ys.max()], np.float32)


def jittered_box(mask: np.ndarray, jitter: float, rng: np.random.Generator) -> np.ndarray:
    """The mask's box with each side moved by up to ``jitter`` x box size (SAM used 10%)."""
    box = mask_box(mask)
    w, h = box[2] - box[0], box[3] - box[1]
    noise = rng.uniform(-jitter, jitter, 4) * np.array([w, h, w, h])
    out = box + noise.astype(np.float32)
    hh, ww = mask.shape
    out[[0, 2]] = np.clip(out[[0, 2]], 0, ww)
    out[[1, 3]] = np.clip(out[[1, 3]], 0, hh)
    if out[2] <= out[0] or out[3] <= out[1]:
        return box
    return out


def simulate_prompt(
    mask: np.ndarray,
    rng: np.random.Generator,
    mix: Mapping[str, float],
    max_points: int = 3,
    box_jitter: float = 0.1,
) -> Prompt:
    kinds = [k for k in ("points", "box", "none") if mix.get(k, 0) > 0]
    probs = np.array([mix[k] for k in kinds], np.float64)
    kind: PromptKind = kinds[int(rng.choice(len(kinds), p=probs / probs.sum()))]  # type: ignore[assignment]
    if kind == "box":
        return Prompt("box", box=jittered_box(mask, box_jitter, rng))
    if kind == "none":
        return Prompt("none")
    n_pos = int(rng.integers(1, max_points + 1))
    n_neg = int(rng.integers(0, max_points - n_pos + 1)) if n_pos < max_points else 0
    coords, labels = sample_points(mask, n_pos, n_neg, rng)
    return Prompt("points", coords, labels)


def corrective_click(
    pred: np.ndarray, gt: np.ndarray, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, int] | None:
    """A click in the error region of the previous prediction.

    Training (``rng`` given) samples uniformly from the error region, as SAM's interactive
    training does; evaluation (no rng) clicks the most interior point of the larger error
    (false negatives -> positive click, false positives -> negative click), as a person would.
    """
    fn = gt & ~pred
    fp = pred & ~gt
    if not fn.any() and not fp.any():
        return None
    if rng is not None:
        err = fn | fp
        xy = _sample_pixels(err, 1, rng)[0]
        return xy, int(fn[int(xy[1]), int(xy[0])])
    region, label = (fn, 1) if fn.sum() >= fp.sum() else (fp, 0)
    return interior_point(region), label


def dilate(mask: np.ndarray, r: int) -> np.ndarray:
    t = torch.from_numpy(mask.astype(np.float32))[None, None]
    return F.max_pool2d(t, 2 * r + 1, stride=1, padding=r)[0, 0].numpy() > 0


def interior_point(mask: np.ndarray, max_iter: int = 256) -> np.ndarray:
    """The point deepest inside ``mask`` (repeated 3x3 erosion; no SciPy needed)."""
    t = torch.from_numpy(mask.astype(np.float32))[None, None]
    last = t
    for _ in range(max_iter):
        eroded = -F.max_pool2d(-t, 3, stride=1, padding=1)
        if eroded.sum() == 0:
            break
        last, t = eroded, eroded
    ys, xs = np.nonzero(last[0, 0].numpy() > 0)
    cy, cx = ys.mean(), xs.mean()
    i = int(np.argmin((ys - cy) ** 2 + (xs - cx) ** 2))
    return np.array([xs[i], ys[i]], np.float32)


def center_click(mask: np.ndarray) -> Prompt:
    return Prompt("points", interior_point(mask)[None], np.ones(1, np.float32))


def tight_box(mask: np.ndarray) -> Prompt:
    return Prompt("box", box=mask_box(mask))
