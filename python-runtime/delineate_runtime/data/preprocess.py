"""SAM-correct preprocessing and its inverse.

SAM was trained on images whose LONGEST side was resized to 1024 (aspect ratio kept), then
normalised with the ImageNet pixel mean/std and zero-padded on the bottom/right to a square
(``segment_anything.utils.transforms.ResizeLongestSide`` + ``Sam.preprocess``).

Note: the fine-tuning guide we follow resizes ("stretches") every image to 1024x1024. That
is wrong for SAM: stretching changes the aspect ratio of every structure, so the absolute
position embeddings and the pretrained features see shapes they were never trained on, the
masks come back distorted, and prompts (points/boxes) must be transformed differently from
what the official predictor and the canonical ONNX decoder (``orig_im_size``) assume. We keep
the official resize-longest-side + pad so a fine-tuned model stays drop-in compatible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..models.spec import PIXEL_MEAN, PIXEL_STD


def resized_shape(h: int, w: int, image_size: int) -> tuple[int, int]:
    """Shape after scaling the longest side to ``image_size`` (same rounding as SAM)."""
    scale = image_size / max(h, w)
    return int(h * scale + 0.5), int(w * scale + 0.5)


@dataclass(frozen=True)
class Preprocessor:
    image_size: int = 1024
    pixel_mean: tuple[float, float, float] = PIXEL_MEAN
    pixel_std: tuple[float, float, float] = PIXEL_STD

    def key(self) -> str:
        """Stable description used in embedding-cache keys."""
        return f"longest-side-pad:{self.image_size}:{self.pixel_mean}:{self.pixel_std}"

    # ---- images -------------------------------------------------------------------------
    def image(self, img: np.ndarray | torch.Tensor) -> torch.Tensor:
        """HxWx3 (or HxW) float/uint8 in 0..255 -> normalised, padded 3xSxS float tensor."""
        t = torch.as_tensor(np.asarray(img) if not isinstance(img, torch.Tensor) else img)
        t = t.float()
        if t.ndim == 2:
            t = t[..., None].expand(-1, -1, 3)
        if t.shape[-1] == 1:
            t = t.expand(-1, -1, 3)
        chw = t.permute(2, 0, 1)
        return self.tensor(chw)

    def tensor(self, chw: torch.Tensor) -> torch.Tensor:
        """3xHxW float (0..255) -> resized, normalised, padded 3xSxS."""
        h, w = chw.shape[-2:]
        nh, nw = resized_shape(h, w, self.image_size)
        x = chw[None].float()
        if (nh, nw) != (h, w):
            x = F.interpolate(x, (nh, nw), mode="bilinear", align_corners=False, antialias=True)
        mean = torch.tensor(self.pixel_mean).view(1, 3, 1, 1)
        std = torch.tensor(self.pixel_std).view(1, 3, 1, 1)
        x = (x - mean) / std
        # Pad after normalising (as Sam.preprocess does): padding reads as "mean colour".
        x = F.pad(x, (0, self.image_size - nw, 0, self.image_size - nh))
        return x[0]

    def mask(self, mask: np.ndarray | torch.Tensor) -> torch.Tensor:
        """HxW binary mask -> SxS float mask in the padded model frame."""
        m = torch.as_tensor(np.asarray(mask) if not isinstance(mask, torch.Tensor) else mask)
        h, w = m.shape[-2:]
        nh, nw = resized_shape(h, w, self.image_size)
        x = m.float()[None, None]
        if (nh, nw) != (h, w):
            # Bilinear + threshold keeps thin structures better than nearest on downscaling.
            x = (F.interpolate(x, (nh, nw), mode="bilinear", align_corners=False) >= 0.5).float()
        x = F.pad(x, (0, self.image_size - nw, 0, self.image_size - nh))
        return x[0, 0]

    # ---- prompts ------------------------------------------------------------------------
    def coords(self, xy: np.ndarray, orig_hw: tuple[int, int]) -> np.ndarray:
        """Points (..., 2) as (x, y) in original pixels -> model-input pixels."""
        h, w = orig_hw
        nh, nw = resized_shape(h, w, self.image_size)
        out = np.asarray(xy, dtype=np.float64).copy()
        out[..., 0] *= nw / w
        out[..., 1] *= nh / h
        return out

    def boxes(self, xyxy: np.ndarray, orig_hw: tuple[int, int]) -> np.ndarray:
        b = np.asarray(xyxy, dtype=np.float64).reshape(-1, 2, 2)
        return self.coords(b, orig_hw).reshape(-1, 4)

    def coords_back(self, xy: np.ndarray, orig_hw: tuple[int, int]) -> np.ndarray:
        h, w = orig_hw
        nh, nw = resized_shape(h, w, self.image_size)
        out = np.asarray(xy, dtype=np.float64).copy()
        out[..., 0] *= w / nw
        out[..., 1] *= h / nh
        return out

    # ---- masks back ---------------------------------------------------------------------
    def postprocess_masks(self, logits: torch.Tensor, orig_hw: tuple[int, int]) -> torch.Tensor:
        """Low-res (or input-size) logits (..., h, w) -> logits at the original image size.

        Same steps as ``Sam.postprocess_masks``: upscale to the padded input frame, crop the
        padding away, resize to the original size.
        """
        lead = logits.shape[:-2]
        x = logits.reshape(-1, 1, *logits.shape[-2:]).float()
        s = self.image_size
        x = F.interpolate(x, (s, s), mode="bilinear", align_corners=False)
        nh, nw = resized_shape(*orig_hw, s)
        x = x[..., :nh, :nw]
        x = F.interpolate(x, orig_hw, mode="bilinear", align_corners=False)
        return x.reshape(*lead, *orig_hw)

    def input_frame_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """Low-res logits (B, K, h, w) -> logits in the padded SxS input frame."""
        s = self.image_size
        return F.interpolate(logits.float(), (s, s), mode="bilinear", align_corners=False)
