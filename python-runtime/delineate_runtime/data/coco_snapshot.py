"""Read a dataset snapshot: COCO instance segmentation with RLE masks.

Layout (written by the app, see ../shared/ARCHITECTURE.md): a folder holding one COCO JSON
(``annotations.json``, or the only ``*.json``) and the image files it names, relative to the
folder. Per image record, optional fields:
  ``window``: {"center": c, "width": w} applied to 16-bit PNG / float .npy pixel values;
  ``split``:  "train" or "val" (otherwise derived deterministically from the file name).
Segmentations may be compressed RLE, uncompressed RLE (list counts) or polygons.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from .images import DatasetError
from .records import Dataset, ImageRecord, Instance, derived_split, ensure_both_splits


def find_annotation_file(root: Path) -> Path:
    if root.is_file():
        return root
    preferred = root / "annotations.json"
    if preferred.is_file():
        return preferred
    candidates = sorted(root.glob("*.json"))
    if len(candidates) == 1:
        return candidates[0]
    raise DatasetError(
        f"dataset snapshot {root}: expected annotations.json (found {[c.name for c in candidates]})"
    )


def decode_segmentation(seg: Any, h: int, w: int, where: str) -> np.ndarray:
    try:
        if isinstance(seg, list):  # polygons
            rles = mask_utils.frPyObjects(seg, h, w)
            rle = mask_utils.merge(rles)
        elif isinstance(seg, dict) and isinstance(seg.get("counts"), list):
            rle = mask_utils.frPyObjects(seg, h, w)
        elif isinstance(seg, dict) and isinstance(seg.get("counts"), str):
            rle = {"size": seg["size"], "counts": seg["counts"].encode()}
        else:
            raise ValueError("segmentation is neither RLE nor polygons")
        m = mask_utils.decode(rle)
    except (ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"{where}: bad segmentation: {exc}") from exc
    if m.shape[:2] != (h, w):
        raise DatasetError(f"{where}: mask size {m.shape[:2]} != image size {(h, w)}")
    return m.astype(bool)


def read_coco_snapshot(path: str | Path, val_fraction: float = 0.2) -> Dataset:
    ann_path = find_annotation_file(Path(path))
    root = ann_path.parent
    try:
        coco = json.loads(ann_path.read_text())
        images = coco["images"]
        anns = coco.get("annotations", [])
        cats = {int(c["id"]): str(c.get("name", c["id"])) for c in coco.get("categories", [])}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"{ann_path}: not a COCO annotation file: {exc}") from exc

    by_image: dict[int, list[dict[str, Any]]] = {}
    for a in anns:
        by_image.setdefault(int(a["image_id"]), []).append(a)

    records: list[ImageRecord] = []
    for im in images:
        where = f"{ann_path} image {im.get('id')} ({im.get('file_name')})"
        try:
            h, w, file_name = int(im["height"]), int(im["width"]), str(im["file_name"])
        except (KeyError, ValueError) as exc:
            raise DatasetError(f"{where}: missing field {exc}") from exc
        instances = [
            Instance(
                int(a.get("category_id", 1)),
                decode_segmentation(a["segmentation"], h, w, f"{where} annotation {a.get('id')}"),
            )
            for a in by_image.get(int(im["id"]), [])
            if not a.get("iscrowd", 0)
        ]
        instances = [i for i in instances if i.mask.any()]
        if not instances:
            continue  # unlabelled images teach nothing to a prompted model
        split = im.get("split") or derived_split(file_name, val_fraction)
        if split not in ("train", "val"):
            raise DatasetError(f"{where}: split must be 'train' or 'val', got {split!r}")
        records.append(
            ImageRecord(
                path=root / file_name,
                height=h,
                width=w,
                instances=instances,
                split=split,
                window=im.get("window"),
                image_id=int(im["id"]),
            )
        )
    if not records:
        raise DatasetError(f"{ann_path}: no image has a non-empty annotation")
    if not any("split" in im for im in images):
        ensure_both_splits(records)
    if not cats:
        cats = {c: str(c) for c in sorted({i.category_id for r in records for i in r.instances})}
    return Dataset(root=root, records=records, categories=cats)
