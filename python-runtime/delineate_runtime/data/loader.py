"""Open a dataset from a path, whatever its form."""

from __future__ import annotations

from pathlib import Path

from .coco_snapshot import read_coco_snapshot
from .folder_pairs import read_folder_pairs
from .images import DatasetError
from .records import Dataset


def open_dataset(path: str | Path, val_fraction: float = 0.2) -> Dataset:
    p = Path(path)
    if not p.exists():
        raise DatasetError(f"dataset not found: {p}")
    if p.is_file() or (p / "annotations.json").is_file() or list(p.glob("*.json")):
        return read_coco_snapshot(p, val_fraction)
    return read_folder_pairs(p, val_fraction)
