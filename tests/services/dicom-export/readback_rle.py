"""The app's RLE runs of a boolean mask (column-major, starting with a 0-run, as COCO's), for
the read-back scripts beside this one to compare with the project's masks."""

from __future__ import annotations

import numpy as np


def rle_counts(mask: np.ndarray) -> list[int]:
    flat = mask.T.reshape(-1).astype(np.uint8)
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(bounds).tolist()
    return runs if flat[0] == 0 else [0, *runs]
