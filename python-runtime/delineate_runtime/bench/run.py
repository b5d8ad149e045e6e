"""``python -m delineate_runtime bench``: one JSON document on stdout.

Each model is benchmarked in its own child process so its peak memory (ru_maxrss) is its
own. Defaults keep the run to a few minutes on a 2-core CPU: the tiny model gets every
measurement; a vit_b-shaped model (random weights, default input 512 to fit the time,
``--vit-b-size 1024`` for the standard figure) gets ONNX latency and FLOPs;
its training-speed ratio (``--vit-b-train``) and PyTorch FPS (``--torch-speed``) are
opt-in because each uncached step / each PyTorch encoder pass takes many seconds on CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def bench_model(
    name: str,
    iterations: int,
    train_steps: int,
    vit_b_size: int,
    vit_b_train: bool,
    static: bool,
    with_torch_speed: bool = False,
) -> dict[str, Any]:
    from ..data.images import load_image
    from ..data.loader import open_dataset
    from ..data.synthetic import SyntheticSpec, write_snapshot
    from ..models import build_sam_model
    from .sections import flops, onnx_latency, temp_workdir, torch_speed, training_speed

    torch.manual_seed(0)
    t0 = time.perf_counter()
    out: dict[str, Any] = {"model": name}
    with temp_workdir() as tmp:
        work = Path(tmp)
        dataset = str(write_snapshot(work / "data", SyntheticSpec(n_images=10, seed=0)))
        images = [load_image(r.path, r.window) for r in open_dataset(dataset).records[:4]]
        if name == "tiny":
            sam = build_sam_model("tiny")
            out["training"] = training_speed("tiny", dataset, work, train_steps, image_size=128)
            # Milliseconds per call: many calls, or the median is just scheduler noise.
            out["onnx"] = onnx_latency(sam, max(iterations, 30), images if static else None, work)
        elif name == "vit_b":
            sam = build_sam_model("vit_b", image_size=vit_b_size)
            out["note"] = f"vit_b architecture with random weights at input {vit_b_size}"
            if vit_b_train:
                out["training"] = training_speed(
                    "vit_b", dataset, work, min(train_steps, 2), vit_b_size, rounds=1
                )
            out["onnx"] = onnx_latency(sam, iterations, images[:2] if static else None, work)
        else:
            raise ValueError(f"unknown bench model {name!r}; use tiny or vit_b")
        out["flops"] = flops(sam)
        if name == "tiny" or with_torch_speed:
            out["torch"] = torch_speed(sam, iterations)
    out["seconds"] = time.perf_counter() - t0
    out["peak_rss_mb"] = _peak_rss_mb()
    if torch.cuda.is_available():
        out["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def run_bench(
    models: list[str],
    iterations: int = 3,
    train_steps: int = 6,
    threads: int = 0,
    vit_b_size: int = 512,
    vit_b_train: bool = False,
    static: bool | None = None,
    torch_speed: bool = False,
) -> dict[str, Any]:
    """Run each model in a child process and gather the results."""
    results: dict[str, Any] = {
        "host": {
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
            "torch": torch.__version__,
            "threads": threads or torch.get_num_threads(),
            # Other processes share this machine; latency ratios are interleaved to cope.
            "load_average_at_start": os.getloadavg(),
        },
        "models": {},
    }
    pkg_root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": pkg_root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    t0 = time.perf_counter()
    for name in models:
        use_static = (name == "tiny") if static is None else static
        cmd = [
            sys.executable,
            "-m",
            "delineate_runtime.bench.run",
            "--model",
            name,
            "--iterations",
            str(iterations),
            "--train-steps",
            str(train_steps),
            "--vit-b-size",
            str(vit_b_size),
        ]
        if vit_b_train:
            cmd.append("--vit-b-train")
        if use_static:
            cmd.append("--static")
        if torch_speed:
            cmd.append("--torch-speed")
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            results["models"][name] = {
                "error": proc.stderr.strip().splitlines()[-1:] or ["failed"],
                "returncode": proc.returncode,
            }
            continue
        results["models"][name] = json.loads(proc.stdout)
    results["seconds"] = time.perf_counter() - t0
    results["host"]["load_average_at_end"] = os.getloadavg()
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="benchmark one model (child process of run_bench)")
    ap.add_argument("--model", required=True)
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--train-steps", type=int, default=6)
    ap.add_argument("--vit-b-size", type=int, default=512)
    ap.add_argument("--vit-b-train", action="store_true")
    ap.add_argument("--static", action="store_true")
    ap.add_argument("--torch-speed", action="store_true")
    a = ap.parse_args(argv)
    import logging
    import warnings

    logging.basicConfig(level=logging.ERROR)
    warnings.simplefilter("ignore")
    result = bench_model(
        a.model, a.iterations, a.train_steps, a.vit_b_size, a.vit_b_train, a.static, a.torch_speed
    )
    from ..protocol.jsonsafe import to_json_safe

    print(json.dumps(to_json_safe(result)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
