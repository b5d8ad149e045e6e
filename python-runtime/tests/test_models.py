"""Model building, official checkpoint layout and clear checkpoint errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from segment_anything import sam_model_registry

from delineate_runtime.models import (
    CheckpointError,
    ModelSpec,
    build_from_spec,
    build_sam_model,
    load_checkpoint,
    sam_registry,
    save_official_format,
    spec_for,
    spec_of,
)


def _shapes(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("arch", ["vit_b", "vit_l", "vit_h"])
def test_official_archs_have_the_registry_key_layout(arch: str) -> None:
    # Built on the meta device: same modules and shapes, no memory, no weights needed.
    with torch.device("meta"):
        ours = build_sam_model(arch)
        official = sam_model_registry[arch]()
    assert _shapes(ours) == _shapes(official)


def test_tiny_round_trip_via_registry_path(tmp_path: Path, make_tiny_sam) -> None:
    model = make_tiny_sam(image_size=128, seed=1)
    ckpt = save_official_format(model, tmp_path / "tiny.pth")
    # A bare state dict, exactly what sam_model_registry[...](checkpoint=...) torch.loads.
    raw = torch.load(ckpt, weights_only=True)
    assert isinstance(raw, dict) and "image_encoder.patch_embed.proj.weight" in raw
    reloaded = sam_registry["tiny"](checkpoint=ckpt, image_size=128)
    for k, v in model.state_dict().items():
        assert torch.equal(v, reloaded.state_dict()[k]), k
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        assert torch.allclose(model.image_encoder(x), reloaded.image_encoder(x))


def test_spec_serialises_and_rebuilds(make_tiny_sam) -> None:
    model = make_tiny_sam(image_size=128, encoder_depth=2, encoder_global_attn_indexes=(1,))
    spec = spec_of(model, "tiny")
    again = ModelSpec.from_dict(spec.to_dict())
    assert again == spec
    assert _shapes(build_from_spec(again)) == _shapes(model)
    assert spec.embedding_grid == 8 and spec.low_res_size == 32


def test_vit_b_spec_matches_official_numbers() -> None:
    s = spec_for("vit_b")
    assert (s.image_size, s.encoder_embed_dim, s.encoder_depth) == (1024, 768, 12)
    with pytest.raises(ValueError, match="unknown SAM architecture"):
        spec_for("vit_x")


def test_wrapped_and_prefixed_checkpoints_load(tmp_path: Path, make_tiny_sam) -> None:
    model = make_tiny_sam(seed=2)
    sd = model.state_dict()
    torch.save({"model": sd, "epoch": 3}, tmp_path / "wrapped.pt")
    torch.save({f"module.{k}": v for k, v in sd.items()}, tmp_path / "ddp.pt")
    for name in ("wrapped.pt", "ddp.pt"):
        fresh = make_tiny_sam(seed=5)
        load_checkpoint(fresh, tmp_path / name)
        assert torch.equal(fresh.mask_decoder.iou_token.weight, model.mask_decoder.iou_token.weight)


def test_corrupt_file_error_names_the_file(tmp_path: Path, make_tiny_sam) -> None:
    bad = tmp_path / "corrupt.pth"
    bad.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(CheckpointError) as ei:
        build_sam_model("tiny", bad)
    assert str(bad) in str(ei.value) and "corrupt" in str(ei.value)

    good = save_official_format(make_tiny_sam(), tmp_path / "good.pth")
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated.pth"):
        build_sam_model("tiny", truncated)


def test_not_a_state_dict_and_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "list.pt"
    torch.save([1, 2, 3], p)
    with pytest.raises(CheckpointError, match="not a SAM state dict"):
        build_sam_model("tiny", p)
    with pytest.raises(CheckpointError, match="does not exist"):
        build_sam_model("tiny", tmp_path / "nope.pth")


def test_mismatched_arch_lists_keys_and_shapes(tmp_path: Path, make_tiny_sam) -> None:
    ckpt = save_official_format(
        make_tiny_sam(encoder_depth=2, encoder_global_attn_indexes=(1,)), tmp_path / "depth2.pth"
    )
    with pytest.raises(CheckpointError) as ei:
        build_sam_model("tiny", ckpt)  # depth 4
    err = ei.value
    assert str(ckpt) in str(err)
    assert any(k.startswith("image_encoder.blocks.3.") for k in err.missing_keys)
    assert not err.unexpected_keys

    ckpt2 = save_official_format(
        make_tiny_sam(encoder_embed_dim=32, encoder_num_heads=2), tmp_path / "narrow.pth"
    )
    with pytest.raises(CheckpointError) as ei2:
        build_sam_model("tiny", ckpt2)
    mism = dict((k, (f, m)) for k, f, m in ei2.value.shape_mismatches)
    assert mism["image_encoder.pos_embed"] == ((1, 8, 8, 32), (1, 8, 8, 64))
    assert "shape mismatches" in str(ei2.value)
    assert ei2.value.to_dict()["path"] == str(ckpt2)


def test_vit_b_checkpoint_round_trip_through_the_official_registry(tmp_path: Path) -> None:
    """Ours -> file -> segment_anything's own loader, and back: the real compatibility check."""
    torch.manual_seed(0)
    ours = build_sam_model("vit_b")
    path = save_official_format(ours, tmp_path / "sam_vit_b_random.pth")
    official = sam_model_registry["vit_b"](checkpoint=str(path))
    probe = "image_encoder.blocks.11.mlp.lin2.weight"
    assert torch.equal(official.state_dict()[probe], ours.state_dict()[probe])
    del official
    again = sam_registry["vit_b"](checkpoint=path)
    assert torch.equal(again.state_dict()[probe], ours.state_dict()[probe])
