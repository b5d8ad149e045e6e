"""Run ``train()`` from a JSON config; the entry point torchrun launches for DDP:

    torchrun --standalone --nproc_per_node=2 -m delineate_runtime.training --config cfg.json

Progress goes to stderr as JSON lines (rank 0 only); the result JSON is the last stdout line,
and with ``--result`` the full ``TrainResult`` is also written there (atomically, rank 0).
``--cancel-file``: every rank polls it; once it exists the run saves a resumable checkpoint
and stops (``launcher.py`` uses it, since torchrun answers signals by killing its workers).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from .config import TrainConfig
from .loop import train


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m delineate_runtime.training")
    ap.add_argument("--config", required=True, help="TrainConfig as a JSON file")
    ap.add_argument("--cancel-file", help="stop (with a checkpoint) once this file exists")
    ap.add_argument("--result", help="write the TrainResult JSON here (rank 0)")
    a = ap.parse_args(argv)
    with open(a.config) as f:
        cfg = TrainConfig.from_dict(json.load(f))

    def progress(event: dict[str, Any]) -> None:
        print(json.dumps(event, default=str), file=sys.stderr, flush=True)

    cancel = Path(a.cancel_file) if a.cancel_file else None
    try:
        result = train(cfg, progress, (lambda: cancel.exists()) if cancel else (lambda: False))
    except Exception as exc:
        if a.result:  # the launcher reports this sentence rather than torchrun's traceback
            rank = os.environ.get("RANK", "0")
            Path(a.result).with_name(f"error-rank{rank}.txt").write_text(
                f"{type(exc).__name__}: {exc}"
            )
        raise
    if os.environ.get("RANK", "0") != "0":
        return 0
    if a.result:
        out = Path(a.result)
        tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(result.to_dict(), default=str))
        os.replace(tmp, out)
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
