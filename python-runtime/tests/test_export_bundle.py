"""Model bundle: write, read back, validate, and refuse broken bundles with clear errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from delineate_runtime.export import (
    BundleError,
    probe_images,
    read_bundle,
    requantize_bundle,
    write_bundle,
)
from delineate_runtime.export.bundle_writer import write_manifest
from delineate_runtime.export.onnx_sam import OnnxSam
from delineate_runtime.models import ModelSpec, build_from_spec, build_sam_model, load_checkpoint


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    torch.manual_seed(0)
    sam = build_sam_model("tiny")
    out = tmp_path_factory.mktemp("bundles") / "tiny-model"
    return write_bundle(
        out,
        sam,
        arch="tiny",
        base_model="tiny (random init)",
        dataset_hash="sha256:abc",
        training_config={"epochs": 1},
        metrics={"val_dice": 0.5},
        images=probe_images(3, seed=2),
        torchscript=True,
    ), sam


def _copy(bundle_dir: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(bundle_dir, dst)
    return dst


def test_bundle_contents_and_manifest(bundle):
    b, _ = bundle
    names = {p.name for p in b.root.iterdir()}
    assert {
        "encoder.onnx",
        "decoder.onnx",
        "encoder.int8.onnx",
        "decoder.int8.onnx",
        "checkpoint.pt",
        "model.json",
    } <= names
    m = json.loads((b.root / "model.json").read_text())
    print("model.json parity:", json.dumps(m["parity"]))
    assert m["format_version"] == 1
    assert m["preprocessing"]["image_size"] == 128
    assert m["preprocessing"]["pixel_mean"] == pytest.approx([123.675, 116.28, 103.53])
    assert m["encoder"]["inputs"][0] == {
        "name": "image",
        "dtype": "float32",
        "shape": [1, 3, 128, 128],
    }
    assert [i["name"] for i in m["decoder"]["inputs"]][1] == "point_coords"
    assert m["encoder_int8"]["method"] == "static" and m["encoder_int8"]["calibration_images"] == 3
    assert m["dataset_hash"] == "sha256:abc" and m["base_model"] == "tiny (random init)"
    assert m["parity"]["fp32_vs_pytorch"]["end_to_end_max_abs_logit_diff"] < 1e-4
    assert m["parity"]["int8_vs_fp32"]["mask_iou_mean"] >= 0.9
    sizes = m["parity"]["file_bytes"]
    assert sizes["encoder.int8.onnx"] < sizes["encoder.onnx"]
    assert all(m["files"][n]["bytes"] == (b.root / n).stat().st_size for n in m["files"])
    assert not list(b.root.parent.glob(".tiny-model.partial-*"))  # staging cleaned up


def test_checkpoint_rebuilds_same_model(bundle):
    b, sam = bundle
    rebuilt = build_from_spec(ModelSpec.from_dict(b.manifest.architecture))
    load_checkpoint(rebuilt, b.root / "checkpoint.pt")
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        assert torch.equal(rebuilt.image_encoder(x), sam.image_encoder(x))


def test_bundle_onnx_runs_with_manifest_preprocessing(bundle):
    b, _ = bundle
    p = b.manifest.preprocessing
    runner = OnnxSam.load(b.encoder, b.decoder, p.image_size, p.pixel_mean, p.pixel_std)
    img = probe_images(1)[0]
    masks, iou = runner.predict(runner.embed(img), [[60, 40]], [1], img.shape[:2])
    assert masks.shape == (1, 4, *img.shape[:2]) and iou.shape == (1, 4)


def test_missing_file_is_named(bundle, tmp_path):
    d = _copy(bundle[0].root, tmp_path)
    (d / "decoder.int8.onnx").unlink()
    with pytest.raises(BundleError, match="decoder.int8.onnx is missing"):
        read_bundle(d)


def test_bad_json_and_bad_fields(bundle, tmp_path):
    d = _copy(bundle[0].root, tmp_path)
    (d / "model.json").write_text("{not json")
    with pytest.raises(BundleError, match="model.json is not valid JSON"):
        read_bundle(d)
    good = json.loads((bundle[0].root / "model.json").read_text())
    (d / "model.json").write_text(json.dumps({**good, "preprocessing": {"image_size": "big"}}))
    with pytest.raises(BundleError, match="preprocessing"):
        read_bundle(d)
    (d / "model.json").write_text(json.dumps({**good, "format_version": 99}))
    with pytest.raises(BundleError, match="format_version 99"):
        read_bundle(d)


def test_truncated_file_detected(bundle, tmp_path):
    d = _copy(bundle[0].root, tmp_path)
    data = (d / "encoder.onnx").read_bytes()
    (d / "encoder.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match="encoder.onnx has .* bytes"):
        read_bundle(d)


def test_wrong_decoder_signature_rejected(bundle, tmp_path):
    """A decoder with a fixed point count and a renamed input is not canonical."""
    d = _copy(bundle[0].root, tmp_path)
    import onnx

    model = onnx.load(str(d / "decoder.onnx"))
    for node in model.graph.node:
        node.input[:] = ["clicks" if n == "point_coords" else n for n in node.input]
    model.graph.input[1].name = "clicks"
    onnx.save(model, str(d / "decoder.onnx"))
    write_manifest(
        d, read_bundle(d, verify_hashes=False, check_onnx=False).manifest
    )  # hashes match again
    with pytest.raises(BundleError) as err:
        read_bundle(d)
    assert "missing decoder inputs ['point_coords']" in str(err.value)
    assert "unexpected decoder inputs ['clicks']" in str(err.value)


def test_not_a_folder_and_no_manifest(tmp_path):
    with pytest.raises(BundleError, match="not a folder"):
        read_bundle(tmp_path / "nothing")
    with pytest.raises(BundleError, match="model.json not found"):
        read_bundle(tmp_path)


def test_existing_bundle_not_overwritten_by_default(bundle):
    b, sam = bundle
    before = (b.root / "model.json").read_bytes()
    with pytest.raises(FileExistsError):
        write_bundle(b.root, sam, quantize="none")
    assert (b.root / "model.json").read_bytes() == before
    assert not list(b.root.parent.glob(".tiny-model.partial-*"))


def test_requantize_dynamic(bundle, tmp_path):
    d = _copy(bundle[0].root, tmp_path)
    b = requantize_bundle(d, "dynamic")
    assert b.manifest.decoder_int8 is not None and b.manifest.decoder_int8.method == "dynamic"
    assert b.manifest.parity["int8_vs_fp32"]["method"] == "dynamic"
    read_bundle(d)  # hashes updated


def test_external_data_bundle_as_written_for_models_over_2gb(tmp_path):
    """vit_h's encoder exceeds protobuf's 2 GB; its weights go to one side file. Forced
    here on the tiny model so the same path is exercised end to end."""
    torch.manual_seed(0)
    sam = build_sam_model("tiny")
    b = write_bundle(tmp_path / "ext", sam, arch="tiny", quantize="dynamic", external_data=True)
    m = b.manifest
    assert (
        m.encoder.external_data == "encoder.onnx.data" and (b.root / "encoder.onnx.data").is_file()
    )
    # graph (and tiny constants) inline, the weights outside
    assert (b.root / "encoder.onnx").stat().st_size * 4 < (
        b.root / "encoder.onnx.data"
    ).stat().st_size
    assert "encoder.onnx.data" in m.files
    assert m.parity["fp32_vs_pytorch"]["end_to_end_max_abs_logit_diff"] < 1e-4
    assert m.parity["int8_vs_fp32"]["mask_iou_mean"] >= 0.9
    (b.root / "encoder.onnx.data").unlink()
    with pytest.raises(BundleError, match="encoder.onnx.data is missing"):
        read_bundle(b.root)
