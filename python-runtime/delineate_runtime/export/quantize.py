"""int8 versions of the exported ONNX files (onnxruntime.quantization).

Two ways, both recorded in model.json so a user can tell which file they run:

* ``dynamic``: weights int8 ahead of time, activations quantized per call from their
  observed range. Needs no data; works for any model.
* ``static``: QDQ format, activations' ranges calibrated on the user's own images (the
  encoder on preprocessed images, the decoder on their embeddings plus sampled clicks), so
  the int8 model is tuned to the intensity statistics it will actually see.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quant_pre_process,
    quantize_dynamic,
    quantize_static,
)

QuantMethod = Literal["dynamic", "static"]
log = logging.getLogger(__name__)


class ArrayFeedReader(CalibrationDataReader):
    """Feeds a finite list of ``{input_name: array}`` dicts to the calibrator."""

    def __init__(self, feeds: Iterable[dict[str, np.ndarray]]) -> None:
        self._feeds = list(feeds)
        if not self._feeds:
            raise ValueError("static quantization needs at least one calibration sample")
        self._iter: Iterator[dict[str, np.ndarray]] = iter(self._feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._iter, None)

    def rewind(self) -> None:
        self._iter = iter(self._feeds)


def encoder_calibration_feeds(preprocessed: Sequence[np.ndarray]) -> list[dict[str, np.ndarray]]:
    """One feed per preprocessed image (1x3xSxS float32, as the encoder takes it)."""
    return [{"image": np.ascontiguousarray(x, dtype=np.float32)} for x in preprocessed]


# onnxruntime's MinMax calibrator keeps every calibrated activation of every sample in
# memory until the end (its CalibMaxIntermediateOutputs option discards data instead of
# folding it, as of 1.32). vit_b's global attention alone is ~3 GB per 1024 image, so big
# encoders are calibrated on fewer images.
LARGE_ENCODER_BYTES = 50_000_000
LARGE_ENCODER_MAX_CALIBRATION = 2


def decoder_calibration_feeds(
    embeddings: Sequence[np.ndarray],
    image_size: int,
    points_per_embedding: int = 4,
    seed: int = 0,
) -> list[dict[str, np.ndarray]]:
    """Canonical decoder inputs: real embeddings, clicks spread over the image, with and
    without a previous mask, and the padding point upstream's clients append."""
    rng = np.random.default_rng(seed)
    feeds = []
    for emb in embeddings:
        _, _, eh, ew = emb.shape
        for i in range(points_per_embedding):
            n = 1 + i % 3
            coords = rng.uniform(0, image_size, size=(1, n, 2)).astype(np.float32)
            labels = (rng.uniform(size=(1, n)) > 0.3).astype(np.float32)
            coords = np.concatenate([coords, np.zeros((1, 1, 2), np.float32)], axis=1)
            labels = np.concatenate([labels, -np.ones((1, 1), np.float32)], axis=1)
            has_mask = float(i % 2)
            feeds.append(
                {
                    "image_embeddings": emb.astype(np.float32),
                    "point_coords": coords,
                    "point_labels": labels,
                    "mask_input": (rng.normal(size=(1, 1, 4 * eh, 4 * ew)) * has_mask).astype(
                        np.float32
                    ),
                    "has_mask_input": np.array([has_mask], np.float32),
                    "orig_im_size": np.array([image_size, image_size], np.float32),
                }
            )
    return feeds


def _preprocessed_copy(src: Path, workdir: Path) -> Path:
    """Shape inference + graph optimisation, as onnxruntime recommends before quantizing."""
    out = workdir / (src.stem + ".pre.onnx")
    large = (src.parent / (src.name + ".data")).exists()
    try:
        quant_pre_process(
            str(src),
            str(out),
            skip_symbolic_shape=True,
            save_as_external_data=large,
            all_tensors_to_one_file=True,
            external_data_location=out.name + ".data",
        )
        return out
    except Exception as exc:  # noqa: BLE001 - pre-processing is an optimisation only
        log.warning("quantization pre-processing of %s failed (%s); quantizing as is", src, exc)
        return src


def quantize_onnx(
    src: Path,
    dst: Path,
    method: QuantMethod = "dynamic",
    calibration: Sequence[dict[str, np.ndarray]] | None = None,
) -> Path:
    """Write an int8 copy of ``src`` to ``dst``."""
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise FileNotFoundError(f"cannot quantize {src}: file not found")
    dst.parent.mkdir(parents=True, exist_ok=True)
    # Models stored with external data (vit_h) need it while quantizing too.
    large = (src.parent / (src.name + ".data")).exists()
    with tempfile.TemporaryDirectory() as tmp:
        model = _preprocessed_copy(src, Path(tmp))
        if method == "dynamic":
            # int8 (s8) weights on MatMul only. With u8 weights onnxruntime runs its u8u8
            # kernel (1.9x fp32 on vit_b's weight layers); with s8 it runs the u8s8 (VNNI)
            # kernel (4.1x). s8 needs every quantized op to have an s8 kernel, and
            # ConvInteger has u8 only, so the few convolutions (patch embedding, neck: ~1 %
            # of the encoder's time) stay fp32. Per-tensor scales: per-channel dynamic
            # MatMul has no fast path. Measured on vit_b at 1024 (issue 10): 4.1 s vs 7.2 s
            # fp32 vs 5.6 s for u8 everything, mask IoU vs fp32 >= 0.98.
            # reduce_range (7-bit weights): CPUs without VNNI (AVX2 only) multiply u8 by s8
            # in 16-bit pairs (vpmaddubsw) that saturate with full-range weights. On such a
            # machine (AVX2-only EPYC) full range gave the tiny model's masks IoU 0.84 vs
            # fp32; 7 bits give 0.98, and cost nothing on VNNI machines.
            quantize_dynamic(
                str(model),
                str(dst),
                weight_type=QuantType.QInt8,
                op_types_to_quantize=["MatMul"],
                per_channel=False,
                reduce_range=True,
                use_external_data_format=large,
            )
        elif method == "static":
            if not calibration:
                raise ValueError(f"static quantization of {src} needs calibration samples")
            quantize_static(
                str(model),
                str(dst),
                ArrayFeedReader(calibration),
                quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                per_channel=True,
                reduce_range=True,  # see the dynamic case: s8 weights saturate on AVX2
                calibrate_method=CalibrationMethod.MinMax,
                # Norm weights and elementwise ops stay fp32: little to gain, much to lose.
                op_types_to_quantize=["Conv", "MatMul", "Gemm"],
                use_external_data_format=large,
            )
        else:
            raise ValueError(f"unknown quantization method {method!r} (use 'dynamic' or 'static')")
    return dst
