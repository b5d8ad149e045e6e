"""SAM image preprocessing as the exported encoder expects it (numpy only, no torch).

This is the contract model.json documents for the Node side: RGB uint8 HxWx3 -> resize so
the longest side is S (bilinear, upstream's ResizeLongestSide) -> (x - mean) / std ->
zero-pad bottom/right to SxS -> float32 1x3xSxS.
"""

from __future__ import annotations

import numpy as np
from segment_anything.utils.transforms import ResizeLongestSide


def as_rgb_uint8(image: np.ndarray, what: str = "image") -> np.ndarray:
    """Accept HxW or HxWx{1,3} pixels in 0..255: uint8, or float as the data module's
    windowing returns them (rounded to uint8, the resize upstream's predictor uses)."""
    if np.issubdtype(image.dtype, np.floating):
        if image.size and (float(image.min()) < -0.5 or float(image.max()) > 255.5):
            raise ValueError(
                f"{what}: float pixels outside 0..255 ({image.min():.1f}..{image.max():.1f}); "
                "apply the image's window settings before preprocessing"
            )
        image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ValueError(
            f"{what}: expected 8-bit or windowed pixels, got {image.dtype}; "
            "apply the image's window settings before preprocessing"
        )
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3):
        raise ValueError(f"{what}: expected HxW or HxWx3 pixels, got shape {image.shape}")
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    return image


def preprocess_image(
    image: np.ndarray,
    image_size: int,
    pixel_mean: tuple[float, float, float],
    pixel_std: tuple[float, float, float],
) -> tuple[np.ndarray, tuple[int, int]]:
    """Return the 1x3xSxS encoder input and the resized (pre-padding) size (h, w)."""
    rgb = as_rgb_uint8(image)
    resized = ResizeLongestSide(image_size).apply_image(rgb).astype(np.float32)
    h, w = resized.shape[:2]
    normalised = (resized - np.asarray(pixel_mean, np.float32)) / np.asarray(pixel_std, np.float32)
    padded = np.zeros((image_size, image_size, 3), np.float32)
    padded[:h, :w] = normalised
    return padded.transpose(2, 0, 1)[None].copy(), (h, w)


def scale_points(points_xy: np.ndarray, orig_hw: tuple[int, int], image_size: int) -> np.ndarray:
    """Map (x, y) clicks in original pixels to the model input frame."""
    h, w = ResizeLongestSide.get_preprocess_shape(orig_hw[0], orig_hw[1], image_size)
    out = np.asarray(points_xy, np.float32).copy()
    out[..., 0] *= w / orig_hw[1]
    out[..., 1] *= h / orig_hw[0]
    return out
