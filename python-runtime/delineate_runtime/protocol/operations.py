"""The runtime's operations as plain functions, shared by the JSON-RPC handlers and the CLI.

Nothing here knows about JSON-RPC: inputs are paths and options, progress goes to a
callback ``report(stage, **fields)``, and bad inputs raise exceptions naming the file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from segment_anything.modeling import Sam

from ..data.images import image_key, load_image
from ..data.loader import open_dataset
from ..data.preprocess import Preprocessor
from ..export import read_bundle, requantize_bundle, write_bundle
from ..export.onnx_sam import OnnxSam
from ..models import ModelSpec, build_from_spec, build_sam_model, load_checkpoint

log = logging.getLogger(__name__)
Report = Callable[..., None]


def _quiet(stage: str, **fields: Any) -> None:
    log.info("%s %s", stage, fields or "")


def load_model(
    bundle: str | None = None,
    checkpoint: str | None = None,
    arch: str = "vit_b",
    image_size: int | None = None,
    model_options: dict[str, Any] | None = None,
) -> tuple[Sam, str]:
    """A model from a bundle (architecture from its model.json) or a checkpoint + arch."""
    if bundle:
        b = read_bundle(bundle, verify_hashes=False, check_onnx=False)
        spec = ModelSpec.from_dict(b.manifest.architecture)
        sam = build_from_spec(spec)
        load_checkpoint(sam, b.root / b.manifest.checkpoint)
        return sam.eval(), spec.arch
    sam = build_sam_model(arch, checkpoint, image_size=image_size, **(model_options or {}))
    return sam.eval(), arch


def dataset_images(dataset: str, limit: int, split: str | None = None) -> list[np.ndarray]:
    """Up to ``limit`` windowed images (0..255 float HxWx3) of a dataset, in a fixed order."""
    ds = open_dataset(dataset)
    records = ds.split(split) if split else ds.records  # type: ignore[arg-type]
    return [load_image(r.path, r.window) for r in records[:limit]]


def export_model(
    out_dir: str,
    *,
    model: dict[str, Any],
    quantize: str = "auto",
    calibration_dataset: str | None = None,
    max_calibration_images: int = 16,
    torchscript: bool = False,
    overwrite: bool = False,
    base_model: str | None = None,
    dataset_hash: str | None = None,
    training_config: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    report: Report = _quiet,
) -> dict[str, Any]:
    report("load_model")
    sam, arch = load_model(**model)
    images: list[np.ndarray] = []
    if calibration_dataset:
        report("read_calibration_images", dataset=calibration_dataset)
        images = dataset_images(calibration_dataset, max_calibration_images)
    report("export", quantize=quantize)
    bundle = write_bundle(
        out_dir,
        sam,
        arch=arch,
        base_model=base_model or model.get("checkpoint") or model.get("bundle"),
        dataset_hash=dataset_hash,
        training_config=training_config,
        metrics=metrics,
        images=images,
        quantize=quantize,  # type: ignore[arg-type]
        torchscript=torchscript,
        overwrite=overwrite,
    )
    return {
        "bundle": str(bundle.root),
        "parity": bundle.manifest.parity,
        "files": sorted(bundle.manifest.files),
    }


def quantize_bundle(
    bundle: str,
    method: str,
    calibration_dataset: str | None,
    max_calibration_images: int = 16,
    report: Report = _quiet,
) -> dict[str, Any]:
    images = (
        dataset_images(calibration_dataset, max_calibration_images) if calibration_dataset else []
    )
    report("quantize", method=method, calibration_images=len(images))
    b = requantize_bundle(bundle, method, images)  # type: ignore[arg-type]
    return {"bundle": str(b.root), "int8_vs_fp32": b.manifest.parity.get("int8_vs_fp32")}


def compute_embeddings(
    bundle: str,
    images: Sequence[dict[str, Any]],
    out_dir: str,
    int8: bool = False,
    report: Report = _quiet,
    should_cancel: Callable[[], bool] = lambda: False,
) -> dict[str, Any]:
    """Run the bundle's ONNX encoder on each image; write ``<out_dir>/<image key>.npy``.

    The key is the hash of the file's bytes plus its window (as the training cache keys
    images), so the app can look an embedding up without recomputing it."""
    b = read_bundle(bundle)
    m = b.manifest
    enc = b.root / (m.encoder_int8.file if int8 and m.encoder_int8 else m.encoder.file)
    runner = OnnxSam.load(
        enc,
        b.decoder,
        m.preprocessing.image_size,
        m.preprocessing.pixel_mean,
        m.preprocessing.pixel_std,
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    t0 = time.time()
    for i, ref in enumerate(images):
        if should_cancel():
            break
        img = load_image(ref["path"], ref.get("window"))
        emb = runner.embed(img)
        path = out / f"{image_key(ref['path'], ref.get('window'))}.npy"
        np.save(path, emb)
        written.append(
            {
                "image": ref["path"],
                "embedding": str(path),
                "shape": list(emb.shape),
                "orig_hw": list(img.shape[:2]),
            }
        )
        elapsed = time.time() - t0
        report(
            "embed", step=i + 1, steps=len(images), eta_s=elapsed / (i + 1) * (len(images) - i - 1)
        )
    return {"encoder": enc.name, "embeddings": written}


def evaluate_model(
    model: dict[str, Any],
    dataset: str,
    split: str = "val",
    base_model: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    report_path: str | None = None,
    report: Report = _quiet,
) -> dict[str, Any]:
    """Prompted/automatic metrics on a split; with ``base_model`` a before/after report."""
    from ..evaluation.evaluate import MODES, evaluate_records, val_score

    opts = dict(options or {})
    modes = tuple(opts.pop("modes", MODES))
    if opts:
        raise ValueError(f"unknown evaluate options {sorted(opts)}; known: ['modes']")
    ds = open_dataset(dataset)
    records = ds.split(split)  # type: ignore[arg-type]
    if not records:
        raise ValueError(f"dataset {dataset} has no {split!r} images")

    def run(which: str, ref: dict[str, Any]) -> dict[str, Any]:
        report("evaluate", model=which, images=len(records))
        sam, _ = load_model(**ref)
        pre = Preprocessor(
            sam.image_encoder.img_size,
            tuple(sam.pixel_mean.flatten().tolist()),
            tuple(sam.pixel_std.flatten().tolist()),
        )
        metrics = evaluate_records(sam, records, pre, ds.categories, modes)
        return {"metrics": metrics, "val_dice": val_score(metrics)}

    result: dict[str, Any] = {
        "dataset": dataset,
        "split": split,
        "images": len(records),
        "after": run("model", model),
    }
    if base_model is not None:
        result["before"] = run("base_model", base_model)
        result["delta_val_dice"] = result["after"]["val_dice"] - result["before"]["val_dice"]
    if report_path:
        import json

        Path(report_path).parent.mkdir(parents=True, exist_ok=True)
        Path(report_path).write_text(json.dumps(result, indent=2, default=float))
    return result
