"""Run ``train()`` from a JSON config; the entry point torchrun launches for DDP:

    torchrun --standalone --nproc_per_node=2 -m delineate_runtime.training --config cfg.json

Progress goes to stderr as JSON lines (rank 0 only); the result JSON is the last stdout line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from .config import TrainConfig
from .loop import train


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m delineate_runtime.training")
    ap.add_argument("--config", required=True, help="TrainConfig as a JSON file")
    a = ap.parse_args(argv)
    with open(a.config) as f:
        cfg = TrainConfig.from_dict(json.load(f))

    def progress(event: dict[str, Any]) -> None:
        print(json.dumps(event, default=str), file=sys.stderr, flush=True)

    result = train(cfg, progress)
    if os.environ.get("RANK", "0") != "0":
        return 0
    print(
        json.dumps(
            {
                "status": result.status,
                "run_dir": result.run_dir,
                "world_size": result.world_size,
                "best_val_dice": result.best_val_dice,
            }
        )
    )
    return 0 if result.status in ("completed", "early_stopped", "cancelled") else 1


if __name__ == "__main__":
    raise SystemExit(main())
