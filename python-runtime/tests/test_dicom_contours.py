"""RTSTRUCT contours (delineate_dicom/contours.py): tracing along pixel edges and filling back
with the even-odd rule give every mask back exactly, holes, islands in holes and pixels that
touch only at a corner included; loops never cross themselves; outer boundaries run clockwise
on screen and holes counter-clockwise; coordinates fit a DICOM Decimal String."""

from __future__ import annotations

import re

import numpy as np
import pytest

from delineate_dicom.contours import ds_number, rasterize, trace


def _signed_area(loop: list[tuple[float, float]]) -> float:
    """Shoelace area with y down: positive for a loop clockwise on screen."""
    xy = np.asarray(loop)
    x, y = xy[:, 0], xy[:, 1]
    return float((x * np.roll(y, -1) - np.roll(x, -1) * y).sum() / 2)


@pytest.mark.parametrize("seed", range(6))
def test_random_masks_round_trip(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(60):
        h, w = (int(v) for v in rng.integers(1, 40, 2))
        m = rng.random((h, w)) < rng.random()
        assert np.array_equal(rasterize(trace(m), h, w), m)


def test_hole_island_in_hole_and_second_island() -> None:
    m = np.zeros((12, 16), dtype=bool)
    m[1:10, 1:10] = True
    m[3:8, 3:8] = False  # hole
    m[5, 5] = True  # island in the hole
    m[2:4, 12:15] = True  # second island
    loops = trace(m)
    assert len(loops) == 4
    areas = sorted(_signed_area(loop) for loop in loops)
    assert areas == [-25.0, 1.0, 6.0, 81.0], "holes counter-clockwise, islands clockwise, areas in pixels"
    assert np.array_equal(rasterize(loops, 12, 16), m)


def test_one_pixel_is_a_square_along_its_edges() -> None:
    m = np.zeros((5, 7), dtype=bool)
    m[3, 5] = True
    assert trace(m) == [[(4.5, 2.5), (5.5, 2.5), (5.5, 3.5), (4.5, 3.5)]]


def test_pixels_touching_at_a_corner_are_separate_loops() -> None:
    m = np.zeros((4, 4), dtype=bool)
    m[1, 1] = m[2, 2] = True
    loops = trace(m)
    assert len(loops) == 2 and all(len(loop) == 4 for loop in loops)
    # A checkerboard: every loop is a simple square.
    c = (np.indices((6, 6)).sum(axis=0) % 2).astype(bool)
    loops = trace(c)
    assert len(loops) == 18 and all(len(loop) == 4 and _signed_area(loop) == 1 for loop in loops)
    assert np.array_equal(rasterize(loops, 6, 6), c)


def test_inset_moves_edges_into_the_mask_and_keeps_the_pixels() -> None:
    m = np.zeros((7, 7), dtype=bool)
    m[1:6, 1:6] = True
    m[2:5, 2:5] = False
    m[3, 3] = True
    assert trace(m, 0.1) == [
        [(0.6, 0.6), (5.4, 0.6), (5.4, 5.4), (0.6, 5.4)],
        [(1.4, 1.4), (1.4, 4.6), (4.6, 4.6), (4.6, 1.4)],  # the hole grows
        [(2.6, 2.6), (3.4, 2.6), (3.4, 3.4), (2.6, 3.4)],
    ]
    rng = np.random.default_rng(11)
    for _ in range(100):
        h, w = (int(v) for v in rng.integers(1, 30, 2))
        r = rng.random((h, w)) < rng.random()
        for inset in (0.01, 0.25, 0.49):
            assert np.array_equal(rasterize(trace(r, inset), h, w), r)
    with pytest.raises(ValueError, match="across pixel centres"):
        trace(m, 0.5)


def test_full_and_empty_masks() -> None:
    assert trace(np.zeros((3, 4), dtype=bool)) == []
    full = np.ones((3, 4), dtype=bool)
    assert trace(full) == [[(-0.5, -0.5), (3.5, -0.5), (3.5, 2.5), (-0.5, 2.5)]]
    assert np.array_equal(rasterize(trace(full), 3, 4), full)


def test_decimal_strings() -> None:
    assert ds_number(8.95) == "8.95"
    assert ds_number(-0.0000001) == "0"
    assert ds_number(-123.4567894) == "-123.456789"
    ds = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")  # PS3.5 6.2, DS
    for v in (1e12, -98765.4321012, 1 / 3, -1.5e20, 123456789012.345678):
        s = ds_number(v)
        assert len(s) <= 16 and ds.match(s), s
        assert abs(float(s) - v) <= abs(v) * 1e-9 + 1e-6
