"""Uncompressed COCO RLE counts of a mask, as the app stores masks: column-major runs, starting
with a 0-run. A test helper in plain numpy, so both the pytest suite and the scenario scripts
that run in the DICOM environment (sr_scenario.py) import it."""

from __future__ import annotations

import numpy as np


def rle_counts(mask: np.ndarray) -> list[int]:
    flat = mask.T.reshape(-1).astype(np.uint8)
    counts: list[int] = []
    current, run = 0, 0
    for v in flat:
        if v == current:
            run += 1
        else:
            counts.append(run)
            current, run = int(v), 1
    counts.append(run)
    return counts
