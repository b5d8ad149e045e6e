"""Read a plain folder of image/mask pairs.

Accepted layouts: ``images/NAME.ext`` + ``masks/NAME.png``; or ``NAME.ext`` next to
``NAME_mask.png``. Mask pixel values are class ids (0 = background); each connected class
value becomes one instance (we do not split connected components: a mask file has no
instance notion).

Optional side files in the folder:
  ``split.json``:  ``{"train": [names], "val": [names]}`` or ``{name: "train" | "val"}``; names
                   are image file names. Images it does not name get the hashed split; a name
                   that matches no image is an error (a typo would silently train on it).
  ``window.json``: ``{"center": c, "width": w}`` for every image, or
                   ``{"default": {...}, "images": {name: {...}}}``; applied to 16-bit / float
                   pixel values as in the snapshot (DICOM linear VOI).
The app writes dataset snapshots (COCO); this reader is for data prepared by hand.
"""

from __future__ import annotations

from pathlib import Path

import json
from typing import Any

import numpy as np

from .images import DatasetError, read_raw
from .records import Dataset, ImageRecord, Instance, derived_split, ensure_both_splits

FOLDER_SIDE_FILES = frozenset({"split.json", "window.json"})
IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".npy"}


def _pairs(root: Path) -> list[tuple[Path, Path]]:
    if (root / "images").is_dir() and (root / "masks").is_dir():
        pairs = []
        for img in sorted((root / "images").iterdir()):
            if img.suffix.lower() not in IMAGE_EXTS:
                continue
            cands = [root / "masks" / f"{img.stem}{e}" for e in (".png", ".npy", ".tif")]
            mask = next((c for c in cands if c.is_file()), None)
            if mask is None:
                raise DatasetError(f"no mask for {img} in {root / 'masks'}")
            pairs.append((img, mask))
        return pairs
    pairs = []
    for mask in sorted(root.glob("*_mask.*")):
        stem = mask.name.split("_mask.")[0]
        found = next(
            (root / f"{stem}{e}" for e in IMAGE_EXTS if (root / f"{stem}{e}").is_file()), None
        )
        if found is None:
            raise DatasetError(f"mask {mask} has no image named {stem}.*")
        img = found
        pairs.append((img, mask))
    return pairs


def _side_json(root: Path, name: str) -> Any:
    p = root / name
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text())
    except ValueError as exc:
        raise DatasetError(f"{p}: not valid JSON: {exc}") from exc


def _splits(root: Path, names: set[str]) -> dict[str, str]:
    raw = _side_json(root, "split.json")
    if raw is None:
        return {}
    where = root / "split.json"
    out: dict[str, str] = {}
    if isinstance(raw, dict) and set(raw) <= {"train", "val"} and all(isinstance(v, list) for v in raw.values()):
        for side, listed in raw.items():
            for n in listed:
                out[str(n)] = side
    elif isinstance(raw, dict):
        out = {str(k): v for k, v in raw.items()}
    else:
        raise DatasetError(f"{where}: expected {{'train': [...], 'val': [...]}} or {{name: side}}")
    bad = sorted(n for n, side in out.items() if side not in ("train", "val"))
    if bad:
        raise DatasetError(f"{where}: split must be 'train' or 'val' for {bad[:5]}")
    unknown = sorted(set(out) - names)
    if unknown:
        raise DatasetError(f"{where}: names no image in the folder: {unknown[:5]}")
    return out


def _window_of(raw: Any, name: str, where: Path) -> dict[str, float] | None:
    if raw is None:
        return None
    w = raw.get("images", {}).get(name, raw.get("default")) if "images" in raw or "default" in raw else raw
    if w is None:
        return None
    try:
        c, width = float(w["center"]), float(w["width"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"{where}: window for {name} needs numeric center and width") from exc
    if not width > 0:
        raise DatasetError(f"{where}: window width for {name} must be positive")
    return {"center": c, "width": width}


def read_folder_pairs(path: str | Path, val_fraction: float = 0.2) -> Dataset:
    root = Path(path)
    pairs = _pairs(root)
    if not pairs:
        raise DatasetError(f"{root}: no image/mask pairs (images/+masks/ or NAME_mask.png)")
    splits = _splits(root, {img.name for img, _ in pairs})
    windows = _side_json(root, "window.json")
    records = []
    for img, mask_path in pairs:
        raw = read_raw(img)
        m = read_raw(mask_path)
        if m.ndim == 3:
            m = m[..., 0]
        if m.shape != raw.shape[:2]:
            raise DatasetError(f"mask {mask_path} is {m.shape}, image {img} is {raw.shape[:2]}")
        instances = [Instance(int(v), m == v) for v in np.unique(m) if v != 0]
        if not instances:
            continue
        records.append(
            ImageRecord(
                path=img,
                height=raw.shape[0],
                width=raw.shape[1],
                instances=instances,
                split=splits.get(img.name) or derived_split(img.name, val_fraction),
                window=_window_of(windows, img.name, root / "window.json"),
            )
        )
    if not records:
        raise DatasetError(f"{root}: every mask is empty")
    if not splits:
        ensure_both_splits(records)
    cats = {c: str(c) for c in sorted({i.category_id for r in records for i in r.instances})}
    return Dataset(root=root, records=records, categories=cats)
