"""Fine-tuning: config, the train() loop, losses, freezing, embedding cache, DDP."""

from .config import GUIDE_STAGES, PRESETS, FreezeStage, TrainConfig
from .loop import TrainingCancelled, TrainResult, noop, train

__all__ = [
    "GUIDE_STAGES",
    "PRESETS",
    "FreezeStage",
    "TrainConfig",
    "TrainResult",
    "TrainingCancelled",
    "noop",
    "train",
]
