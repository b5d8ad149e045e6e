"""Benchmark sections on the tiny model (small iteration counts; numbers are not asserted
beyond being measured and positive, since the machine is shared)."""

from __future__ import annotations

import json
import time

import torch

from delineate_runtime.bench.sections import flops, onnx_latency
from delineate_runtime.bench.timing import interleaved_latency, ratio
from delineate_runtime.export import probe_images
from delineate_runtime.models import build_sam_model


def test_interleaved_latency_orders_slow_and_fast():
    lat = interleaved_latency(
        {"fast": lambda: None, "slow": lambda: time.sleep(0.02)}, iterations=3, warmup=0
    )
    assert lat["slow"] > 0.015 > lat["fast"]
    assert ratio(4.0, 2.0) == 2.0 and ratio(None, 1.0) is None


def test_onnx_latency_and_flops_tiny(tmp_path):
    torch.manual_seed(0)
    sam = build_sam_model("tiny")
    result = onnx_latency(sam, iterations=2, static_images=probe_images(2), workdir=tmp_path)
    print(json.dumps(result, indent=1))
    assert result["providers"][0] == "CPUExecutionProvider"
    for k in ("fp32", "int8_dynamic", "int8_static"):
        assert result[k]["encoder_ms"] > 0 and result[k]["decoder_ms"] > 0
    assert result["int8_dynamic"]["encoder_bytes"] < result["fp32"]["encoder_bytes"]
    assert result["int8_static"]["mask_iou_vs_fp32"] > 0.8
    f = flops(sam)
    # Encoder of a ViT dominates: more FLOPs per pixel than the prompt decoder.
    assert f["encoder_flops_per_pixel"] > f["decoder_flops_per_pixel"] > 0
    assert all(p.requires_grad for p in sam.parameters())  # restored after counting


def test_training_speed_section_tiny(tmp_path):
    from delineate_runtime.bench.sections import training_speed
    from delineate_runtime.data.synthetic import SyntheticSpec, write_snapshot

    dataset = write_snapshot(tmp_path / "data", SyntheticSpec(n_images=6, seed=2))
    out = training_speed("tiny", str(dataset), tmp_path, steps=2, image_size=128, rounds=1)
    print(json.dumps(out))
    assert out["cached"]["cached"] is True and out["recompute"]["cached"] is False
    assert out["cached"]["steps_per_s"] > 0 and out["recompute"]["steps_per_s"] > 0
    assert (
        out["speedup_steps_per_s"] == out["cached"]["steps_per_s"] / out["recompute"]["steps_per_s"]
    )
