"""EfficientSAM-Ti (arch efficientsam_ti): the official file layout imports whole, its
encoder and decoder compute as EfficientSAM's, training walks its blocks, ONNX matches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from efficient_sam_layout import DEPTH, efficient_sam_checkpoint, reference_embedding, reference_masks

from delineate_runtime.export.fast_decoder import FastDecoder
from delineate_runtime.export.modules import CanonicalDecoder
from delineate_runtime.export.onnx_export import export_decoder_onnx, export_encoder_onnx
from delineate_runtime.models import CheckpointError, ModelSpec, build_sam_model, spec_for, spec_of
from delineate_runtime.models.efficient_sam import EfficientSamImageEncoder
from delineate_runtime.training.freezing import apply_scope
from delineate_runtime.training.sam_forward import enable_activation_checkpointing


@pytest.fixture(scope="module")
def official() -> dict[str, torch.Tensor]:
    return efficient_sam_checkpoint(seed=4)["model"]


@pytest.fixture(scope="module")
def official_file(tmp_path_factory: pytest.TempPathFactory, official: dict[str, torch.Tensor]) -> Path:
    path = tmp_path_factory.mktemp("esam") / "efficient_sam_vitt.pt"
    torch.save({"model": official}, path)
    return path


@pytest.fixture(scope="module")
def sam(official_file: Path) -> torch.nn.Module:
    return build_sam_model("efficientsam_ti", official_file).eval()


def test_every_tensor_of_the_file_lands_where_it_belongs(sam: torch.nn.Module, official: dict[str, torch.Tensor]) -> None:
    own = sam.state_dict()
    pairs = {
        "image_encoder.pos_embed": "image_encoder.pos_embed",
        "image_encoder.blocks.11.mlp.fc2.weight": "image_encoder.blocks.11.mlp.fc2.weight",
        "prompt_encoder.point_embeddings.weight": "prompt_encoder.point_embeddings.1.weight",
        "prompt_encoder.bbox_bottom_right_embeddings.weight": "prompt_encoder.point_embeddings.3.weight",
        "mask_decoder.transformer.layers.1.mlp.layers.0.0.weight": "mask_decoder.transformer.layers.1.mlp.lin1.weight",
        "mask_decoder.transformer.layers.0.mlp.fc.bias": "mask_decoder.transformer.layers.0.mlp.lin2.bias",
        "mask_decoder.final_output_upscaling_layers.0.1.weight": "mask_decoder.output_upscaling.1.weight",
        "mask_decoder.final_output_upscaling_layers.1.0.weight": "mask_decoder.output_upscaling.3.weight",
        "mask_decoder.output_hypernetworks_mlps.2.fc.weight": "mask_decoder.output_hypernetworks_mlps.2.layers.2.weight",
        "mask_decoder.iou_prediction_head.layers.1.0.bias": "mask_decoder.iou_prediction_head.layers.1.bias",
    }
    for theirs, ours in pairs.items():
        assert torch.equal(official[theirs], own[ours]), (theirs, ours)
    # Negative points get no embedding and the mask branch is silent (EfficientSAM has none).
    assert not own["prompt_encoder.point_embeddings.0.weight"].any()
    assert not own["prompt_encoder.no_mask_embed.weight"].any()
    assert not own["prompt_encoder.mask_downscaling.6.weight"].any()


def test_encoder_gives_sams_grid_and_computes_as_efficient_sam(sam: torch.nn.Module, official: dict[str, torch.Tensor]) -> None:
    enc = sam.image_encoder
    assert isinstance(enc, EfficientSamImageEncoder)
    x = torch.randn(1, 3, 1024, 1024)
    with torch.no_grad():
        got = enc(x)
        want = reference_embedding(official, x)
    assert got.shape == (1, 256, 64, 64)
    assert (got - want).abs().max() < 1e-3, (got - want).abs().max()


@pytest.mark.parametrize(
    ("points", "labels"),
    [
        ([[500.0, 400.0]], [1]),
        ([[500.0, 400.0], [300.0, 620.0], [700.0, 90.0]], [1, 0, 1]),
        ([[100.0, 150.0], [800.0, 900.0]], [2, 3]),
    ],
)
def test_decoder_computes_as_efficient_sams(
    sam: torch.nn.Module, official: dict[str, torch.Tensor], points: list[list[float]], labels: list[int]
) -> None:
    """Fed EfficientSAM's six prompt tokens (its padding included), SAM's modules as the
    runtime sets them up give EfficientSAM's masks and IoUs, canonical and fast decoder."""
    torch.manual_seed(0)
    emb = torch.randn(1, 256, 64, 64)
    pts, lab = torch.tensor(points), torch.tensor(labels)
    want_masks, want_iou = reference_masks(official, emb[0], pts, lab)
    n = len(labels)
    coords = torch.cat([pts, torch.zeros(6 - n, 2)])[None]  # the runtime's pads: label -1 anywhere
    labels6 = torch.cat([lab, torch.full((6 - n,), -1)])[None].float()
    no_mask = (torch.zeros(1, 1, 256, 256), torch.zeros(1))
    with torch.no_grad():
        canonical = CanonicalDecoder(sam, return_single_mask=False)
        sparse = canonical._embed_points(coords, labels6)
        dense = canonical._embed_masks(*no_mask)
        masks, iou = sam.mask_decoder.predict_masks(emb, sam.prompt_encoder.get_dense_pe(), sparse, dense)
        fast_iou, fast_masks = FastDecoder(sam)(emb, coords, labels6, *no_mask)
    assert (masks[0] - want_masks).abs().max() < 1e-3
    assert (iou[0] - want_iou).abs().max() < 1e-4
    assert (fast_masks[0] - want_masks).abs().max() < 1e-3
    assert (fast_iou[0] - want_iou).abs().max() < 1e-4
    # A mask input changes nothing: EfficientSAM has no mask prompt.
    with torch.no_grad():
        dense_with_mask = canonical._embed_masks(torch.randn(1, 1, 256, 256), torch.ones(1))
    assert not dense_with_mask.any()


