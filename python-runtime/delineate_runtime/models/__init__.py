"""SAM model construction, checkpoints and specs."""

from .build import build_from_spec, build_sam_model, sam_registry, spec_of
from .checkpoint import (
    CheckpointError,
    check_state_dict,
    load_checkpoint,
    read_state_dict,
    save_official_format,
    weights_hash,
)
from .spec import ARCHS, ModelSpec, spec_for

__all__ = [
    "ARCHS",
    "CheckpointError",
    "ModelSpec",
    "build_from_spec",
    "build_sam_model",
    "check_state_dict",
    "load_checkpoint",
    "read_state_dict",
    "sam_registry",
    "save_official_format",
    "spec_for",
    "spec_of",
    "weights_hash",
]
