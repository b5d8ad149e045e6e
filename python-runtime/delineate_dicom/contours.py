"""Binary masks to closed polygons along pixel edges, and back, exactly.

An RTSTRUCT stores outlines, not pixels. To read back to the very mask it came from, each
outline runs along the *edges* of the pixels (a staircase), never through pixel centres:

- Coordinates are (x, y) in pixel units with the DICOM convention that pixel (row r, column
  c) has its centre at (c, r); its edges are at c +- 0.5 and r +- 0.5, so every vertex sits
  on a half-pixel position and no pixel centre ever lies on an outline.
- Every edge between a mask pixel and a non-mask pixel belongs to exactly one closed loop.
  Outer boundaries run clockwise on screen (y down), holes counter-clockwise; a hole is a
  loop of its own, and so is every island.
- Reading back uses the even-odd rule (a pixel is inside when a ray from its centre crosses
  the loops of its plane an odd number of times), the rule of Orthanc Stone's XOR filler and
  of the usual "a contour inside a contour is a hole" reading of planning systems. Since the
  loops are exactly the mask's boundary edges, even-odd gives back the mask, pixel for pixel,
  islands, holes and islands in holes included.
- Where two mask pixels touch only at a corner, the loop turns toward the mask (right turn),
  so diagonal neighbours become separate loops that touch at one vertex: no loop crosses
  itself. With an ``inset`` (every edge moved a little into the mask) they do not even touch.

Only numpy is used. ``trace`` and ``rasterize`` are inverses: ``rasterize(trace(m)) == m``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Loop = list[tuple[float, float]]

# Directions on the corner lattice, (dx, dy) with y down.
_RIGHT, _DOWN, _LEFT, _UP = (1, 0), (0, 1), (-1, 0), (0, -1)


def _edges(mask: np.ndarray) -> dict[tuple[int, int], list[tuple[int, int]]]:
    """Directed boundary edges on the corner lattice (corner (x, y) is the top-left corner of
    pixel (row y, column x)), the mask on each edge's right; keyed by start corner."""
    m = np.pad(mask.astype(bool), 1)
    inner = m[1:-1, 1:-1]
    out: dict[tuple[int, int], list[tuple[int, int]]] = {}

    def add(ys: np.ndarray, xs: np.ndarray, start: tuple[int, int], d: tuple[int, int]) -> None:
        for y, x in zip(ys.tolist(), xs.tolist()):
            out.setdefault((x + start[0], y + start[1]), []).append(d)

    up, down = m[:-2, 1:-1], m[2:, 1:-1]
    left, right = m[1:-1, :-2], m[1:-1, 2:]
    add(*np.nonzero(inner & ~up), (0, 0), _RIGHT)  # top side, left to right
    add(*np.nonzero(inner & ~right), (1, 0), _DOWN)  # right side, downwards
    add(*np.nonzero(inner & ~down), (1, 1), _LEFT)  # bottom side, right to left
    add(*np.nonzero(inner & ~left), (0, 1), _UP)  # left side, upwards
    return out


def _turn_right(d: tuple[int, int]) -> tuple[int, int]:
    return (-d[1], d[0])


def trace(mask: np.ndarray, inset: float = 0.0) -> list[Loop]:
    """The closed loops bounding a 2-D mask, in pixel coordinates (x = column, y = row), each
    vertex once (the loop closes from the last vertex to the first), collinear vertices
    dropped. Loops come in a stable order (by their first corner, row-major).

    ``inset`` (pixels, below 0.5) moves every edge that far into the mask: outlines shrink and
    holes grow a little, loops that touched at a corner no longer touch, and pixel centres
    stay on the same side, so ``rasterize`` gives the same mask."""
    if not 0 <= inset < 0.5:
        raise ValueError(f"an inset of {inset} pixels would move outlines across pixel centres")
    if mask.ndim != 2:
        raise ValueError(f"a mask has two dimensions, not {mask.ndim}")
    edges = _edges(mask)
    used: set[tuple[tuple[int, int], tuple[int, int]]] = set()
    loops: list[Loop] = []
    for start in sorted(edges, key=lambda p: (p[1], p[0])):
        for first in edges[start]:
            if (start, first) in used:
                continue
            corners: list[tuple[int, int]] = []
            p, d = start, first
            while True:
                used.add((p, d))
                q = (p[0] + d[0], p[1] + d[1])
                # The next edge out of q: turn toward the mask first (right), then straight,
                # then left, so diagonal neighbours get loops of their own.
                options = edges[q]
                nd = next(o for o in (_turn_right(d), d, (d[1], -d[0])) if o in options)
                if nd != d:
                    corners.append(q)
                if (q, nd) == (start, first):
                    break
                if (q, nd) in used:
                    raise AssertionError(f"boundary trace from {start} ran into another loop at {q}")
                p, d = q, nd
            corners = corners[-1:] + corners[:-1]  # begin at the loop's first corner
            loops.append(_inset(_drop_collinear(corners), inset))
    return loops


