"""Dataset snapshots (COCO RLE, 16-bit PNG, float .npy, windows, splits) and folder pairs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from delineate_runtime.data.images import DatasetError, apply_window, load_image
from delineate_runtime.data.loader import open_dataset
from delineate_runtime.data.records import derived_split
from delineate_runtime.data.synthetic import SyntheticSpec, write_snapshot


def test_synthetic_snapshot_is_deterministic_by_seed(tmp_path: Path) -> None:
    a = write_snapshot(tmp_path / "a", SyntheticSpec(n_images=4, seed=7))
    b = write_snapshot(tmp_path / "b", SyntheticSpec(n_images=4, seed=7))
    c = write_snapshot(tmp_path / "c", SyntheticSpec(n_images=4, seed=8))
    ja, jb, jc = ((p / "annotations.json").read_text() for p in (a, b, c))
    assert ja == jb and ja != jc
    assert (a / "images/case_0000.png").read_bytes() == (b / "images/case_0000.png").read_bytes()


def test_snapshot_reads_16bit_png_npy_windows_and_rle(synthetic_snapshot: Path) -> None:
    ds = open_dataset(synthetic_snapshot)
    coco = json.loads((synthetic_snapshot / "annotations.json").read_text())
    assert len(ds.records) == len(coco["images"])
    kinds = {r.path.suffix for r in ds.records}
    assert kinds == {".png", ".npy"}
    png = next(r for r in ds.records if r.path.suffix == ".png")
    assert np.array(Image.open(png.path)).dtype == np.uint16  # really 16-bit on disk
    img = load_image(png.path, png.window)
    assert img.shape == (112, 128, 3) and img.min() >= 0 and img.max() <= 255
    # The window maps air (-1000 HU) to black and lesions (~150 HU) near white.
    inst = png.instances[0]
    assert img[..., 0][inst.mask].mean() > 150 and img[0, 0, 0] == 0
    ann = next(a for a in coco["annotations"] if a["image_id"] == png.image_id)
    assert (
        int(sum(i.mask.sum() for i in png.instances if i.mask.sum() == ann["area"])) == ann["area"]
    )
    assert ds.categories == {1: "lesion"}


def test_split_given_or_derived_deterministically(tmp_path: Path) -> None:
    root = write_snapshot(tmp_path / "s", SyntheticSpec(n_images=10, seed=1))
    derived = [r.split for r in open_dataset(root).records]
    assert derived == [r.split for r in open_dataset(root).records]
    assert set(derived) == {"train", "val"}
    assert derived_split("case_0001.png", 0.2) == derived_split("case_0001.png", 0.2)
    coco = json.loads((root / "annotations.json").read_text())
    for im in coco["images"]:
        im["split"] = "val" if im["id"] <= 3 else "train"
    (root / "annotations.json").write_text(json.dumps(coco))
    assert [r.split for r in open_dataset(root).records][:4] == ["val", "val", "val", "train"]


def test_uncompressed_rle_and_polygons(tmp_path: Path) -> None:
    (tmp_path / "img.png").write_bytes(b"")
    Image.fromarray(np.full((20, 30), 100, np.uint8)).save(tmp_path / "img.png")
    m = np.zeros((20, 30), np.uint8)
    m[5:10, 3:9] = 1
    counts, prev, run = [], 0, 0
    for v in m.flatten(order="F"):
        if v == prev:
            run += 1
        else:
            counts.append(run)
            prev, run = v, 1
    counts.append(run)
    coco = {
        "images": [{"id": 1, "file_name": "img.png", "height": 20, "width": 30}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "segmentation": {"size": [20, 30], "counts": counts},
            },
            {
                "id": 2,
                "image_id": 1,
                "category_id": 2,
                "segmentation": [[20, 2, 28, 2, 28, 12, 20, 12]],
            },
        ],
        "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
    }
    (tmp_path / "annotations.json").write_text(json.dumps(coco))
    rec = open_dataset(tmp_path).records[0]
    assert np.array_equal(rec.instances[0].mask, m.astype(bool))
    assert rec.instances[1].mask[5, 24] and not rec.instances[1].mask[15, 24]
    assert rec.window is None and load_image(rec.path).max() == 100  # 8-bit passes through


def test_bad_snapshots_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "annotations.json").write_text("{not json")
    with pytest.raises(DatasetError, match="annotations.json"):
        open_dataset(tmp_path)
    coco = {
        "images": [{"id": 1, "file_name": "missing.png", "height": 4, "width": 4}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "segmentation": mask_utils.encode(np.asfortranarray(np.ones((4, 4), np.uint8)))
                | {"counts": "bad"},
            }
        ],
    }
    (tmp_path / "annotations.json").write_text(json.dumps(coco))
    with pytest.raises(DatasetError, match="missing.png"):
        open_dataset(tmp_path)


def test_window_and_float_npy() -> None:
    raw = np.array([[-1000.0, 40.0, 240.0]], np.float32)
    out = apply_window(raw, {"center": 40, "width": 400})
    assert out.shape == (1, 3, 3)
    assert np.allclose(out[0, :, 0], [0.0, 127.5, 255.0])


def test_folder_of_pairs(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    for i in range(5):
        img = np.random.default_rng(i).integers(0, 255, (24, 32, 3), dtype=np.uint8)
        m = np.zeros((24, 32), np.uint8)
        m[4:10, 5:12] = 1
        m[15:20, 20:30] = 2
        Image.fromarray(img).save(tmp_path / "images" / f"p{i}.png")
        Image.fromarray(m).save(tmp_path / "masks" / f"p{i}.png")
    ds = open_dataset(tmp_path)
    assert len(ds.records) == 5 and {r.split for r in ds.records} == {"train", "val"}
    assert [i.category_id for i in ds.records[0].instances] == [1, 2]
    assert ds.records[0].instances[1].mask.sum() == 50
    (tmp_path / "masks" / "p3.png").unlink()
    with pytest.raises(DatasetError, match="p3.png"):
        open_dataset(tmp_path)


def _pairs16(root: Path, n: int) -> None:
    (root / "images").mkdir()
    (root / "masks").mkdir()
    for i in range(n):
        img = np.full((8, 8), 1024 + 40 + i, np.uint16)  # HU 40+i stored with offset 1024
        m = np.zeros((8, 8), np.uint8)
        m[2:5, 2:5] = 1
        Image.fromarray(img).save(root / "images" / f"s{i}.png")
        Image.fromarray(m).save(root / "masks" / f"s{i}.png")


def test_folder_pairs_honour_split_json_and_window_json(tmp_path: Path) -> None:
    _pairs16(tmp_path, 4)
    (tmp_path / "split.json").write_text(json.dumps({"train": ["s0.png", "s1.png"], "val": ["s2.png"]}))
    (tmp_path / "window.json").write_text(
        json.dumps({"default": {"center": 1064, "width": 400}, "images": {"s3.png": {"center": 1000, "width": 100}}})
    )
    ds = open_dataset(tmp_path)
    by = {r.path.name: r for r in ds.records}
    assert [by[f"s{i}.png"].split for i in range(3)] == ["train", "train", "val"]
    assert by["s3.png"].split == derived_split("s3.png", 0.2)  # not named: hashed
    assert by["s0.png"].window == {"center": 1064.0, "width": 400.0}
    assert by["s3.png"].window == {"center": 1000.0, "width": 100.0}
    px = load_image(by["s0.png"].path, by["s0.png"].window)
    assert np.allclose(px[0, 0], (1064 - (1064 - 200)) / 400 * 255)  # stored 1064 at the window's centre
    (tmp_path / "split.json").write_text(json.dumps({"s9.png": "val"}))
    with pytest.raises(DatasetError, match="s9.png"):
        open_dataset(tmp_path)
    (tmp_path / "split.json").write_text(json.dumps({"s0.png": "test"}))
    with pytest.raises(DatasetError, match="'train' or 'val'"):
        open_dataset(tmp_path)
