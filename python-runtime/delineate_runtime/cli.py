"""Command line: ``python -m delineate_runtime <command>``.

    info                      versions, device, capabilities (JSON)
    schema                    the JSON-RPC contract as JSON Schema (for the Node side)
    serve                     JSON-RPC 2.0 over stdio (Content-Length framing)
    train --config x.json     fine-tune (also under torchrun); Ctrl-C saves a resumable checkpoint
    evaluate                  metrics on a dataset split, optional before/after report
    export                    write a model bundle (ONNX fp32 + int8, checkpoint, model.json)
    quantize                  re-quantize a bundle's int8 files
    make-tiny                 build (and optionally train) a tiny SAM and write its bundle
    bench                     speed/memory benchmark (JSON)

Results go to stdout as JSON; progress and logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any


def _print_json(value: Any) -> None:
    from .protocol.jsonsafe import to_json_safe

    print(json.dumps(to_json_safe(value), indent=2))


def _stderr_report(stage: str, **fields: Any) -> None:
    print(json.dumps({"stage": stage, **fields}, default=str), file=sys.stderr, flush=True)


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bundle", help="model bundle folder")
    p.add_argument("--checkpoint", help="SAM checkpoint (official layout)")
    p.add_argument(
        "--arch", default="vit_b", help="vit_b | vit_l | vit_h | vit_t (MobileSAM) | efficientsam_ti (EfficientSAM-Ti) | tiny (with --checkpoint or none)"
    )
    p.add_argument("--image-size", type=int)


def _model_ref(a: argparse.Namespace, prefix: str = "") -> dict[str, Any]:
    return {
        "bundle": getattr(a, prefix + "bundle"),
        "checkpoint": getattr(a, prefix + "checkpoint"),
        "arch": getattr(a, prefix + "arch"),
        "image_size": getattr(a, prefix + "image_size", None),
    }


def cmd_info(_: argparse.Namespace) -> int:
    from .protocol.handlers import Handlers
    from .protocol.jobs import JobManager
    from .protocol.methods import NoParams

    _print_json(Handlers(JobManager(lambda *_: None)).runtime_info(NoParams()).model_dump())
    return 0


def cmd_schema(_: argparse.Namespace) -> int:
    from .export.manifest import Manifest
    from .protocol.methods import contract

    _print_json({**contract(), "model_json": Manifest.model_json_schema()})
    return 0


def cmd_serve(_: argparse.Namespace) -> int:
    from .protocol.server import serve_stdio

    return serve_stdio()


def cmd_train(a: argparse.Namespace) -> int:
    from .training import TrainConfig, train

    try:
        raw = json.loads(Path(a.config).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        print(f"cannot read training config {a.config}: {exc}", file=sys.stderr)
        return 2
    for item in a.set or []:
        key, _, value = item.partition("=")
        try:
            raw[key] = json.loads(value)
        except json.JSONDecodeError:
            raw[key] = value
    cfg = TrainConfig.from_dict(raw)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())  # first Ctrl-C: checkpoint and stop
    result = train(
        cfg,
        lambda ev: _stderr_report(
            str(ev.get("stage", "train")), **{k: v for k, v in ev.items() if k != "stage"}
        ),
        stop.is_set,
    )
    if os.environ.get("RANK", "0") == "0":  # under torchrun only rank 0 prints the result
        _print_json(result.to_dict())
    return 0 if result.status != "cancelled" else 130


def cmd_evaluate(a: argparse.Namespace) -> int:
    from .protocol.operations import evaluate_model

    base = _model_ref(a, "base_") if (a.base_bundle or a.base_checkpoint or a.base_random) else None
    if a.base_random and base is not None:
        base["arch"] = a.base_arch
    options = {"modes": a.modes.split(",")} if a.modes else {}
    _print_json(
        evaluate_model(
            _model_ref(a), a.dataset, a.split, base, options, a.report, report=_stderr_report
        )
    )
    return 0


def cmd_export(a: argparse.Namespace) -> int:
    from .protocol.operations import export_model

    result = export_model(
        a.out,
        model=_model_ref(a),
        quantize=a.quantize,
        calibration_dataset=a.calibration_dataset,
        max_calibration_images=a.max_calibration_images,
        torchscript=a.torchscript,
        overwrite=a.overwrite,
        report=_stderr_report,
    )
    _print_json(result)
    return 0


def cmd_quantize(a: argparse.Namespace) -> int:
    from .protocol.operations import quantize_bundle

    _print_json(
        quantize_bundle(
            a.bundle,
            a.method,
            a.calibration_dataset,
            a.max_calibration_images,
            report=_stderr_report,
        )
    )
    return 0


def cmd_make_tiny(a: argparse.Namespace) -> int:
    import torch

    from .export import write_bundle
    from .models import build_sam_model, load_checkpoint
    from .protocol.operations import dataset_images

    torch.manual_seed(a.seed)
    sam = build_sam_model("tiny", image_size=a.image_size)
    metrics: dict[str, Any] = {}
    training_config = dataset_hash = None
    images: list[Any] = []
    if a.train:
        from .data.synthetic import SyntheticSpec, write_snapshot
        from .training import train

        work = Path(a.work_dir or tempfile.mkdtemp(prefix="delineate-tiny-"))
        dataset = a.dataset or str(
            write_snapshot(work / "dataset", SyntheticSpec(n_images=a.images, seed=a.seed))
        )
        cfg = {
            "dataset": dataset,
            "run_dir": str(work / "run"),
            "arch": "tiny",
            "image_size": a.image_size,
            "epochs": a.epochs,
            "lr": a.lr,
            "batch_size": 4,
            "seed": a.seed,
        }
        result = train(
            cfg,
            lambda ev: _stderr_report(
                str(ev.get("stage")), **{k: v for k, v in ev.items() if k != "stage"}
            ),
        )
        if result.best_checkpoint:
            load_checkpoint(sam, result.best_checkpoint)
        metrics = {"best_val_dice": result.best_val_dice, "start_val_dice": result.start_val_dice}
        training_config = cfg
        images = dataset_images(dataset, 8)
    bundle = write_bundle(
        a.out,
        sam,
        arch="tiny",
        base_model="tiny (random init)",
        dataset_hash=dataset_hash,
        training_config=training_config,
        metrics=metrics,
        images=images,
        torchscript=a.torchscript,
        overwrite=a.overwrite,
    )
    _print_json({"bundle": str(bundle.root), "metrics": metrics, "parity": bundle.manifest.parity})
    return 0


def cmd_bench(a: argparse.Namespace) -> int:
    from .bench.run import run_bench

    _print_json(
        run_bench(
            models=a.models.split(","),
            iterations=a.iterations,
            train_steps=a.train_steps,
            threads=a.threads,
            vit_b_size=a.vit_b_size,
            vit_b_train=a.vit_b_train,
            static=True if a.static else None,
            torch_speed=a.torch_speed,
        )
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m delineate_runtime", description="Delineate SAM runtime"
    )
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="versions, device, capabilities").set_defaults(fn=cmd_info)
    sub.add_parser("schema", help="JSON-RPC contract as JSON Schema").set_defaults(fn=cmd_schema)
    sub.add_parser("serve", help="JSON-RPC over stdio").set_defaults(fn=cmd_serve)

    p = sub.add_parser("train", help="fine-tune from a JSON config")
    p.add_argument("--config", required=True)
    p.add_argument("--set", action="append", metavar="KEY=JSON", help="override a config field")
    p.set_defaults(fn=cmd_train)

    p = sub.add_parser("evaluate", help="metrics on a dataset split")
    _model_args(p)
    p.add_argument("--dataset", required=True)
    p.add_argument("--split", default="val", choices=("train", "val"))
    p.add_argument("--modes", help="comma list of click1,click3,box,auto")
    p.add_argument("--base-bundle")
    p.add_argument("--base-checkpoint")
    p.add_argument("--base-arch", default="vit_b")
    p.add_argument("--base-image-size", type=int)
    p.add_argument(
        "--base-random", action="store_true", help="compare with a randomly initialised base"
    )
    p.add_argument("--report", help="write the JSON report here too")
    p.set_defaults(fn=cmd_evaluate)

    p = sub.add_parser("export", help="write a model bundle")
    _model_args(p)
    p.add_argument("--out", required=True)
    p.add_argument("--quantize", default="auto", choices=("auto", "dynamic", "static", "none"))
    p.add_argument("--calibration-dataset")
    p.add_argument("--max-calibration-images", type=int, default=16)
    p.add_argument("--torchscript", action="store_true")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(fn=cmd_export)

    p = sub.add_parser("quantize", help="re-quantize a bundle's int8 files")
    p.add_argument("--bundle", required=True)
    p.add_argument("--method", default="static", choices=("dynamic", "static"))
    p.add_argument("--calibration-dataset")
    p.add_argument("--max-calibration-images", type=int, default=16)
    p.set_defaults(fn=cmd_quantize)

    p = sub.add_parser("make-tiny", help="build (and optionally train) a tiny SAM bundle")
    p.add_argument("--out", required=True)
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument(
        "--train", action="store_true", help="fine-tune on a synthetic (or given) dataset first"
    )
    p.add_argument("--dataset")
    p.add_argument("--work-dir")
    p.add_argument("--images", type=int, default=24)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--torchscript", action="store_true")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(fn=cmd_make_tiny)

    p = sub.add_parser("bench", help="speed and memory benchmark (JSON)")
    p.add_argument("--models", default="tiny,vit_b", help="comma list of tiny,vit_b")
    p.add_argument("--iterations", type=int, default=3)
    p.add_argument("--train-steps", type=int, default=6)
    p.add_argument("--threads", type=int, default=0, help="0 = library default")
    p.add_argument(
        "--vit-b-size",
        type=int,
        default=512,
        help="vit_b input size (1024 = standard, slow on CPU)",
    )
    p.add_argument(
        "--vit-b-train", action="store_true", help="also time vit_b training steps (slow on CPU)"
    )
    p.add_argument(
        "--static", action="store_true", help="static int8 for every model (tiny always)"
    )
    p.add_argument(
        "--torch-speed", action="store_true", help="also PyTorch encoder/decoder FPS for vit_b"
    )
    p.set_defaults(fn=cmd_bench)
    return ap


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    if a.command != "serve":
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        return int(a.fn(a) or 0)
    except Exception as exc:
        if not _is_input_error(exc):
            raise
        # Bad input: one clear sentence naming the file, not a stack trace.
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _is_input_error(exc: Exception) -> bool:
    if isinstance(exc, (FileNotFoundError, FileExistsError, ValueError)):
        return True
    # Imported here so light commands (schema) never import torch.
    from .data.images import DatasetError
    from .export import BundleError
    from .models import CheckpointError

    return isinstance(exc, (CheckpointError, BundleError, DatasetError))
