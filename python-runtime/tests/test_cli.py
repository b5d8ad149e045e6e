"""The CLI as users run it: ``python -m delineate_runtime ...`` in a child process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from delineate_runtime.export import read_bundle

PKG_ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": str(PKG_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    return subprocess.run(
        [sys.executable, "-m", "delineate_runtime", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=PKG_ROOT,
        timeout=timeout,
    )


def test_info_and_schema_print_json():
    info = json.loads(run_cli("info").stdout)
    assert info["device"] == "cpu" and "export.onnx" in info["methods"]
    schema = json.loads(run_cli("schema").stdout)
    assert "train.start" in schema["methods"] and "job.progress" in schema["notifications"]
    assert "preprocessing" in schema["model_json"]["properties"]


def test_export_with_corrupt_checkpoint_is_one_clear_line(tmp_path):
    bad = tmp_path / "sam_vit_b.pth"
    bad.write_bytes(b"definitely not a checkpoint")
    proc = run_cli(
        "export", "--arch", "tiny", "--checkpoint", str(bad), "--out", str(tmp_path / "b")
    )
    assert proc.returncode == 2
    assert str(bad) in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "b").exists()


def test_make_tiny_trains_and_writes_a_valid_bundle(tmp_path):
    out = tmp_path / "tiny-bundle"
    proc = run_cli(
        "make-tiny",
        "--out",
        str(out),
        "--train",
        "--epochs",
        "1",
        "--images",
        "8",
        "--work-dir",
        str(tmp_path / "work"),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["metrics"]["best_val_dice"] is not None
    bundle = read_bundle(out)
    assert bundle.manifest.training_config["epochs"] == 1
    assert (
        bundle.manifest.encoder_int8 is not None and bundle.manifest.encoder_int8.method == "static"
    )
    # progress went to stderr as JSON lines, stdout holds only the result
    assert any('"stage": "train"' in line for line in proc.stderr.splitlines())


def test_train_then_evaluate_before_after(tmp_path):
    from delineate_runtime.data.synthetic import SyntheticSpec, write_snapshot

    dataset = write_snapshot(tmp_path / "data", SyntheticSpec(n_images=8, seed=5))
    config = tmp_path / "train.json"
    config.write_text(
        json.dumps(
            {
                "dataset": str(dataset),
                "run_dir": str(tmp_path / "run"),
                "arch": "tiny",
                "epochs": 1,
                "lr": 1e-3,
            }
        )
    )
    proc = run_cli("train", "--config", str(config), "--set", "max_steps_per_epoch=2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["status"] == "completed" and result["epochs_completed"] == 1
    report = tmp_path / "report.json"
    proc = run_cli(
        "evaluate",
        "--checkpoint",
        result["best_checkpoint"],
        "--arch",
        "tiny",
        "--dataset",
        str(dataset),
        "--modes",
        "box,click1",
        "--base-random",
        "--base-arch",
        "tiny",
        "--report",
        str(report),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert set(out) >= {"before", "after", "delta_val_dice"}
    assert out["delta_val_dice"] == out["after"]["val_dice"] - out["before"]["val_dice"]
    assert json.loads(report.read_text())["images"] == out["images"]


def test_train_with_bad_config_file_names_it(tmp_path):
    bad = tmp_path / "cfg.json"
    bad.write_text("{oops")
    proc = run_cli("train", "--config", str(bad))
    assert proc.returncode == 2 and str(bad) in proc.stderr
