"""The fast decoder (export/fast_decoder.py): the same function as upstream's mask decoder,
in PyTorch and in ONNX, for every prompt kind; bundles carry it with its parity."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from delineate_runtime.export import probe_images, read_bundle, write_bundle
from delineate_runtime.export.fast_decoder import (
    FAST_DECODER_INPUTS,
    FastDecoder,
    fast_decoder_parity,
    parity_feeds,
)
from delineate_runtime.export.modules import DECODER_INPUTS, CanonicalDecoder
from delineate_runtime.export.onnx_export import export_decoder_onnx, export_fast_decoder_onnx
from delineate_runtime.export.onnx_sam import make_session
from delineate_runtime.models import build_sam_model


@pytest.fixture(scope="module")
def sam():
    torch.manual_seed(0)
    model = build_sam_model("tiny").eval()
    # Random-init LayerNorms are identities and biases zero: perturb every decoder weight so
    # that a wrongly folded bias or a transposed projection cannot hide.
    with torch.no_grad():
        for p in model.mask_decoder.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


def _prompts(sam, seed: int):
    """(coords in model pixels, labels) for clicks, a box, clicks + box, many clicks."""
    size = sam.image_encoder.img_size
    g = torch.Generator().manual_seed(seed)
    pts = torch.rand(1, 12, 2, generator=g) * size
    pad = (torch.zeros(1, 1, 2), torch.tensor([[-1.0]]))
    yield torch.cat([pts[:, :1], pad[0]], 1), torch.tensor([[1.0, -1.0]])
    yield pts[:, :2], torch.tensor([[2.0, 3.0]])
    yield pts[:, :4], torch.tensor([[1.0, 0.0, 2.0, 3.0]])
    yield torch.cat([pts, pad[0]], 1), torch.cat([(torch.rand(1, 12, generator=g) > 0.3).float(), pad[1]], 1)


@pytest.mark.parametrize("with_mask", [False, True])
def test_fast_decoder_equals_upstream_in_pytorch(sam, with_mask):
    canonical = CanonicalDecoder(sam, return_single_mask=False).eval()
    fast = FastDecoder(sam).eval()
    _, c, gh, gw = 1, sam.prompt_encoder.embed_dim, *sam.prompt_encoder.image_embedding_size
    g = torch.Generator().manual_seed(1)
    emb = torch.randn(1, c, gh, gw, generator=g)
    mask = torch.randn(1, 1, 4 * gh, 4 * gw, generator=g)
    has = torch.tensor([1.0 if with_mask else 0.0])
    size = torch.tensor([96.0, 128.0])
    with torch.no_grad():
        for coords, labels in _prompts(sam, seed=2):
            _, iou_c, low_c = canonical(emb, coords, labels, mask, has, size)
            iou_f, low_f = fast(emb, coords, labels, mask, has)
            assert low_f.shape == low_c.shape == (1, 4, 4 * gh, 4 * gw)
            assert torch.allclose(low_f, low_c, atol=1e-5, rtol=1e-4), (low_f - low_c).abs().max()
            assert torch.allclose(iou_f, iou_c, atol=1e-5)
            assert low_c.abs().max() > 0.05  # the comparison is between non-trivial logits


def test_fast_decoder_onnx_matches_canonical_onnx(sam, tmp_path):
    export_decoder_onnx(sam, tmp_path / "decoder.onnx")
    export_fast_decoder_onnx(sam, tmp_path / "fast.onnx")
    fast = make_session(tmp_path / "fast.onnx")
    assert [i.name for i in fast.get_inputs()] == list(FAST_DECODER_INPUTS)
    assert [o.name for o in fast.get_outputs()] == ["iou_predictions", "low_res_masks"]
    _, c, gh, gw = 1, sam.prompt_encoder.embed_dim, *sam.prompt_encoder.image_embedding_size
    embeddings = [np.random.default_rng(k).normal(size=(1, c, gh, gw)).astype(np.float32) for k in range(2)]
    feeds = parity_feeds(embeddings, sam.image_encoder.img_size)
    assert {len(f["point_labels"][0]) for f in feeds} >= {2, 3, 4}  # clicks and boxes
    assert set(DECODER_INPUTS) == set(feeds[0])
    parity = fast_decoder_parity(make_session(tmp_path / "decoder.onnx"), fast, feeds)
    print("fast vs canonical (onnx):", parity)
    assert parity["low_res_max_abs_diff"] < 1e-4
    assert parity["iou_prediction_max_abs_diff"] < 1e-4
    assert parity["mask_iou_min"] >= 0.999


def test_parity_catches_a_different_decoder(sam, tmp_path):
    """The gate can fail: a decoder with other weights is far from the canonical one."""
    export_decoder_onnx(sam, tmp_path / "decoder.onnx")
    other = build_sam_model("tiny").eval()
    with torch.no_grad():
        for p in other.mask_decoder.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    export_fast_decoder_onnx(other, tmp_path / "other.onnx")
    _, c, gh, gw = 1, sam.prompt_encoder.embed_dim, *sam.prompt_encoder.image_embedding_size
    emb = [np.random.default_rng(3).normal(size=(1, c, gh, gw)).astype(np.float32)]
    parity = fast_decoder_parity(
        make_session(tmp_path / "decoder.onnx"),
        make_session(tmp_path / "other.onnx"),
        parity_feeds(emb, sam.image_encoder.img_size),
    )
    assert parity["mask_iou_min"] < 0.999 and parity["low_res_max_abs_diff"] > 1e-2


def test_bundle_carries_fast_decoder_with_parity(sam, tmp_path):
    b = write_bundle(tmp_path / "b", sam, arch="tiny", quantize="none", images=probe_images(2))
    m = json.loads((b.root / "model.json").read_text())
    fast = m["decoder_fast"]
    assert fast["file"] == "decoder.fast.onnx" and "decoder.fast.onnx" in m["files"]
    assert fast["parity"]["mask_iou_min"] >= 0.999
    assert m["parity"]["fast_decoder_vs_canonical"] == fast["parity"]
    assert [o["name"] for o in fast["outputs"]] == ["iou_predictions", "low_res_masks"]
    assert "orig_im_size" not in [i["name"] for i in fast["inputs"]]
    read_bundle(b.root)  # hashes and listed files verify
    (b.root / "decoder.fast.onnx").write_bytes(b"tampered")
    with pytest.raises(Exception, match="decoder.fast.onnx"):
        read_bundle(b.root)
