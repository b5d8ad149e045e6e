"""Mask-aware augmentations (the fine-tuning guide's list).

Geometric and photometric transforms come from torchvision.transforms.v2, which moves
``tv_tensors.Mask`` with the image (nearest interpolation for masks). CutMix and Copy-Paste
for segmentation are not in torchvision or Kornia, so they are written here.
Images are float tensors 3xHxW in 0..255; masks bool tensors KxHxW (one per instance).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2


@dataclass
class AugmentSpec:
    scale_range: tuple[float, float] = (0.8, 1.2)
    rotation_deg: float = 15.0
    brightness: float = 0.2
    contrast: float = 0.2
    hsv_jitter: float = 0.05  # hue shift; saturation jitter is 4x this; colour images only
    cutmix_p: float = 0.0
    copy_paste_p: float = 0.0


def is_colour(img: torch.Tensor) -> bool:
    return not (torch.equal(img[0], img[1]) and torch.equal(img[1], img[2]))


def geometric_photometric(
    img: torch.Tensor, masks: torch.Tensor, spec: AugmentSpec, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random scale/rotation (same for image and masks) then brightness/contrast (+HSV)."""
    colour = is_colour(img)
    affine = v2.RandomAffine(degrees=spec.rotation_deg, scale=spec.scale_range)
    jitter = v2.ColorJitter(
        brightness=spec.brightness,
        contrast=spec.contrast,
        saturation=4 * spec.hsv_jitter if colour else 0,
        hue=spec.hsv_jitter if colour else 0,
    )
    im = tv_tensors.Image(img / 255.0)
    mk = tv_tensors.Mask(masks.to(torch.uint8))
    # v2 draws from torch's global RNG: fork it and seed per sample, so a resumed run
    # replays the same augmentations and nothing else's randomness is disturbed.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        im, mk = affine(im, mk)
        im = jitter(im)
    return (im.clamp(0, 1) * 255.0).as_subclass(torch.Tensor), mk.as_subclass(torch.Tensor) > 0


def cutmix(
    img: torch.Tensor,
    masks: torch.Tensor,
    other_img: torch.Tensor,
    other_masks: torch.Tensor,
    rng: np.random.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Paste a random rectangle of another image; masks follow the pixels they label."""
    h, w = img.shape[-2:]
    oh, ow = other_img.shape[-2:]
    lam = rng.uniform(0.2, 0.5)
    ch, cw = int(min(h, oh) * np.sqrt(lam)), int(min(w, ow) * np.sqrt(lam))
    y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    sy, sx = int(rng.integers(0, oh - ch + 1)), int(rng.integers(0, ow - cw + 1))
    out = img.clone()
    out[:, y0 : y0 + ch, x0 : x0 + cw] = other_img[:, sy : sy + ch, sx : sx + cw]
    kept = masks.clone()
    kept[:, y0 : y0 + ch, x0 : x0 + cw] = False
    pasted = torch.zeros((other_masks.shape[0], h, w), dtype=torch.bool)
    pasted[:, y0 : y0 + ch, x0 : x0 + cw] = other_masks[:, sy : sy + ch, sx : sx + cw]
    all_masks = torch.cat([kept, pasted])
    return out, all_masks[all_masks.flatten(1).any(1)]


def copy_paste(
    img: torch.Tensor,
    masks: torch.Tensor,
    other_img: torch.Tensor,
    other_masks: torch.Tensor,
    rng: np.random.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Copy-Paste (Ghiasi et al. 2021): paste one masked instance of another image at a random
    offset; it occludes what lies beneath, so existing masks lose the covered pixels."""
    if other_masks.shape[0] == 0:
        return img, masks
    h, w = img.shape[-2:]
    inst = other_masks[int(rng.integers(other_masks.shape[0]))]
    ys, xs = torch.nonzero(inst, as_tuple=True)
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    ph, pw = min(y1 - y0, h), min(x1 - x0, w)
    patch_m = inst[y0 : y0 + ph, x0 : x0 + pw]
    patch_i = other_img[:, y0 : y0 + ph, x0 : x0 + pw]
    ty, tx = int(rng.integers(0, h - ph + 1)), int(rng.integers(0, w - pw + 1))
    paste = torch.zeros((h, w), dtype=torch.bool)
    paste[ty : ty + ph, tx : tx + pw] = patch_m
    out = img.clone()
    region = out[:, ty : ty + ph, tx : tx + pw]
    region[:, patch_m] = patch_i[:, patch_m]
    kept = masks & ~paste
    all_masks = torch.cat([kept, paste[None]])
    return out, all_masks[all_masks.flatten(1).any(1)]
