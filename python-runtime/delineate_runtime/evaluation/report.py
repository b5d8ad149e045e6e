"""Before/after report: the base model and the fine-tuned one on the same validation split."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..data.loader import open_dataset
from ..data.preprocess import Preprocessor
from ..models import ModelSpec, build_from_spec, load_checkpoint
from .evaluate import MODES, evaluate_records


def before_after_report(
    spec: ModelSpec | dict[str, Any],
    base_checkpoint: str | Path,
    tuned_checkpoint: str | Path,
    dataset: str | Path,
    out_json: str | Path | None = None,
    modes: tuple[str, ...] = MODES,
    val_fraction: float = 0.2,
) -> dict[str, Any]:
    spec = spec if isinstance(spec, ModelSpec) else ModelSpec.from_dict(spec)
    ds = open_dataset(dataset, val_fraction)
    val = ds.split("val")
    if not val:
        raise ValueError(f"dataset {dataset} has no validation images")
    pre = Preprocessor(spec.image_size, spec.pixel_mean, spec.pixel_std)
    results: dict[str, Any] = {}
    for name, ckpt in (("base", base_checkpoint), ("fine_tuned", tuned_checkpoint)):
        model = load_checkpoint(build_from_spec(spec), ckpt)
        results[name] = evaluate_records(model, val, pre, ds.categories, modes)  # type: ignore[arg-type]
    delta = {
        m: {
            "dice_mean": results["fine_tuned"][m]["dice_mean"] - results["base"][m]["dice_mean"],
            "miou": results["fine_tuned"][m]["miou"] - results["base"][m]["miou"],
        }
        for m in modes
    }
    report = {
        "dataset": str(dataset),
        "val_images": len(val),
        "val_files": [r.path.name for r in val],
        "model_spec": spec.to_dict(),
        "base_checkpoint": str(base_checkpoint),
        "fine_tuned_checkpoint": str(tuned_checkpoint),
        "base": results["base"],
        "fine_tuned": results["fine_tuned"],
        "delta": delta,
    }
    if out_json is not None:
        p = Path(out_json)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(json.dumps(report, indent=2))
        os.replace(tmp, p)
    return report
