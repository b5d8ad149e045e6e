"""Latency helpers: interleave the variants being compared so load from other processes
on a shared machine hits both alike, and report the best (minimum) time of each: on a
shared CPU the minimum is the figure least disturbed by others; medians drift with load."""

from __future__ import annotations

import time
from collections.abc import Callable


def interleaved_latency(
    fns: dict[str, Callable[[], object]], iterations: int, warmup: int = 1
) -> dict[str, float]:
    """Best seconds per call of each fn, calling them round-robin."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(iterations):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
    return {k: min(v) for k, v in samples.items()}


def ratio(a: float | None, b: float | None) -> float | None:
    return None if not a or not b else a / b
