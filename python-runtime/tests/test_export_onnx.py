"""ONNX/TorchScript export of a tiny SAM: parity with PyTorch and the canonical decoder.

Tolerances: fp32 ONNX vs PyTorch mask logits within 1e-4 absolute (float32 kernels differ
in summation order only); int8 vs fp32 masks: mean IoU >= 0.9 and every mask >= 0.8.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from delineate_runtime.export import (
    DECODER_INPUTS,
    CanonicalDecoder,
    decoder_problems,
    encoder_problems,
    export_decoder_onnx,
    export_encoder_onnx,
    export_torchscript,
    probe_images,
    quantize_onnx,
)
from delineate_runtime.export.modules import example_decoder_inputs
from delineate_runtime.export.onnx_sam import OnnxSam, make_session
from delineate_runtime.export.parity import fp32_parity, int8_parity
from delineate_runtime.export.preprocess import preprocess_image
from delineate_runtime.export.quantize import decoder_calibration_feeds, encoder_calibration_feeds
from delineate_runtime.models import build_sam_model

FP32_TOL = 1e-4


@pytest.fixture(scope="module")
def sam():
    torch.manual_seed(0)
    return build_sam_model("tiny")


@pytest.fixture(scope="module")
def exported(sam, tmp_path_factory):
    d = tmp_path_factory.mktemp("onnx")
    return export_encoder_onnx(sam, d / "encoder.onnx"), export_decoder_onnx(
        sam, d / "decoder.onnx"
    )


def _run(session: ort.InferenceSession, feed: dict[str, torch.Tensor]) -> list[np.ndarray]:
    return session.run(None, {k: v.numpy() for k, v in feed.items()})


@pytest.mark.parametrize("num_points,orig_hw", [(1, (128, 77)), (4, (60, 90)), (9, (300, 200))])
def test_decoder_runs_with_canonical_inputs_any_point_count_and_size(
    sam, exported, num_points, orig_hw
):
    session = make_session(exported[1])
    assert [i.name for i in session.get_inputs()] == list(DECODER_INPUTS)
    feed = example_decoder_inputs(sam, num_points)
    feed["orig_im_size"] = torch.tensor([float(orig_hw[0]), float(orig_hw[1])])
    masks, iou, low = _run(session, feed)
    assert masks.shape == (1, 4, *orig_hw)
    assert iou.shape == (1, 4)
    with torch.no_grad():
        ref = CanonicalDecoder(sam, return_single_mask=False)(*feed.values())
    diffs = [
        float(np.abs(a - b.numpy()).max()) for a, b in zip((masks, iou, low), ref, strict=True)
    ]
    print(f"decoder onnx vs torch, {num_points} points {orig_hw}: max abs diffs {diffs}")
    assert max(diffs) < FP32_TOL


def test_fp32_parity_against_upstream_pytorch_path(sam, exported):
    figures = fp32_parity(sam, *exported, probe_images(2))
    print("fp32 parity:", figures)
    assert figures["encoder_max_abs_diff"] < FP32_TOL
    assert figures["decoder_max_abs_logit_diff"] < FP32_TOL
    assert figures["end_to_end_max_abs_logit_diff"] < FP32_TOL


def test_exported_files_pass_signature_checks(sam, exported):
    assert encoder_problems(exported[0], sam.image_encoder.img_size) == []
    assert decoder_problems(exported[1]) == []
    problems = encoder_problems(exported[0], 256)
    assert problems and "256" in problems[0]


@pytest.mark.parametrize("method", ["dynamic", "static"])
def test_int8_matches_fp32_masks(sam, exported, tmp_path, method):
    enc, dec = exported
    images = probe_images(4, seed=1)
    mean, std = sam.pixel_mean.flatten().tolist(), sam.pixel_std.flatten().tolist()
    enc_feeds = dec_feeds = None
    if method == "static":
        pre = [preprocess_image(im, 128, mean, std)[0] for im in images]
        enc_feeds = encoder_calibration_feeds(pre)
        session = make_session(enc)
        dec_feeds = decoder_calibration_feeds([session.run(None, f)[0] for f in enc_feeds], 128)
    enc8 = quantize_onnx(enc, tmp_path / "encoder.int8.onnx", method, enc_feeds)
    dec8 = quantize_onnx(dec, tmp_path / "decoder.int8.onnx", method, dec_feeds)
    assert enc8.stat().st_size < enc.stat().st_size
    fp32 = OnnxSam.load(enc, dec, 128, mean, std)
    int8 = OnnxSam.load(enc8, dec8, 128, mean, std)
    figures = int8_parity(fp32, int8, probe_images(2, seed=7))
    print(f"int8 ({method}) vs fp32:", figures)
    assert figures["mask_iou_mean"] >= 0.9
    assert figures["mask_iou_min"] >= 0.8
    # Regression: static QDQ once quantized the size arithmetic and cropped masks by a pixel.
    masks, _ = int8.predict(int8.embed(images[0]), [[10, 20]], [1], (90, 120))
    assert masks.shape[-2:] == (90, 120)


def test_quantize_rejects_static_without_calibration(exported, tmp_path):
    with pytest.raises(ValueError, match="calibration"):
        quantize_onnx(exported[1], tmp_path / "x.onnx", "static", None)
    with pytest.raises(FileNotFoundError, match="nope.onnx"):
        quantize_onnx(tmp_path / "nope.onnx", tmp_path / "y.onnx")


def test_torchscript_matches_pytorch(sam, tmp_path):
    enc_path, dec_path = export_torchscript(sam, tmp_path / "enc.pt", tmp_path / "dec.pt")
    encoder, decoder = torch.jit.load(str(enc_path)), torch.jit.load(str(dec_path))
    feed = example_decoder_inputs(sam, 5)
    feed["orig_im_size"] = torch.tensor([70.0, 110.0])  # differs from the traced example
    with torch.no_grad():
        ref = CanonicalDecoder(sam, return_single_mask=False)(*feed.values())
        out = decoder(*feed.values())
        x = torch.randn(1, 3, 128, 128)
        enc_diff = float((encoder(x) - sam.image_encoder(x)).abs().max())
    assert out[0].shape == (1, 4, 70, 110)
    assert max(float((a - b).abs().max()) for a, b in zip(out, ref, strict=True)) < FP32_TOL
    assert enc_diff < FP32_TOL


def test_upstream_official_wrapper_decoder_is_accepted(sam, tmp_path):
    """A decoder exported the way upstream's script does it must pass our signature check."""
    from segment_anything.utils.onnx import SamOnnxModel

    path = tmp_path / "official.onnx"
    feed = example_decoder_inputs(sam)
    torch.onnx.export(
        SamOnnxModel(sam, return_single_mask=True),
        tuple(feed.values()),
        str(path),
        dynamo=False,
        input_names=list(DECODER_INPUTS),
        output_names=["masks", "iou_predictions", "low_res_masks"],
        dynamic_axes={"point_coords": {1: "num_points"}, "point_labels": {1: "num_points"}},
        opset_version=17,
    )
    assert decoder_problems(path) == []
