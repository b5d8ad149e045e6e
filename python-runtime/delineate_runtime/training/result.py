"""What a training run returns (``train()``, the ``train.start`` job, ``run.json``).

Kept apart from the training loop so the protocol contract can describe it without
importing torch."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal


TrainStatus = Literal["completed", "early_stopped", "cancelled"]


@dataclass
class TrainResult:
    status: TrainStatus
    run_dir: str
    epochs_completed: int
    history: list[dict[str, Any]]
    best_epoch: int | None
    best_val_dice: float | None
    start_val_dice: float | None
    best_checkpoint: str | None
    last_checkpoint: str
    model_spec: dict[str, Any]
    device: dict[str, Any]
    timing: dict[str, Any]
    epochs_to_90pct_best: int | None
    world_size: int = 1
    notes: list[str] = field(default_factory=list)
    # the learning-rate range test, when asked for: {lrs, losses, suggested, reason, lr_used}
    lr_range: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
