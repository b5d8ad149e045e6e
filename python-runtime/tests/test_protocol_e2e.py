"""End to end: the runtime as a real child process over stdio, training a tiny SAM.

Covers progress notifications, cancel mid-epoch then resume, a job that crashes, malformed
input, export + embeddings + evaluate jobs, and shutdown/exit. stdout must carry frames only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from delineate_runtime.data.synthetic import SyntheticSpec, write_snapshot
from delineate_runtime.protocol.client import RpcClient
from delineate_runtime.protocol.errors import (
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    RpcError,
)

PKG_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> str:
    return str(
        write_snapshot(
            tmp_path_factory.mktemp("data") / "lesions", SyntheticSpec(n_images=12, seed=3)
        )
    )


@pytest.fixture(scope="module")
def client():
    env = {
        "PYTHONPATH": str(PKG_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "DELINEATE_LOG": "WARNING",
    }
    c = RpcClient.spawn(env=env, cwd=str(PKG_ROOT))
    yield c
    if c.process and c.process.poll() is None:
        c.process.kill()


def _train_config(dataset: str, run_dir: Path) -> dict:
    # batch 1 so an epoch has ~10 steps: a cancel sent after step 1 lands mid-epoch
    return {
        "dataset": dataset,
        "run_dir": str(run_dir),
        "arch": "tiny",
        "epochs": 2,
        "batch_size": 1,
        "lr": 1e-3,
        "seed": 1,
    }


def test_info_and_malformed_input_keep_server_alive(client):
    info = client.request("runtime.info")
    assert info["device"] == "cpu" and "train.start" in info["methods"]
    client.send_raw(b"Content-Length: 12\r\n\r\n{not json!!}")
    assert client.orphans.get(timeout=10)["error"]["code"] == PARSE_ERROR
    client.send_raw("Content-Length: zwölf\r\n\r\n".encode())
    assert client.orphans.get(timeout=10)["error"]["code"] == PARSE_ERROR
    with pytest.raises(RpcError) as err:
        client.request("no.such.method")
    assert err.value.code == METHOD_NOT_FOUND
    with pytest.raises(RpcError) as err:
        client.request("job.status", {"job": 1})
    assert err.value.code == INVALID_PARAMS
    assert client.request("runtime.info")["protocol_version"] == 1


def test_train_progress_cancel_mid_epoch_then_resume(client, dataset, tmp_path):
    run_dir = tmp_path / "run"
    job_id = client.request("train.start", {"config": _train_config(dataset, run_dir)})["job_id"]
    progress = client.wait_notification(
        lambda m: (
            m["method"] == "job.progress"
            and m["params"].get("stage") == "train"
            and m["params"].get("step", 0) >= 1
        ),
        timeout=120,
    )["params"]
    assert progress["job_id"] == job_id and progress["epoch"] == 1
    assert isinstance(progress["loss"], float) and progress["eta_s"] >= 0
    assert client.request("job.cancel", {"job_id": job_id})["state"] in ("cancelling", "cancelled")
    finished = client.wait_job(job_id, timeout=120)
    assert finished["state"] == "cancelled"
    assert (
        finished["result"]["status"] == "cancelled" and finished["result"]["epochs_completed"] == 0
    )
    assert (run_dir / "checkpoints" / "last.pt").is_file()

    steps_seen: list[tuple[int, int]] = []
    job2 = client.request("train.start", {"config": _train_config(dataset, run_dir)})["job_id"]
    done = client.wait_job(
        job2,
        timeout=300,
        on_progress=lambda p: (
            p.get("stage") == "train" and steps_seen.append((p["epoch"], p["step"]))
        ),
    )
    assert done["state"] == "succeeded", done
    result = done["result"]
    assert result["status"] in ("completed", "early_stopped") and result["epochs_completed"] == 2
    assert any("resumed at epoch 1 step" in n for n in result["notes"])
    # It continued mid-epoch: the first step run after resuming is not step 1.
    assert steps_seen and steps_seen[0][0] == 1 and steps_seen[0][1] > 1
    status = client.request("job.status", {"job_id": job2})
    assert status["state"] == "succeeded" and status["finished"] >= status["created"]


def test_train_start_under_torchrun_relays_progress_cancels_and_resumes(client, dataset, tmp_path):
    # What a multi-GPU training host does (processes default to its GPU count), here with
    # two gloo ranks on the CPU: same job API, same progress, same cancel and resume.
    run_dir = tmp_path / "ddp"
    cfg = {**_train_config(dataset, run_dir), "epochs": 2}
    job_id = client.request("train.start", {"config": cfg, "processes": 2})["job_id"]
    progress = client.wait_notification(
        lambda m: (
            m["method"] == "job.progress"
            and m["params"].get("job_id") == job_id
            and m["params"].get("stage") == "train"
            and m["params"].get("step", 0) >= 1
        ),
        timeout=240,
    )["params"]
    assert progress["epoch"] == 1 and isinstance(progress["loss"], float)
    client.request("job.cancel", {"job_id": job_id})
    cancelled = client.wait_job(job_id, timeout=240)
    assert cancelled["state"] == "cancelled", cancelled
    assert cancelled["result"]["status"] == "cancelled"
    assert cancelled["result"]["world_size"] == 2
    assert (run_dir / "checkpoints" / "last.pt").is_file()

    job2 = client.request("train.start", {"config": cfg, "processes": 2})["job_id"]
    done = client.wait_job(job2, timeout=400)
    assert done["state"] == "succeeded", done
    result = done["result"]
    assert result["world_size"] == 2 and result["epochs_completed"] == 2
    # Resumed from the cancel's checkpoint (which epoch depends on how far the ranks got
    # before the relayed cancel reached them: an epoch is only ~5 steps per rank here).
    assert any(n.startswith("resumed at epoch") for n in result["notes"]), result["notes"]
    ranks = [json.loads((run_dir / "ranks" / f"rank{i}.json").read_text()) for i in (0, 1)]
    assert ranks[0]["weights"] == ranks[1]["weights"]


def test_train_start_under_torchrun_reports_a_failing_rank(client, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "annotations.json").write_text('{"images": [ ')
    job_id = client.request(
        "train.start",
        {"config": _train_config(str(broken), tmp_path / "run"), "processes": 2},
    )["job_id"]
    finished = client.wait_job(job_id, timeout=240)
    assert finished["state"] == "failed"
    assert "distributed training (2 processes) failed" in finished["error"]["message"]
    assert "annotations.json" in finished["error"]["message"]


def test_crashing_training_job_reports_why(client, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "annotations.json").write_text('{"images": [ {"id": 1, ')  # truncated JSON
    job_id = client.request(
        "train.start", {"config": _train_config(str(broken), tmp_path / "run")}
    )["job_id"]
    finished = client.wait_job(job_id, timeout=60)
    assert finished["state"] == "failed"
    assert "annotations.json" in finished["error"]["message"]
    assert client.request("job.status", {"job_id": job_id})["error"]["kind"]
    assert client.request("runtime.info")["protocol_version"] == 1  # still serving


def test_export_embeddings_evaluate_jobs(client, dataset, tmp_path):
    out = tmp_path / "bundle"
    job = client.request(
        "export.onnx",
        {
            "model": {"arch": "tiny"},
            "out_dir": str(out),
            "calibration_dataset": dataset,
            "max_calibration_images": 4,
        },
    )
    done = client.wait_job(job["job_id"], timeout=120)
    assert done["state"] == "succeeded", done
    assert done["result"]["parity"]["fp32_vs_pytorch"]["end_to_end_max_abs_logit_diff"] < 1e-4
    manifest = json.loads((out / "model.json").read_text())
    assert (
        manifest["encoder_int8"]["method"] == "static"
        and manifest["encoder_int8"]["calibration_images"] == 4
    )

    images = sorted(str(p) for p in (Path(dataset) / "images").glob("*.png"))[:2]
    window = {"center": 1064.0, "width": 400.0}
    job = client.request(
        "embeddings.compute",
        {
            "bundle": str(out),
            "images": [{"path": p, "window": window} for p in images],
            "out_dir": str(tmp_path / "emb"),
        },
    )
    done = client.wait_job(job["job_id"], timeout=60)
    assert done["state"] == "succeeded", done
    emb = done["result"]["embeddings"]
    assert len(emb) == 2 and np.load(emb[0]["embedding"]).shape == (1, 64, 8, 8)

    job = client.request("export.quantize", {"bundle": str(out), "method": "dynamic"})
    done = client.wait_job(job["job_id"], timeout=60)
    assert done["state"] == "succeeded" and done["result"]["int8_vs_fp32"]["method"] == "dynamic"

    job = client.request(
        "evaluate",
        {
            "model": {"bundle": str(out)},
            "dataset": dataset,
            "options": {"modes": ["box", "click1"]},
        },
    )
    done = client.wait_job(job["job_id"], timeout=120)
    assert done["state"] == "succeeded", done
    assert 0.0 <= done["result"]["after"]["val_dice"] <= 1.0


def test_shutdown_and_exit(client):
    assert client.request("shutdown") is None
    with pytest.raises(RpcError):
        client.request("runtime.info")
    client.notify("exit")
    assert client.process.wait(30) == 0
    assert client.closed.wait(10)
    assert client.orphans.empty()  # every byte on stdout was a well-formed frame