def _inset(corners: list[tuple[int, int]], inset: float) -> Loop:
    """Lattice corners to pixel coordinates, each moved `inset` toward the mask along both of
    its edges (the mask lies on every edge's right: (dx, dy) -> (-dy, dx) with y down)."""
    n = len(corners)
    out: Loop = []
    for i in range(n):
        (ax, ay), (bx, by), (cx, cy) = corners[i - 1], corners[i], corners[(i + 1) % n]
        din = (int(np.sign(bx - ax)), int(np.sign(by - ay)))
        dout = (int(np.sign(cx - bx)), int(np.sign(cy - by)))
        out.append((bx - 0.5 + inset * (-din[1] - dout[1]), by - 0.5 + inset * (din[0] + dout[0])))
    return out


def _drop_collinear(corners: list[tuple[int, int]]) -> list[tuple[int, int]]:
    n = len(corners)
    keep = []
    for i in range(n):
        a, b, c = corners[i - 1], corners[i], corners[(i + 1) % n]
        if (b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0]) != 0:
            keep.append(b)
    return keep


def rasterize(loops: Sequence[Sequence[tuple[float, float]]], rows: int, columns: int) -> np.ndarray:
    """Fill closed polygons (pixel coordinates, any shape) with the even-odd rule, sampling at
    pixel centres: the inverse of ``trace``. A centre exactly on an edge counts as inside on
    the edge's left (half-open crossing test), which never happens for traced loops."""
    toggles = np.zeros((rows, columns + 1), dtype=np.uint8)
    for loop in loops:
        pts = np.asarray(loop, dtype=np.float64)
        if len(pts) < 3:
            continue
        x0, y0 = pts[:, 0], pts[:, 1]
        x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
        for ax, ay, bx, by in zip(x0, y0, x1, y1):
            if ay == by:
                continue
            lo, hi = (ay, by) if ay < by else (by, ay)
            # Rows whose centre y satisfies lo <= y < hi (half-open, so a vertex counts once).
            r0 = max(int(np.ceil(lo)), 0)
            r1 = min(int(np.ceil(hi)) - 1, rows - 1)
            if r1 < r0:
                continue
            ys = np.arange(r0, r1 + 1, dtype=np.float64)
            xs = ax + (ys - ay) * (bx - ax) / (by - ay)
            # Pixels whose centre lies right of the crossing are toggled from this column on.
            first = np.clip(np.floor(xs).astype(np.int64) + 1, 0, columns)
            np.bitwise_xor.at(toggles, (np.arange(r0, r1 + 1), first), 1)
    return (np.bitwise_xor.accumulate(toggles, axis=1)[:, :columns] & 1).astype(bool)


def ds_number(v: float) -> str:
    """A contour coordinate as a DICOM Decimal String (at most 16 characters), to a
    micrometre (far below a pixel); fewer significant digits only for absurdly large values."""
    s = f"{round(float(v), 6):.6f}".rstrip("0").rstrip(".")
    s = "0" if s in ("-0", "") else s
    digits = 15
    while len(s) > 16:  # e.g. 1e12 mm: DS allows exponent notation
        s = f"{float(v):.{digits}g}"
        digits -= 1
    return s
