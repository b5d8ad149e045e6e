"""Export SAM to ONNX/TorchScript, quantize to int8, and read/write model bundles.

Names are resolved lazily (PEP 562) so that light users such as the ``schema`` command
can import ``export.manifest`` without importing torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    "Bundle": "bundle_reader",
    "BundleError": "bundle_reader",
    "read_bundle": "bundle_reader",
    "probe_images": "bundle_writer",
    "requantize_bundle": "bundle_writer",
    "write_bundle": "bundle_writer",
    "FORMAT_VERSION": "manifest",
    "Manifest": "manifest",
    "DECODER_INPUTS": "modules",
    "DECODER_OUTPUTS": "modules",
    "CanonicalDecoder": "modules",
    "EncoderForExport": "modules",
    "export_decoder_onnx": "onnx_export",
    "export_encoder_onnx": "onnx_export",
    "export_torchscript": "onnx_export",
    "quantize_onnx": "quantize",
    "decoder_problems": "signature",
    "encoder_problems": "signature",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_WHERE[name]}", __name__), name)
