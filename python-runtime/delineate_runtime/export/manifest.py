"""model.json: what a model bundle contains and how to feed it, as a pydantic model.

The Node side reads this file to know how to preprocess images for ``encoder.onnx`` and
what ``decoder.onnx`` expects; the app's model manager shows base model, dataset, metrics
and parity from it. Bump FORMAT_VERSION on any incompatible change.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FORMAT_VERSION = 1
MANIFEST_NAME = "model.json"
ENCODER_FILE = "encoder.onnx"
DECODER_FILE = "decoder.onnx"
ENCODER_INT8_FILE = "encoder.int8.onnx"
DECODER_INT8_FILE = "decoder.int8.onnx"
DECODER_FAST_FILE = "decoder.fast.onnx"
FAST_DECODER_MIN_IOU = 0.999
CHECKPOINT_FILE = "checkpoint.pt"
REQUIRED_FILES = (ENCODER_FILE, DECODER_FILE, CHECKPOINT_FILE)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Preprocessing(_Strict):
    image_size: int = Field(description="S: the encoder's square input side")
    pixel_mean: list[float] = Field(description="RGB mean, in 0..255 pixel units")
    pixel_std: list[float] = Field(description="RGB std, in 0..255 pixel units")
    resize: Literal["longest_side"] = "longest_side"
    resize_interpolation: Literal["bilinear"] = "bilinear"
    pad: Literal["bottom_right_zeros_after_normalize"] = "bottom_right_zeros_after_normalize"
    color: Literal["RGB"] = "RGB"
    grayscale: str = "replicate to 3 channels after windowing"
    steps: str = (
        "window to 0..255 -> resize so max(h, w) == image_size (h' = floor(h*s+0.5)) -> "
        "(x - pixel_mean) / pixel_std -> zero-pad bottom/right to image_size x image_size -> "
        "float32 NCHW 1x3xSxS"
    )


class TensorSpec(_Strict):
    name: str
    dtype: str
    shape: list[int | str]


class OnnxFile(_Strict):
    file: str
    external_data: str | None = Field(
        default=None, description="side file holding the weights (models > 2 GB)"
    )
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    opset: int
    notes: str = ""


class QuantizedFile(_Strict):
    file: str
    external_data: str | None = None
    method: Literal["dynamic", "static"]
    calibration_images: int = 0


class FastDecoderFile(OnnxFile):
    """The rearranged decoder of `fast_decoder.py`; used only while its parity holds."""

    parity: dict[str, float] = Field(
        description="vs the canonical decoder on the same inputs: low_res_max_abs_diff, "
        "mask_iou_min (worst thresholded low-res mask over every token and prompt)"
    )


class FileInfo(_Strict):
    bytes: int
    sha256: str


class Manifest(_Strict):
    format_version: int = FORMAT_VERSION
    created: str
    runtime_version: str
    architecture: dict[str, Any] = Field(
        description="ModelSpec.to_dict(): enough to rebuild the network"
    )
    preprocessing: Preprocessing
    encoder: OnnxFile
    decoder: OnnxFile
    encoder_int8: QuantizedFile | None = None
    decoder_int8: QuantizedFile | None = None
    decoder_fast: FastDecoderFile | None = None
    torchscript: dict[str, str] | None = None
    checkpoint: str = CHECKPOINT_FILE
    checkpoint_format: str = "segment_anything state_dict (sam_model_registry layout)"
    base_model: str | None = None
    dataset_hash: str | None = None
    training_config: dict[str, Any] | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    parity: dict[str, Any] = Field(default_factory=dict)
    files: dict[str, FileInfo] = Field(default_factory=dict)


def encoder_io(image_size: int, embed_dim: int, grid: int, opset: int) -> OnnxFile:
    return OnnxFile(
        file=ENCODER_FILE,
        inputs=[TensorSpec(name="image", dtype="float32", shape=[1, 3, image_size, image_size])],
        outputs=[
            TensorSpec(name="image_embeddings", dtype="float32", shape=[1, embed_dim, grid, grid])
        ],
        opset=opset,
        notes="input is the preprocessed image (see preprocessing); batch size 1",
    )


def fast_decoder_file(
    embed_dim: int, grid: int, opset: int, num_masks: int, parity: dict[str, float]
) -> FastDecoderFile:
    """decoder.fast.onnx (see fast_decoder.py): the canonical inputs minus orig_im_size."""
    canonical = decoder_io(embed_dim, grid, opset, num_masks)
    return FastDecoderFile(
        file=DECODER_FAST_FILE,
        inputs=[t for t in canonical.inputs if t.name != "orig_im_size"],
        outputs=[t for t in canonical.outputs if t.name != "masks"],
        opset=opset,
        notes=(
            "same weights and results as decoder.onnx, rearranged for speed; outputs the "
            "low-res logits of every mask token only: upsample the shown one as decoder.onnx "
            "does (bilinear to image_size, crop to the resized image, bilinear to the original)"
        ),
        parity=parity,
    )


def decoder_io(embed_dim: int, grid: int, opset: int, num_masks: int) -> OnnxFile:
    low = 4 * grid
    return OnnxFile(
        file=DECODER_FILE,
        inputs=[
            TensorSpec(name="image_embeddings", dtype="float32", shape=[1, embed_dim, grid, grid]),
            TensorSpec(name="point_coords", dtype="float32", shape=[1, "num_points", 2]),
            TensorSpec(name="point_labels", dtype="float32", shape=[1, "num_points"]),
            TensorSpec(name="mask_input", dtype="float32", shape=[1, 1, low, low]),
            TensorSpec(name="has_mask_input", dtype="float32", shape=[1]),
            TensorSpec(name="orig_im_size", dtype="float32", shape=[2]),
        ],
        outputs=[
            TensorSpec(
                name="masks", dtype="float32", shape=[1, num_masks, "orig_height", "orig_width"]
            ),
            TensorSpec(name="iou_predictions", dtype="float32", shape=[1, num_masks]),
            TensorSpec(name="low_res_masks", dtype="float32", shape=[1, num_masks, low, low]),
        ],
        opset=opset,
        notes=(
            "canonical SAM decoder. point_coords are (x, y) in model-input pixels (original "
            "coords scaled by the resize factor); labels 1=positive 0=negative 2/3=box corners "
            "-1=padding: append point (0,0) label -1 when no box is given. orig_im_size is "
            "(h, w). masks are logits (> 0 = inside); index 0 is the single-mask output, "
            "1..3 the multimask outputs; pick by iou_predictions."
        ),
    )
