"""Measure the fast path: training steps/s with cached embeddings vs recomputing the encoder.

Both variants train the decoder only (encoder frozen) on the same data with the same seed,
so the only difference is where the image embedding comes from. The two run alternately,
one epoch per round, and each keeps its best round: on a shared machine that is the figure
least disturbed by other processes. Cache building is reported apart (paid once per model
and image, not per epoch).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from .config import TrainConfig
from .loop import train


def measure_cache_speedup(
    dataset: str | Path,
    work_dir: str | Path,
    *,
    arch: str = "tiny",
    image_size: int | None = 256,
    rounds: int = 3,
    checkpoint: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    work = Path(work_dir)
    best: dict[str, dict[str, Any]] = {}
    cache_build_s = 0.0
    for rnd in range(rounds):
        for mode in ("auto", "off"):
            d: dict[str, Any] = dict(
                dataset=str(dataset),
                run_dir=str(work / f"run-{mode}-{rnd}"),
                arch=arch,
                image_size=image_size,
                checkpoint=checkpoint,
                epochs=1,
                freeze="decoder_only",
                augment=False,
                eval_before=False,
                resume=False,
                embedding_cache=mode,
                cache_dir=str(work / "embedding-cache"),
                lr=1e-4,
            )
            d.update(overrides)
            built: list[float] = []

            def progress(e: dict[str, Any], built: list[float] = built) -> None:
                if e.get("stage") == "caching_embeddings":
                    built.append(float(e["elapsed_s"]))

            t0 = time.perf_counter()
            r = train(TrainConfig.from_dict(d), progress)
            if built:
                cache_build_s = max(cache_build_s, max(built))
            row = {
                "steps": r.timing["train_steps"],
                "train_seconds": r.timing["train_seconds"],
                "steps_per_s": r.timing["steps_per_s"],
                "cached": r.timing["cached_embeddings"],
                "wall_seconds": time.perf_counter() - t0,
            }
            if mode not in best or row["steps_per_s"] > best[mode]["steps_per_s"]:
                best[mode] = row
    return {
        "arch": arch,
        "image_size": image_size,
        "rounds": rounds,
        "cached": best["auto"],
        "recompute": best["off"],
        "cache_build_seconds": cache_build_s,
        "speedup_steps_per_s": best["auto"]["steps_per_s"] / best["off"]["steps_per_s"],
    }
