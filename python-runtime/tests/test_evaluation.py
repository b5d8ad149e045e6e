"""Evaluation: prompted and automatic metrics, speed, FLOPs, before/after report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from delineate_runtime.data.loader import open_dataset
from delineate_runtime.data.preprocess import Preprocessor
from delineate_runtime.evaluation.evaluate import MODES, evaluate_records
from delineate_runtime.evaluation.metrics import aggregate, dice, epochs_to_fraction_of_best, iou
from delineate_runtime.evaluation.report import before_after_report
from delineate_runtime.evaluation.speed import flops_per_pixel, measure_fps
from delineate_runtime.models import build_from_spec, load_checkpoint


def test_metrics() -> None:
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    a[:2] = True
    b[1:3] = True
    assert dice(a, b) == pytest.approx(0.5) and iou(a, b) == pytest.approx(1 / 3)
    assert dice(a & False, b & False) == 1.0  # both empty: perfect
    agg = aggregate([("x", 1.0, 1.0), ("x", 0.0, 0.0), ("y", 0.5, 0.25)])
    assert agg["per_class"]["x"] == {"dice": 0.5, "iou": 0.5, "n": 2}
    assert agg["dice_mean"] == pytest.approx(0.5) and agg["miou"] == pytest.approx(0.375)
    assert epochs_to_fraction_of_best([0.1, 0.5, 0.85, 0.9, 1.0]) == 4
    assert epochs_to_fraction_of_best([]) is None


def test_all_modes_on_the_trained_model(trained_tiny) -> None:
    ds = open_dataset(trained_tiny.dataset)
    spec = trained_tiny.spec
    model = load_checkpoint(build_from_spec(spec), trained_tiny.checkpoint)
    pre = Preprocessor(spec.image_size)
    res = evaluate_records(model, ds.split("val"), pre, ds.categories, MODES)
    print("\nfine-tuned tiny on val:", {m: round(v["dice_mean"], 3) for m, v in res.items()})
    assert set(res) == set(MODES)
    for m in MODES:
        assert (
            0.0 <= res[m]["dice_mean"] <= 1.0
            and 0.0 <= res[m]["miou"] <= res[m]["dice_mean"] + 1e-9
        )
    assert res["box"]["dice_mean"] > 0.3
    assert res["box"]["per_class"]["lesion"]["n"] == sum(len(r.instances) for r in ds.split("val"))
    assert res["auto"]["per_class"]["all"]["n"] == len(ds.split("val"))


def test_before_after_report(trained_tiny, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    rep = before_after_report(
        trained_tiny.spec,
        trained_tiny.initial,
        trained_tiny.checkpoint,
        trained_tiny.dataset,
        out,
        modes=("box", "click1"),
    )
    on_disk = json.loads(out.read_text())
    assert on_disk["delta"] == rep["delta"]
    print(
        f"\nbefore/after box Dice: {rep['base']['box']['dice_mean']:.3f} -> "
        f"{rep['fine_tuned']['box']['dice_mean']:.3f}"
    )
    assert rep["delta"]["box"]["dice_mean"] > 0.3
    assert rep["val_images"] == len(rep["val_files"]) > 0


def test_fps_at_1024_and_flops_per_pixel(make_tiny_sam) -> None:
    big = make_tiny_sam(image_size=1024)
    fps = measure_fps(big, warmup=1, iters=1, decoder_iters=3)
    print("\ntiny @1024:", {k: round(v, 2) if isinstance(v, float) else v for k, v in fps.items()})
    assert fps["input_size"] == 1024 and fps["encoder_fps"] > 0 and fps["decoder_fps"] > 0
    f4 = flops_per_pixel(make_tiny_sam(image_size=128))
    f2 = flops_per_pixel(
        make_tiny_sam(image_size=128, encoder_depth=2, encoder_global_attn_indexes=(1,))
    )
    assert f4["encoder_flops"] > 1.5 * f2["encoder_flops"]  # twice the blocks
    assert f4["decoder_flops"] == f2["decoder_flops"]  # same decoder
    assert f4["total_flops_per_pixel"] == pytest.approx(
        (f4["encoder_flops"] + f4["decoder_flops"]) / 128**2
    )


def test_per_class_dice_with_two_classes(tmp_path: Path, make_tiny_sam) -> None:
    from delineate_runtime.data.synthetic import SyntheticSpec, write_snapshot

    root = write_snapshot(tmp_path / "two", SyntheticSpec(n_images=6, classes=2, seed=2))
    ds = open_dataset(root)
    res = evaluate_records(make_tiny_sam(), ds.records, Preprocessor(128), ds.categories, ("box",))
    per = res["box"]["per_class"]
    assert set(per) == {"lesion", "cyst"}
    n = {
        name: sum(
            1 for r in ds.records for i in r.instances if ds.categories[i.category_id] == name
        )
        for name in per
    }
    assert {k: v["n"] for k, v in per.items()} == n
    assert res["box"]["dice_mean"] == pytest.approx(
        (per["lesion"]["dice"] + per["cyst"]["dice"]) / 2
    )
