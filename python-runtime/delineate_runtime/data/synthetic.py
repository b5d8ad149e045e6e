"""A synthetic lesion dataset written as a dataset snapshot (for tests and CPU demos).

CT-like slices: stored values are HU + 1024 in 16-bit PNGs (some as float HU ``.npy``), a
body ellipse of soft tissue with smooth texture and noise, and 1-3 "lesions": brighter
blobs with irregular borders and their own texture. Masks are COCO RLE; each image record
carries a soft-tissue window so the reader maps values the way a radiologist would see them.
Deterministic for a given seed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

HU_OFFSET = 1024
SOFT_TISSUE_WINDOW = {"center": 40.0, "width": 400.0}


@dataclass
class SyntheticSpec:
    n_images: int = 32
    height: int = 112
    width: int = 128
    seed: int = 0
    max_lesions: int = 3
    npy_every: int = 4  # every Nth image as float HU .npy (0 = never)
    classes: int = 1  # 2 adds darker "cyst" blobs as a second category


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    small = rng.standard_normal((cells, cells)).astype(np.float32)
    img = Image.fromarray(small, mode="F").resize((w, h), Image.Resampling.BICUBIC)
    return np.asarray(img, dtype=np.float32)


def _blob(rng: np.random.Generator, h: int, w: int, body: np.ndarray) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ys, xs = np.nonzero(body)
    i = rng.integers(len(ys))
    cy, cx = float(ys[i]), float(xs[i])
    r = rng.uniform(0.07, 0.16) * min(h, w)
    ang = np.arctan2(yy - cy, xx - cx)
    # Irregular border: radius modulated by a few random harmonics.
    radius = r * (
        1 + sum(rng.uniform(0, 0.15) * np.cos(k * ang + rng.uniform(0, 6.28)) for k in (2, 3, 5))
    )
    ecc = rng.uniform(0.7, 1.3)
    d = np.sqrt(((yy - cy) * ecc) ** 2 + ((xx - cx) / ecc) ** 2)
    return (d < radius) & body


def make_image(
    rng: np.random.Generator, spec: SyntheticSpec
) -> tuple[np.ndarray, list[tuple[int, np.ndarray]]]:
    h, w = spec.height, spec.width
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ry, rx = rng.uniform(0.38, 0.47) * h, rng.uniform(0.38, 0.47) * w
    body = ((yy - h / 2) / ry) ** 2 + ((xx - w / 2) / rx) ** 2 < 1
    hu = np.full((h, w), -1000.0, np.float32)  # air
    tissue = 30 + 25 * _smooth_noise(rng, h, w, 6) + 8 * _smooth_noise(rng, h, w, 20)
    hu[body] = tissue[body]
    instances: list[tuple[int, np.ndarray]] = []
    taken = np.zeros((h, w), bool)
    for _ in range(int(rng.integers(1, spec.max_lesions + 1))):
        m = _blob(rng, h, w, body & ~taken)
        if m.sum() < 20:
            continue
        cat = 1 if spec.classes == 1 or rng.random() < 0.6 else 2
        base = rng.uniform(120, 170) if cat == 1 else rng.uniform(-60, -30)
        texture = 15 * _smooth_noise(rng, h, w, 12)
        hu[m] = base + texture[m]
        taken |= m
        instances.append((cat, m))
    hu += rng.normal(0, 12, (h, w)).astype(np.float32)  # scanner noise
    return hu, instances


def write_snapshot(out_dir: str | Path, spec: SyntheticSpec | None = None) -> Path:
    spec = spec or SyntheticSpec()
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(spec.seed)
    images: list[dict[str, object]] = []
    anns: list[dict[str, object]] = []
    for idx in range(spec.n_images):
        hu, instances = make_image(rng, spec)
        if spec.npy_every and idx % spec.npy_every == spec.npy_every - 1:
            name = f"images/case_{idx:04d}.npy"
            np.save(out / name, hu.astype(np.float32))
            window = dict(SOFT_TISSUE_WINDOW)
        else:
            name = f"images/case_{idx:04d}.png"
            stored = np.clip(hu + HU_OFFSET, 0, 65535).astype(np.uint16)
            Image.fromarray(stored).save(out / name)
            window = {
                "center": SOFT_TISSUE_WINDOW["center"] + HU_OFFSET,
                "width": SOFT_TISSUE_WINDOW["width"],
            }
        images.append(
            {
                "id": idx + 1,
                "file_name": name,
                "height": spec.height,
                "width": spec.width,
                "window": window,
            }
        )
        for cat, m in instances:
            rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": idx + 1,
                    "category_id": cat,
                    "iscrowd": 0,
                    "segmentation": {"size": list(rle["size"]), "counts": rle["counts"].decode()},
                    "area": int(m.sum()),
                    "bbox": [float(v) for v in mask_utils.toBbox(rle)],
                }
            )
    cats = [{"id": 1, "name": "lesion"}] + ([{"id": 2, "name": "cyst"}] if spec.classes > 1 else [])
    coco = {
        "info": {"description": "Delineate synthetic lesions", "seed": spec.seed},
        "images": images,
        "annotations": anns,
        "categories": cats,
    }
    (out / "annotations.json").write_text(json.dumps(coco))
    return out
