"""Prompt simulation: points, boxes, corrective clicks, no-prompt samples."""

from __future__ import annotations

import numpy as np

from delineate_runtime.data.prompts import (
    center_click,
    corrective_click,
    jittered_box,
    mask_box,
    sample_points,
    simulate_prompt,
)


def _mask() -> np.ndarray:
    m = np.zeros((60, 80), bool)
    m[20:40, 30:60] = True
    return m


def test_points_positive_inside_negative_outside() -> None:
    m = _mask()
    rng = np.random.default_rng(0)
    for _ in range(20):
        coords, labels = sample_points(m, 2, 2, rng)
        for (x, y), lab in zip(coords, labels, strict=True):
            assert m[int(y), int(x)] == bool(lab)


def test_jittered_box_stays_near_the_mask() -> None:
    m = _mask()
    tight = mask_box(m)
    assert list(tight) == [30, 20, 59, 39]
    rng = np.random.default_rng(1)
    boxes = np.array([jittered_box(m, 0.1, rng) for _ in range(50)])
    assert np.all(np.abs(boxes - tight) <= 0.1 * 30 + 1e-4)
    assert boxes.std(0).min() > 0  # really jittered


def test_corrective_clicks_come_from_the_error_region() -> None:
    gt = _mask()
    pred = np.zeros_like(gt)
    pred[20:40, 30:45] = True  # missed the right half -> positive click there
    xy, label = corrective_click(pred, gt)  # evaluation: deterministic, interior
    assert label == 1 and gt[int(xy[1]), int(xy[0])] and not pred[int(xy[1]), int(xy[0])]
    over = gt.copy()
    over[0:15, 0:20] = True  # extra false positive -> negative click
    rng = np.random.default_rng(2)
    for _ in range(10):
        xy, label = corrective_click(over, gt, rng)
        assert label == 0 and over[int(xy[1]), int(xy[0])] and not gt[int(xy[1]), int(xy[0])]
    assert corrective_click(gt, gt) is None


def test_prompt_mix_and_no_prompt_samples() -> None:
    m = _mask()
    rng = np.random.default_rng(3)
    kinds = [simulate_prompt(m, rng, {"points": 1, "box": 1, "none": 1}).kind for _ in range(300)]
    counts = {k: kinds.count(k) for k in ("points", "box", "none")}
    assert all(60 < c < 140 for c in counts.values()), counts
    none = simulate_prompt(m, rng, {"none": 1.0})
    assert none.kind == "none" and len(none.coords) == 0 and none.box is None
    click = center_click(m)
    assert m[int(click.coords[0, 1]), int(click.coords[0, 0])]
    added = click.with_click(np.array([1.0, 1.0]), 0)
    assert list(added.labels) == [1.0, 0.0]
