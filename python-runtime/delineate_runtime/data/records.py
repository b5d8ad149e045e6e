"""The in-memory form of a dataset: images with their instance masks and split."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

Split = Literal["train", "val"]


@dataclass
class Instance:
    category_id: int
    mask: np.ndarray  # HxW bool


@dataclass
class ImageRecord:
    path: Path
    height: int
    width: int
    instances: list[Instance]
    split: Split
    window: dict[str, Any] | None = None
    image_id: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Dataset:
    root: Path
    records: list[ImageRecord]
    categories: dict[int, str]

    def split(self, which: Split) -> list[ImageRecord]:
        return [r for r in self.records if r.split == which]


def derived_split(file_name: str, val_fraction: float) -> Split:
    """Deterministic split from the file name's hash: stable across runs and machines,
    and an image never changes side when others are added."""
    h = int(hashlib.sha256(file_name.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "val" if h < val_fraction else "train"


def ensure_both_splits(records: list[ImageRecord]) -> None:
    """Tiny datasets can hash entirely to one side; move one image so both exist."""
    if len(records) < 2:
        return
    splits = {r.split for r in records}
    if splits == {"train"}:
        records[-1].split = "val"
    elif splits == {"val"}:
        records[0].split = "train"
