"""Read snapshot images (8/16-bit PNG, float .npy) and window them to 0..255 RGB floats."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError


class DatasetError(Exception):
    """A dataset file is missing or malformed; the message names the file."""


def read_raw(path: str | Path) -> np.ndarray:
    """Pixel values as stored (uint8/uint16/float), HxW or HxWxC."""
    p = Path(path)
    if not p.is_file():
        raise DatasetError(f"image file not found: {p}")
    try:
        if p.suffix.lower() == ".npy":
            arr = np.load(p, allow_pickle=False)
        else:
            with Image.open(p) as im:
                arr = np.array(im)
    except (OSError, ValueError, UnidentifiedImageError) as exc:
        raise DatasetError(f"cannot read image {p}: {exc}") from exc
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise DatasetError(f"image {p} has unsupported shape {arr.shape}")
    if arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[..., :3]  # drop alpha
    return arr


def apply_window(raw: np.ndarray, window: Mapping[str, Any] | None) -> np.ndarray:
    """Map stored values to float32 0..255 HxWx3.

    With a window (center/width, as in DICOM VOI LUT linear) values outside it clip; without
    one, 8-bit images pass through and other types are min-max scaled per image.
    """
    x = raw.astype(np.float32)
    if window is not None:
        c, w = float(window["center"]), float(window["width"])
        lo, hi = c - w / 2.0, c + w / 2.0
        x = np.clip((x - lo) / max(hi - lo, 1e-6), 0.0, 1.0) * 255.0
    elif raw.dtype != np.uint8:
        lo, hi = float(x.min()), float(x.max())
        x = (x - lo) / max(hi - lo, 1e-6) * 255.0
    if x.ndim == 2:
        x = np.repeat(x[..., None], 3, axis=2)
    elif x.shape[2] == 1:
        x = np.repeat(x, 3, axis=2)
    return np.ascontiguousarray(x)


def load_image(path: str | Path, window: Mapping[str, Any] | None = None) -> np.ndarray:
    return apply_window(read_raw(path), window)


def image_key(path: str | Path, window: Mapping[str, Any] | None) -> str:
    """Content hash of the file plus its window: an image's identity for caches."""
    h = hashlib.sha256(Path(path).read_bytes())
    h.update(json.dumps(dict(window) if window else None, sort_keys=True).encode())
    return h.hexdigest()
