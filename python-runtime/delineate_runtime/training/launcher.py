"""Run ``train()`` under torchrun when a host has several GPUs, behind the same job API.

The JSON-RPC server trains in one of its threads when one process is enough. On a host
with several GPUs (a training server reached over SSH, typically) ``train.start`` instead
launches ``torch.distributed.run`` with one process per GPU, each running
``python -m delineate_runtime.training``. The app sees no difference: rank 0's progress
lines (JSON on stderr) are relayed as job progress, cancel is a file every rank polls
(``DistContext.any_flag`` makes them stop at the same step, and rank 0 writes the resumable
checkpoint), and the result is read from a file rank 0 writes.

A file, not a signal, carries the cancel: torchrun answers SIGINT/SIGTERM by terminating
its workers, which would lose the step's checkpoint.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from .config import TrainConfig

Progress = Callable[[dict[str, Any]], None]

MAX_PROCESSES = 64


def processes_for(requested: int | None) -> int:
    """How many training processes to run: as asked, else one per GPU when there are several."""
    if requested is not None:
        if not 1 <= requested <= MAX_PROCESSES:
            raise ValueError(f"processes must be between 1 and {MAX_PROCESSES}, not {requested}")
        return requested
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return gpus if gpus > 1 else 1


def torchrun_command(config_file: Path, cancel_file: Path, result_file: Path, n: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",  # one node; a free rendezvous port on loopback
        f"--nproc_per_node={n}",
        "-m",
        "delineate_runtime.training",
        "--config",
        str(config_file),
        "--cancel-file",
        str(cancel_file),
        "--result",
        str(result_file),
    ]


def run_distributed(
    cfg: TrainConfig,
    processes: int,
    progress: Progress,
    should_cancel: Callable[[], bool],
    poll_s: float = 0.2,
) -> dict[str, Any]:
    """Train with ``processes`` ranks; returns ``TrainResult.to_dict()`` of rank 0."""
    work = Path(cfg.run_dir) / "launch"
    work.mkdir(parents=True, exist_ok=True)
    config_file, cancel_file, result_file = (
        work / "config.json",
        work / "cancel",
        work / "result.json",
    )
    for stale in (cancel_file, result_file, *work.glob("error-rank*.txt")):
        stale.unlink(missing_ok=True)  # left by an earlier attempt: not this run's
    config_file.write_text(json.dumps(cfg.to_dict()))

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if not torch.cuda.is_available():
        # gloo on CPU: share the cores instead of every rank taking all of them.
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // processes))
    proc = subprocess.Popen(
        torchrun_command(config_file, cancel_file, result_file, processes),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,  # ranks print only their summary there; the file holds it
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    tail: deque[str] = deque(maxlen=30)

    def relay() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            line = line.strip()
            event = _progress_event(line)
            if event is not None:
                progress(event)
            elif line:
                tail.append(line)

    reader = threading.Thread(target=relay, name="torchrun-stderr", daemon=True)
    reader.start()
    cancelled = False
    while proc.poll() is None:
        if not cancelled and should_cancel():
            cancel_file.touch()
            cancelled = True
        time.sleep(poll_s)
    reader.join(timeout=5)
    if proc.returncode != 0 or not result_file.is_file():
        errors = sorted(work.glob("error-rank*.txt"))
        if errors:  # the ranks' own sentences, not torchrun's traceback
            why = "; ".join(f"rank {e.stem[10:]}: {e.read_text()[:1000]}" for e in errors)
        else:
            why = "\n".join(tail)[-2000:] or f"torchrun exited with {proc.returncode}"
        raise RuntimeError(f"distributed training ({processes} processes) failed: {why}")
    return json.loads(result_file.read_text())


def _progress_event(line: str) -> dict[str, Any] | None:
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) and "stage" in event else None
