"""The DICOM writer's RLE decoding (delineate_dicom/rle.py) against pycocotools, the format's
reference implementation, and its refusal of runs that do not cover the image."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from coco_rle import rle_counts
from delineate_dicom.rle import decode


@pytest.mark.parametrize("shape", [(1, 1), (7, 5), (48, 64), (3, 200)])
def test_decode_matches_pycocotools(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    for density in (0.0, 0.3, 1.0):
        m = rng.random(shape) < density
        rle = {"size": list(shape), "counts": rle_counts(m)}
        ours = decode(rle)
        reference = coco_mask.decode(coco_mask.frPyObjects(rle, *shape)).astype(bool)
        assert np.array_equal(ours, reference) and np.array_equal(ours, m)


def test_runs_that_do_not_cover_the_image_are_refused() -> None:
    with pytest.raises(ValueError, match="runs sum to 11, not 3x4"):
        decode({"size": [3, 4], "counts": [5, 6]})
    with pytest.raises(ValueError):
        decode({"size": [2, 2], "counts": [-1, 5]})
