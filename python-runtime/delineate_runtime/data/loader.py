"""Open a dataset from a path, whatever its form."""

from __future__ import annotations

from pathlib import Path

from .coco_snapshot import read_coco_snapshot
from .folder_pairs import FOLDER_SIDE_FILES, read_folder_pairs
from .images import DatasetError
from .records import Dataset


def open_dataset(path: str | Path, val_fraction: float = 0.2) -> Dataset:
    p = Path(path)
    if not p.exists():
        raise DatasetError(f"dataset not found: {p}")
    # split.json / window.json are side files of a folder of pairs, not COCO annotations.
    coco_jsons = [j for j in p.glob("*.json") if j.name not in FOLDER_SIDE_FILES]
    if p.is_file() or (p / "annotations.json").is_file() or coco_jsons:
        return read_coco_snapshot(p, val_fraction)
    return read_folder_pairs(p, val_fraction)