def test_wrong_architecture_is_said_in_one_sentence(official_file: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"efficient_sam_vitt\.pt: is an EfficientSAM checkpoint: import it as efficientsam_ti$"):
        build_sam_model("vit_b", official_file)
    with pytest.raises(CheckpointError, match=r"import it as efficientsam_ti$"):
        build_sam_model("vit_t", official_file)
    with torch.device("meta"):
        vit_b = build_sam_model("vit_b")
    vit_b_file = tmp_path / "sam_vit_b_01ec64.pth"
    torch.save({k: torch.zeros(1) for k in vit_b.state_dict()}, vit_b_file)
    with pytest.raises(CheckpointError, match=r"sam_vit_b_01ec64\.pth: is a ViT SAM checkpoint .*, not EfficientSAM-Ti \(efficientsam_ti\)$"):
        build_sam_model("efficientsam_ti", vit_b_file)


def test_spec_round_trips_and_other_models_json_is_unchanged() -> None:
    sam = build_sam_model("efficientsam_ti", image_size=256)
    spec = spec_of(sam, "efficientsam_ti")
    assert spec == spec_for("efficientsam_ti", image_size=256)
    d = spec.to_dict()
    assert d["encoder_kind"] == "efficient_sam" and d["decoder_kind"] == "efficient_sam"
    assert d["pos_embed_grid"] == 14 and "encoder_window_size" not in d and "tinyvit_depths" not in d
    assert ModelSpec.from_dict(d) == spec
    opts = {k: v for k, v in d.items() if k not in ("arch", "image_size")}
    assert spec_for("efficientsam_ti", image_size=256, **opts) == spec
    for arch in ("vit_b", "vit_t"):
        other = spec_for(arch).to_dict()
        assert "pos_embed_grid" not in other and "decoder_kind" not in other


def test_a_saved_model_reloads_in_the_runtimes_layout(sam: torch.nn.Module, tmp_path: Path) -> None:
    from delineate_runtime.models import save_official_format

    path = save_official_format(sam, tmp_path / "checkpoint.pt")
    again = build_sam_model("efficientsam_ti", path)
    for k, v in sam.state_dict().items():
        assert torch.equal(v, again.state_dict()[k]), k


