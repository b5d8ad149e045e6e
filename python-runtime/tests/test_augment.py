"""Augmentations keep image and masks aligned."""

from __future__ import annotations

import numpy as np
import torch

from delineate_runtime.data.augment import (
    AugmentSpec,
    copy_paste,
    cutmix,
    geometric_photometric,
    is_colour,
)


def _scene(seed: int, h: int = 64, w: int = 80) -> tuple[torch.Tensor, torch.Tensor]:
    """Grey image whose bright pixels are exactly the union of two instance masks."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    masks = []
    for _ in range(2):
        cy, cx = rng.uniform(15, h - 15), rng.uniform(15, w - 15)
        masks.append((yy - cy) ** 2 / 80 + (xx - cx) ** 2 / 150 < 1)
    m = torch.from_numpy(np.stack(masks))
    img = torch.full((3, h, w), 40.0)
    img[:, m.any(0)] = 200.0
    return img, m


def _iou(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a & b).sum()) / max(float((a | b).sum()), 1.0)


def test_geometric_and_photometric_keep_alignment() -> None:
    img, masks = _scene(0)
    spec = AugmentSpec(scale_range=(0.8, 1.2), rotation_deg=15, brightness=0.2, contrast=0.2)
    for seed in range(5):
        out, m = geometric_photometric(img, masks, spec, seed)
        assert out.shape == img.shape and m.shape == masks.shape and m.dtype == torch.bool
        assert not torch.equal(m, masks)  # it really moved
        # After a monotonic brightness/contrast change, the bright pixels are still the masks.
        bright = out[0] > (out[0].max() + out[0].min()) / 2
        assert _iou(bright, m.any(0)) > 0.9, seed
    # Same seed, same result: resumed runs replay augmentations.
    a, _ = geometric_photometric(img, masks, spec, 3)
    b, _ = geometric_photometric(img, masks, spec, 3)
    assert torch.equal(a, b)


def test_hsv_jitter_only_for_colour_images() -> None:
    grey, masks = _scene(1)
    spec = AugmentSpec(rotation_deg=0, scale_range=(1, 1), brightness=0, contrast=0, hsv_jitter=0.1)
    out, _ = geometric_photometric(grey, masks, spec, 0)
    assert not is_colour(out)
    colour = grey.clone()
    colour[0] *= 0.5
    out_c, _ = geometric_photometric(colour, masks, spec, 0)
    assert is_colour(out_c) and not torch.allclose(out_c, colour, atol=1.0)


def test_cutmix_masks_follow_pixels() -> None:
    img, masks = _scene(2)
    other, other_masks = _scene(3)
    other = other * 0.5 + 100  # distinguishable brightness: 120 bg, 200 fg
    rng = np.random.default_rng(0)
    out, m = cutmix(img, masks, other, other_masks, rng)
    fg = m.any(0)
    assert torch.all(out[0][fg] == 200)  # both images draw objects at 200, backgrounds differ
    assert torch.all(out[0][~fg] != 200)


def test_copy_paste_pastes_instance_and_occludes() -> None:
    img, masks = _scene(4)
    other, other_masks = _scene(5)
    other = other.clone()
    other[:, other_masks.any(0)] = 250.0  # pasted objects are brighter
    out, m = copy_paste(img, masks, other, other_masks, np.random.default_rng(1))
    pasted = m[-1]
    assert pasted.sum() > 0 and torch.all(out[0][pasted] == 250.0)
    # Earlier instances lost exactly the pixels now covered by the pasted one.
    for k in range(m.shape[0] - 1):
        assert not (m[k] & pasted).any()
    assert torch.all(out[0][~m.any(0)] == 40.0)
