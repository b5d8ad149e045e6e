"""Export the encoder and the canonical decoder to ONNX (and TorchScript).

We use torch's TorchScript-based exporter (``dynamo=False``): with torch 2.14 it exports
SAM's windowed attention and the canonical decoder in well under a second for tiny
models and needs no extra packages, whereas the torch.export-based default needs
`onnxscript` and struggles with the data-dependent crop in the decoder.
"""

from __future__ import annotations

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

DEFAULT_OPSET = 17


def _export(module: torch.nn.Module, args: tuple, path: Path, **kwargs: object) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module.eval()
    with warnings.catch_warnings(), torch.no_grad():
        # The legacy exporter warns about itself and about tracer int() casts we have handled.
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, str(path), dynamo=False, do_constant_folding=True, **kwargs)
    onnx.checker.check_model(str(path))
    return path


def _on_cpu_fp32(sam: Sam) -> Sam:
    p = next(sam.parameters())
    if p.device.type != "cpu" or p.dtype != torch.float32:
        raise ValueError("export expects the model on the CPU in float32; call sam.float().cpu() first")
    return sam


def export_encoder_onnx(sam: Sam, path: Path, opset: int = DEFAULT_OPSET) -> Path:
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
    )


def export_decoder_onnx(
    sam: Sam, path: Path, opset: int = DEFAULT_OPSET, return_single_mask: bool = False
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
