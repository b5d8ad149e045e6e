"""Shared pytest fixtures: tiny SAM builders, synthetic snapshots, a trained blob model.

Session-scoped where building is costly, so the whole suite (training and export tests)
trains the tiny model once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from segment_anything.modeling import Sam

from delineate_runtime.data.synthetic import SyntheticSpec, write_snapshot
from delineate_runtime.models import ModelSpec, build_sam_model
from delineate_runtime.training.tiny_demo import train_tiny_blob_model

# One intra-op thread: on a shared 2-core machine OpenMP threads that spin-wait against other
# processes slow training down several-fold; one thread is the robust choice for tests.
torch.set_num_threads(int(os.environ.get("DELINEATE_TEST_THREADS", "1")))


@pytest.fixture
def make_tiny_sam() -> Callable[..., Sam]:
    """``make_tiny_sam(image_size=128, seed=0, **spec_overrides)`` -> a fresh tiny SAM."""

    def make(image_size: int = 128, seed: int = 0, **opts: Any) -> Sam:
        torch.manual_seed(seed)
        return build_sam_model("tiny", image_size=image_size, **opts)

    return make


@pytest.fixture(scope="session")
def synthetic_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 CT-like 112x128 images with lesion masks, as a COCO RLE dataset snapshot."""
    return write_snapshot(tmp_path_factory.mktemp("synthetic"), SyntheticSpec(n_images=40))


@pytest.fixture(scope="session")
def small_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 images: enough for loop mechanics (cancel/resume, DDP, cache equality)."""
    return write_snapshot(tmp_path_factory.mktemp("small"), SyntheticSpec(n_images=12, seed=3))


@dataclass
class TrainedTiny:
    dir: Path
    dataset: Path
    checkpoint: Path  # best.pt, official SAM layout
    initial: Path  # the random-init starting weights
    spec: ModelSpec
    result: dict[str, Any]


@pytest.fixture(scope="session")
def trained_tiny(tmp_path_factory: pytest.TempPathFactory) -> TrainedTiny:
    """A tiny SAM (input 256) trained to segment bright blobs, ~20 s on 2 CPU cores."""
    out = tmp_path_factory.mktemp("trained_tiny")
    result = train_tiny_blob_model(out)
    run = Path(result.run_dir)
    return TrainedTiny(
        dir=out,
        dataset=out / "dataset",
        checkpoint=run / "best.pt",
        initial=run / "initial.pt",
        spec=ModelSpec.from_dict(result.model_spec),
        result=json.loads((run / "run.json").read_text()),
    )
