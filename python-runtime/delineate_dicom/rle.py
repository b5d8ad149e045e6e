"""COCO run-length masks (the app's storage format) to numpy, without pycocotools."""

from __future__ import annotations

from typing import Any

import numpy as np


def decode(rle: dict[str, Any]) -> np.ndarray:
    """Uncompressed COCO RLE -> bool array (height, width).

    Runs alternate 0 and 1 starting with 0, over the pixels in column-major order; they must
    cover the image exactly (a request that does not is refused, not padded)."""
    h, w = (int(v) for v in rle["size"])
    counts = np.asarray(rle["counts"], dtype=np.int64)
    if counts.ndim != 1 or (counts < 0).any() or int(counts.sum()) != h * w:
        raise ValueError(f"RLE runs sum to {int(counts.sum())}, not {h}x{w}")
    values = np.zeros(len(counts), dtype=bool)
    values[1::2] = True
    flat = np.repeat(values, counts)
    return flat.reshape(w, h).T
