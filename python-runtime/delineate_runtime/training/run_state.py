"""The run directory: resumable state, best weights, result summary.

run_dir/
  checkpoints/last.pt   trained weights + optimizer + progress (written every epoch and on
                        cancel); only the weights this run can change: a decoder-only
                        vit_b run writes 48.7 MB (decoder + AdamW state), not 407 MB
  best.pt               best weights by validation Dice, official SAM layout
  initial.pt            starting weights when no base checkpoint was given (random init)
  run.json              TrainResult as JSON
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch


@dataclass
class RunState:
    epoch: int = 0  # next epoch to run
    next_step: int = 0  # next step inside ``epoch`` (non-zero after a mid-epoch cancel)
    stage: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    best_score: float | None = None
    best_epoch: int | None = None
    start_score: float | None = None
    start_eval: dict[str, Any] | None = None
    epochs_without_improvement: int = 0
    train_steps: int = 0
    train_seconds: float = 0.0
    # the range test's outcome (None until run): kept so a resumed run does not test again
    lr_range: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class RunDir:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        (self.root / "checkpoints").mkdir(parents=True, exist_ok=True)

    @property
    def last(self) -> Path:
        return self.root / "checkpoints" / "last.pt"

    @property
    def best(self) -> Path:
        return self.root / "best.pt"

    @property
    def initial(self) -> Path:
        return self.root / "initial.pt"

    @property
    def result(self) -> Path:
        return self.root / "run.json"

    def save_last(
        self,
        model_sd: dict[str, torch.Tensor],
        optim_sd: dict[str, Any] | None,
        state: RunState,
        config: dict[str, Any],
        partial: bool = False,
    ) -> None:
        """``partial``: ``model_sd`` holds only the weights training touched; the rest is the
        base checkpoint (or ``initial.pt``), which resume loads first."""
        payload = {
            "model": model_sd,
            "optimizer": optim_sd,
            "state": state.to_dict(),
            "config": config,
            "partial": partial,
            "format": "delineate-train-v2",
        }
        tmp = self.last.with_name("last.pt.tmp")
        torch.save(payload, tmp)
        os.replace(tmp, self.last)  # atomic: a crash leaves the previous checkpoint intact

    def load_last(
        self,
    ) -> tuple[dict[str, torch.Tensor], dict[str, Any] | None, RunState, bool] | None:
        """(weights, optimizer, state, partial); v1 files are always whole."""
        if not self.last.is_file():
            return None
        payload = torch.load(self.last, map_location="cpu", weights_only=True)
        partial = bool(payload.get("partial", False))
        return payload["model"], payload.get("optimizer"), RunState(**payload["state"]), partial

    def write_result(self, result: dict[str, Any]) -> None:
        tmp = self.result.with_name("run.json.tmp")
        tmp.write_text(json.dumps(result, indent=2))
        os.replace(tmp, self.result)