def test_training_unfreezes_the_last_blocks_and_gradients_flow_through_checkpointing() -> None:
    torch.manual_seed(0)
    sam = build_sam_model("efficientsam_ti", image_size=256)
    sam.train()
    blocks = sam.image_encoder.blocks
    assert len(blocks) == DEPTH
    apply_scope(sam, "decoder_and_last_n", last_n=2)
    trainable = [any(p.requires_grad for p in b.parameters()) for b in blocks]
    assert trainable == [False] * (DEPTH - 2) + [True, True]
    assert all(p.requires_grad for p in sam.image_encoder.neck.parameters())
    assert not sam.image_encoder.patch_embed.proj.weight.requires_grad

    x = torch.randn(1, 3, 256, 256)
    sam.image_encoder(x).square().mean().backward()
    want = [p.grad.clone() for p in blocks[-1].parameters() if p.grad is not None]
    sam.zero_grad(set_to_none=True)
    enable_activation_checkpointing(sam)
    sam.image_encoder(x).square().mean().backward()
    got = [p.grad for p in blocks[-1].parameters() if p.grad is not None]
    assert want and len(got) == len(want) == len(list(blocks[-1].parameters()))
    assert any(g.abs().sum() > 0 for g in got)
    for a, b in zip(want, got, strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)


def test_onnx_encoder_and_decoder_match_torch(sam: torch.nn.Module, tmp_path: Path) -> None:
    enc_path = export_encoder_onnx(sam, tmp_path / "encoder.onnx")
    x = torch.randn(1, 3, 1024, 1024)
    with torch.no_grad():
        want = sam.image_encoder(x).numpy()
    sess = ort.InferenceSession(str(enc_path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
    assert got.shape == (1, 256, 64, 64)
    assert np.abs(got - want).max() < 1e-3, np.abs(got - want).max()

    dec_path = export_decoder_onnx(sam, tmp_path / "decoder.onnx")
    feed = {
        "image_embeddings": want,
        "point_coords": np.array([[[500.0, 400.0], [0.0, 0.0]]], np.float32),
        "point_labels": np.array([[1.0, -1.0]], np.float32),
        "mask_input": np.zeros((1, 1, 256, 256), np.float32),
        "has_mask_input": np.zeros(1, np.float32),
        "orig_im_size": np.array([1024.0, 1024.0], np.float32),
    }
    dec = ort.InferenceSession(str(dec_path), providers=["CPUExecutionProvider"])
    _, iou, low = dec.run(None, feed)
    with torch.no_grad():
        t_masks, t_iou, t_low = CanonicalDecoder(sam, return_single_mask=False)(*(torch.from_numpy(v) for v in feed.values()))
    assert np.abs(low - t_low.numpy()).max() < 1e-3
    assert np.abs(iou - t_iou.numpy()).max() < 1e-4


def test_training_prompts_are_padded_to_six_tokens_as_the_app_pads_them() -> None:
    """Fine-tuning feeds EfficientSAM's decoder the prompt layout the app sends it (six
    tokens: points, the box's two corners or SAM's own pad point, then "not a point")."""
    from delineate_runtime.data.prompts import Prompt
    from delineate_runtime.models.forward import decode, prompt_tensors

    cpu = torch.device("cpu")
    click = Prompt("points", coords=np.array([[10.0, 20.0]], np.float32), labels=np.array([1.0], np.float32))
    box = Prompt("box", box=np.array([5.0, 5.0, 40.0, 30.0], np.float32))
    points, b = prompt_tensors(click, cpu, 6)
    assert points is not None and b is None
    assert points[0].shape == (1, 5, 2)  # + SAM's own pad point = 6
    assert points[1][0].tolist() == [1.0, -1.0, -1.0, -1.0, -1.0]
    points, b = prompt_tensors(box, cpu, 6)
    assert points is not None and points[0].shape == (1, 4, 2) and b is not None  # + 2 corners = 6
    assert prompt_tensors(Prompt("none"), cpu, 6) == (None, None)
    assert prompt_tensors(click, cpu)[0][0].shape == (1, 1, 2), "SAM models: unchanged"

    sam = build_sam_model("efficientsam_ti", image_size=256).eval()
    emb = torch.randn(1, 256, 16, 16)
    with torch.no_grad():
        low, _ = decode(sam, emb, click)
        p6, _ = prompt_tensors(click, cpu, 6)
        sparse, dense = sam.prompt_encoder(points=p6, boxes=None, masks=None)
        want, _ = sam.mask_decoder(emb, sam.prompt_encoder.get_dense_pe(), sparse, dense, multimask_output=True)
    assert torch.allclose(low, want), "decode pads an EfficientSAM model's prompts"
