"""Export the encoder and the canonical decoder to ONNX (and TorchScript).

We use torch's TorchScript-based exporter (``dynamo=False``): with torch 2.14 it exports
SAM's windowed attention and the canonical decoder in well under a second for tiny
models and needs no extra packages, whereas the torch.export-based default needs
`onnxscript` and struggles with the data-dependent crop in the decoder.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import onnx
import torch
from segment_anything.modeling import Sam

from .modules import (
    DECODER_INPUTS,
    DECODER_OUTPUTS,
    ENCODER_INPUT,
    ENCODER_OUTPUT,
    CanonicalDecoder,
    EncoderForExport,
    example_decoder_inputs,
)
from .fast_decoder import FAST_DECODER_INPUTS, FAST_DECODER_OUTPUTS, FastDecoder

DEFAULT_OPSET = 17


PROTOBUF_LIMIT = 2_000_000_000  # ONNX files above ~2 GB (vit_h's encoder) need external data


def external_data_name(path: Path) -> str:
    return Path(path).name + ".data"


def _export(
    module: torch.nn.Module,
    args: tuple,
    path: Path,
    external_data: bool | None = None,
    **kwargs: object,
) -> Path:
    """Export, then store weights in ONE side file ``<name>.data`` when the model is too big
    for a single protobuf (or when asked), instead of the exporter's one-file-per-tensor."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module.eval()
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".export-") as tmp:
        raw = Path(tmp) / path.name
        with warnings.catch_warnings(), torch.no_grad():
            # The legacy exporter warns about itself and about tracer int() casts we have handled.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module, args, str(raw), dynamo=False, do_constant_folding=True, **kwargs
            )
        side_files = [p for p in Path(tmp).iterdir() if p != raw]
        total = sum(p.stat().st_size for p in Path(tmp).iterdir())
        if external_data is None:
            external_data = bool(side_files) or total > PROTOBUF_LIMIT
        if external_data:
            model = onnx.load(str(raw), load_external_data=True)
            onnx.save_model(
                model,
                str(path),
                save_as_external_data=True,
                all_tensors_to_one_file=True,
                location=external_data_name(path),
                size_threshold=1024,
            )
        else:
            os.replace(raw, path)
    onnx.checker.check_model(str(path))
    return path


def _on_cpu_fp32(sam: Sam) -> Sam:
    p = next(sam.parameters())
    if p.device.type != "cpu" or p.dtype != torch.float32:
        raise ValueError(
            "export expects the model on the CPU in float32; call sam.float().cpu() first"
        )
    return sam


def export_encoder_onnx(
    sam: Sam, path: Path, opset: int = DEFAULT_OPSET, external_data: bool | None = None
) -> Path:
    """Write the image encoder: ``image`` (1x3xSxS float32) -> ``image_embeddings``."""
    _on_cpu_fp32(sam)
    size = sam.image_encoder.img_size
    example = torch.zeros(1, 3, size, size)
    return _export(
        EncoderForExport(sam),
        (example,),
        path,
        input_names=[ENCODER_INPUT],
        output_names=[ENCODER_OUTPUT],
        opset_version=opset,
        external_data=external_data,
    )


def export_decoder_onnx(
    sam: Sam,
    path: Path,
    opset: int = DEFAULT_OPSET,
    return_single_mask: bool = False,
    external_data: bool | None = None,
) -> Path:
    """Write the decoder with the canonical SAM signature and a dynamic number of points.

    With ``return_single_mask=False`` (our default) ``masks`` holds all mask tokens:
    index 0 is the single-mask output, 1..3 the multimask outputs; the client picks by
    ``iou_predictions``. Upstream's official script exports the same layout by default.
    """
    _on_cpu_fp32(sam)
    example = example_decoder_inputs(sam)
    return _export(
        CanonicalDecoder(sam, return_single_mask=return_single_mask),
        tuple(example[name] for name in DECODER_INPUTS),
        path,
        input_names=list(DECODER_INPUTS),
        output_names=list(DECODER_OUTPUTS),
        dynamic_axes={
            "point_coords": {1: "num_points"},
            "point_labels": {1: "num_points"},
            "masks": {2: "orig_height", 3: "orig_width"},
        },
        opset_version=opset,
        external_data=external_data,
    )


def export_fast_decoder_onnx(
    sam: Sam, path: Path, opset: int = DEFAULT_OPSET, external_data: bool | None = None
) -> Path:
    """Write the fast decoder (`fast_decoder.py`): canonical inputs minus ``orig_im_size``,
    outputs ``iou_predictions`` and ``low_res_masks`` for every mask token."""
    _on_cpu_fp32(sam)
    example = example_decoder_inputs(sam)
    return _export(
        FastDecoder(sam),
        tuple(example[name] for name in FAST_DECODER_INPUTS),
        path,
        input_names=list(FAST_DECODER_INPUTS),
        output_names=list(FAST_DECODER_OUTPUTS),
        dynamic_axes={"point_coords": {1: "num_points"}, "point_labels": {1: "num_points"}},
        opset_version=opset,
        external_data=external_data,
    )


def export_torchscript(sam: Sam, encoder_path: Path, decoder_path: Path) -> tuple[Path, Path]:
    """Trace the same two modules to TorchScript (same inputs as the ONNX files)."""
    _on_cpu_fp32(sam)
    size = sam.image_encoder.img_size
    example = example_decoder_inputs(sam)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        encoder = torch.jit.trace(EncoderForExport(sam).eval(), (torch.zeros(1, 3, size, size),))
        decoder = torch.jit.trace(
            CanonicalDecoder(sam, return_single_mask=False).eval(),
            tuple(example[name] for name in DECODER_INPUTS),
            check_trace=False,
        )
    for module, path in ((encoder, encoder_path), (decoder, decoder_path)):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        torch.jit.save(module, str(path))
    return Path(encoder_path), Path(decoder_path)
