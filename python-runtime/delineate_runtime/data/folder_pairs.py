"""Read a plain folder of image/mask pairs.

Accepted layouts: ``images/NAME.ext`` + ``masks/NAME.png``; or ``NAME.ext`` next to
``NAME_mask.png``. Mask pixel values are class ids (0 = background); each connected class
value becomes one instance (we do not split connected components: a mask file has no
instance notion).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .images import DatasetError, read_raw
from .records import Dataset, ImageRecord, Instance, derived_split, ensure_both_splits

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


def read_folder_pairs(path: str | Path, val_fraction: float = 0.2) -> Dataset:
    root = Path(path)
    pairs = _pairs(root)
    if not pairs:
        raise DatasetError(f"{root}: no image/mask pairs (images/+masks/ or NAME_mask.png)")
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
                split=derived_split(img.name, val_fraction),
            )
        )
    if not records:
        raise DatasetError(f"{root}: every mask is empty")
    ensure_both_splits(records)
    cats = {c: str(c) for c in sorted({i.category_id for r in records for i in r.instances})}
    return Dataset(root=root, records=records, categories=cats)
