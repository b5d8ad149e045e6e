"""Export SAM to ONNX/TorchScript, quantize to int8, and read/write model bundles."""

from .bundle_reader import Bundle, BundleError, read_bundle
from .bundle_writer import probe_images, requantize_bundle, write_bundle
from .manifest import FORMAT_VERSION, Manifest
from .modules import DECODER_INPUTS, DECODER_OUTPUTS, CanonicalDecoder, EncoderForExport
from .onnx_export import export_decoder_onnx, export_encoder_onnx, export_torchscript
from .quantize import quantize_onnx
from .signature import decoder_problems, encoder_problems

__all__ = [
    "DECODER_INPUTS",
    "DECODER_OUTPUTS",
    "FORMAT_VERSION",
    "Bundle",
    "BundleError",
    "CanonicalDecoder",
    "EncoderForExport",
    "Manifest",
    "decoder_problems",
    "encoder_problems",
    "export_decoder_onnx",
    "export_encoder_onnx",
    "export_torchscript",
    "probe_images",
    "quantize_onnx",
    "read_bundle",
    "requantize_bundle",
    "write_bundle",
]
