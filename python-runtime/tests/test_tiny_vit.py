"""MobileSAM's TinyViT encoder (arch vit_t): official checkpoint layout, SAM's stride, the
ViT-only assumptions of training and bundles, and ONNX parity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from mobile_sam_layout import DEPTHS, mobile_sam_checkpoint

from delineate_runtime.export.onnx_export import export_encoder_onnx
from delineate_runtime.models import CheckpointError, ModelSpec, build_sam_model, spec_for, spec_of
from delineate_runtime.models.tiny_vit import TinyViTImageEncoder
from delineate_runtime.training.freezing import apply_scope
from delineate_runtime.training.sam_forward import enable_activation_checkpointing


@pytest.fixture(scope="module")
def mobile_sam_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mobile") / "mobile_sam.pt"
    torch.save(mobile_sam_checkpoint(seed=3), path)
    return path


def test_official_mobile_sam_file_loads_every_tensor_where_it_belongs(mobile_sam_file: Path) -> None:
    sam = build_sam_model("vit_t", mobile_sam_file)
    src = torch.load(mobile_sam_file, weights_only=True)
    own = sam.state_dict()
    # A few tensors followed by hand through the renaming (Microsoft's layer N closes with the
    # merging that opens timm's stage N+1).
    pairs = {
        "image_encoder.patch_embed.seq.0.c.weight": "image_encoder.patch_embed.conv1.conv.weight",
        "image_encoder.patch_embed.seq.2.bn.running_var": "image_encoder.patch_embed.conv2.bn.running_var",
        "image_encoder.layers.0.blocks.1.conv2.c.weight": "image_encoder.stages.0.blocks.1.conv2.conv.weight",
        "image_encoder.layers.0.downsample.conv2.c.weight": "image_encoder.stages.1.downsample.conv2.conv.weight",
        "image_encoder.layers.2.downsample.conv3.bn.bias": "image_encoder.stages.3.downsample.conv3.bn.bias",
        "image_encoder.layers.2.blocks.5.attn.attention_biases": "image_encoder.stages.2.blocks.5.attn.attention_biases",
        "image_encoder.layers.3.blocks.1.local_conv.c.weight": "image_encoder.stages.3.blocks.1.local_conv.conv.weight",
        "image_encoder.layers.1.blocks.0.mlp.fc2.weight": "image_encoder.stages.1.blocks.0.mlp.fc2.weight",
        "image_encoder.neck.2.weight": "image_encoder.neck.2.weight",
        "mask_decoder.iou_token.weight": "mask_decoder.iou_token.weight",
    }
    for theirs, ours in pairs.items():
        assert torch.equal(src[theirs], own[ours]), (theirs, ours)
    # Every tensor of the file is used but the ImageNet classifier; nothing of ours is left unset.
    used = {k for k in src if not k.startswith(("image_encoder.head.", "image_encoder.norm_head."))}
    assert sum(src[k].numel() for k in used) == sum(v.numel() for v in own.values())
    assert len(used) == len(own)


def test_the_encoder_keeps_sams_stride_and_feeds_sams_decoder(mobile_sam_file: Path) -> None:
    sam = build_sam_model("vit_t", mobile_sam_file).eval()
    enc = sam.image_encoder
    assert isinstance(enc, TinyViTImageEncoder)
    # The last merging keeps the resolution: 1024 -> 256 -> 128 -> 64 -> 64.
    assert enc.stages[3].downsample.conv2.conv.stride == (1, 1)
    assert enc.stages[1].downsample.conv2.conv.stride == (2, 2)
    with torch.no_grad():
        emb = enc(torch.randn(1, 3, 1024, 1024))
        assert emb.shape == (1, 256, 64, 64)
        sparse, dense = sam.prompt_encoder(points=(torch.tensor([[[500.0, 400.0]]]), torch.tensor([[1]])), boxes=None, masks=None)
        low, iou = sam.mask_decoder(emb, sam.prompt_encoder.get_dense_pe(), sparse, dense, multimask_output=True)
    assert low.shape == (1, 3, 256, 256) and iou.shape == (1, 3)
    assert torch.isfinite(low).all()


def test_wrong_architecture_is_said_in_one_sentence(mobile_sam_file: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"mobile_sam\.pt.*MobileSAM \(TinyViT\) checkpoint: import it as vit_t"):
        build_sam_model("vit_b", mobile_sam_file)
    with torch.device("meta"):
        vit_b = build_sam_model("vit_b")
    vit_b_file = tmp_path / "sam_vit_b.pth"
    torch.save({k: torch.zeros(1) for k in vit_b.state_dict()}, vit_b_file)
    with pytest.raises(CheckpointError, match=r"ViT SAM checkpoint .*not MobileSAM's vit_t"):
        build_sam_model("vit_t", vit_b_file)


def test_spec_round_trips_and_vit_bundles_are_unchanged() -> None:
    sam = build_sam_model("vit_t", image_size=256)
    spec = spec_of(sam, "vit_t")
    assert spec == spec_for("vit_t", image_size=256)
    d = spec.to_dict()
    assert d["encoder_kind"] == "tiny_vit" and d["tinyvit_merge_strides"] == [2, 2, 1]
    assert "encoder_embed_dim" not in d  # no ViT sizes that do not apply
    assert ModelSpec.from_dict(d) == spec
    # A ViT's model.json is what it was before TinyViT: cache keys and bundles stay valid.
    vit = spec_for("vit_b").to_dict()
    assert not any(k.startswith("tinyvit_") for k in vit) and "encoder_kind" not in vit
    # The app hands a model's architecture back as options: that rebuilds it.
    opts = {k: v for k, v in d.items() if k not in ("arch", "image_size")}
    assert spec_for("vit_t", image_size=256, **opts) == spec
    with pytest.raises(ValueError, match="output stride of 32"):
        spec_for("vit_t", tinyvit_merge_strides=(2, 2, 2))


def test_training_unfreezes_the_last_blocks_and_checkpoints_them() -> None:
    torch.manual_seed(0)
    sam = build_sam_model("vit_t", image_size=256)
    sam.train()
    blocks = sam.image_encoder.blocks
    assert len(blocks) == sum(DEPTHS)
    apply_scope(sam, "decoder_and_last_n", last_n=2)
    trainable = [any(p.requires_grad for p in b.parameters()) for b in blocks]
    assert trainable == [False] * (len(blocks) - 2) + [True, True]
    assert all(p.requires_grad for p in sam.image_encoder.neck.parameters())
    assert not any(p.requires_grad for p in sam.image_encoder.patch_embed.parameters())

    x = torch.randn(1, 3, 256, 256)
    plain = sam.image_encoder(x).square().mean()
    plain.backward()
    want = [p.grad.clone() for p in blocks[-1].parameters() if p.grad is not None]
    sam.zero_grad(set_to_none=True)
    enable_activation_checkpointing(sam)
    sam.image_encoder(x).square().mean().backward()
    got = [p.grad for p in blocks[-1].parameters() if p.grad is not None]
    assert want and len(got) == len(want)
    for a, b in zip(want, got, strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)


def test_onnx_encoder_matches_torch(tmp_path: Path) -> None:
    torch.manual_seed(1)
    sam = build_sam_model("vit_t", image_size=256).eval()
    path = export_encoder_onnx(sam, tmp_path / "encoder.onnx")
    x = torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        want = sam.image_encoder(x).numpy()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
    assert got.shape == (1, 256, 16, 16)
    rel = np.linalg.norm(got - want) / np.linalg.norm(want)
    assert rel < 1e-4, rel
