"""The benchmark's measurements, one function each (model in, JSON-able dict out)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from segment_anything.modeling import Sam

from ..export.onnx_export import export_decoder_onnx, export_encoder_onnx
from ..export.onnx_sam import OnnxSam, decoder_feed, make_session
from ..export.preprocess import preprocess_image
from ..export.quantize import decoder_calibration_feeds, encoder_calibration_feeds, quantize_onnx
from .timing import interleaved_latency, ratio


def training_speed(
    arch: str,
    dataset: str,
    workdir: Path,
    steps: int,
    image_size: int | None = None,
    rounds: int = 2,
) -> dict[str, Any]:
    """Steps/s of the training loop with the embedding cache vs recomputing the encoder
    every step (decoder-only fine-tuning, same data and seed), measured by the training
    package's own alternating best-of-rounds comparison."""
    from ..training.cache_speed import measure_cache_speedup

    return measure_cache_speedup(
        dataset,
        workdir / f"cache-speed-{arch}",
        arch=arch,
        image_size=image_size,
        rounds=rounds,
        max_steps_per_epoch=steps,
        batch_size=2,
        val_modes=["box"],
    )


def onnx_latency(
    sam: Sam, iterations: int, static_images: list[np.ndarray] | None, workdir: Path
) -> dict[str, Any]:
    """Encoder and decoder latency in onnxruntime (CPU), fp32 vs int8 (dynamic, and static
    QDQ when calibration images are given)."""
    size = sam.image_encoder.img_size
    mean = tuple(sam.pixel_mean.flatten().tolist())
    std = tuple(sam.pixel_std.flatten().tolist())
    enc, dec = workdir / "encoder.onnx", workdir / "decoder.onnx"
    export_encoder_onnx(sam, enc)
    export_decoder_onnx(sam, dec)
    files = {"fp32": (enc, dec)}
    files["int8_dynamic"] = (
        quantize_onnx(enc, workdir / "encoder.dyn.onnx"),
        quantize_onnx(dec, workdir / "decoder.dyn.onnx"),
    )
    if static_images:
        pre = [preprocess_image(im, size, mean, std)[0] for im in static_images]
        feeds = encoder_calibration_feeds(pre)
        encoder = make_session(enc)
        dec_feeds = decoder_calibration_feeds([encoder.run(None, f)[0] for f in feeds], size)
        files["int8_static"] = (
            quantize_onnx(enc, workdir / "encoder.static.onnx", "static", feeds),
            quantize_onnx(dec, workdir / "decoder.static.onnx", "static", dec_feeds),
        )
    x = np.random.default_rng(0).normal(size=(1, 3, size, size)).astype(np.float32)
    sessions = {k: (make_session(e), make_session(d)) for k, (e, d) in files.items()}
    emb = sessions["fp32"][0].run(None, {"image": x})[0]
    feed = decoder_feed(
        emb,
        np.array([[size * 0.4, size * 0.5], [size * 0.6, size * 0.5]]),
        np.array([1, 0]),
        (size, size),
        size,
    )

    def enc_call(s: ort.InferenceSession):
        return lambda: s.run(None, {"image": x})

    def dec_call(s: ort.InferenceSession):
        return lambda: s.run(None, feed)

    enc_lat = interleaved_latency({k: enc_call(v[0]) for k, v in sessions.items()}, iterations)
    dec_lat = interleaved_latency(
        {k: dec_call(v[1]) for k, v in sessions.items()}, max(10, iterations * 10)
    )
    result: dict[str, Any] = {"input_size": size, "providers": sessions["fp32"][0].get_providers()}
    for k, (e, d) in files.items():
        result[k] = {
            "encoder_ms": enc_lat[k] * 1e3,
            "decoder_ms": dec_lat[k] * 1e3,
            "encoder_bytes": e.stat().st_size,
            "decoder_bytes": d.stat().st_size,
        }
        if k != "fp32":
            result[k]["encoder_speedup_vs_fp32"] = ratio(enc_lat["fp32"], enc_lat[k])
            result[k]["decoder_speedup_vs_fp32"] = ratio(dec_lat["fp32"], dec_lat[k])
            result[k]["encoder_size_ratio"] = ratio(e.stat().st_size, enc.stat().st_size)
    if static_images:
        fp32 = OnnxSam(sessions["fp32"][0], sessions["fp32"][1], size, mean, std)  # type: ignore[arg-type]
        for k in [k for k in sessions if k != "fp32"]:
            from ..export.parity import int8_parity

            q = OnnxSam(sessions[k][0], sessions[k][1], size, mean, std)  # type: ignore[arg-type]
            result[k]["mask_iou_vs_fp32"] = int8_parity(
                fp32, q, static_images[:2], clicks_per_image=2
            )["mask_iou_mean"]
    return result


def flops(sam: Sam) -> dict[str, Any]:
    """FLOPs per pixel (evaluation.speed). Parameters are frozen while counting: torch's
    FlopCounterMode module tracker otherwise fails on a parameter returned as an output
    ("Expected gradient function to be set") in the decoder's prompt path."""
    from ..evaluation.speed import flops_per_pixel

    flags = [p.requires_grad for p in sam.parameters()]
    for p in sam.parameters():
        p.requires_grad_(False)
    try:
        return flops_per_pixel(sam)
    finally:
        for p, flag in zip(sam.parameters(), flags, strict=True):
            p.requires_grad_(flag)


def torch_speed(sam: Sam, iterations: int) -> dict[str, Any]:
    from ..evaluation.speed import measure_fps

    return measure_fps(sam, warmup=1, iters=iterations, decoder_iters=10)


def temp_workdir() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="delineate-bench-")
