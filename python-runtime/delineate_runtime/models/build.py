"""Build SAM networks from the official ``segment_anything`` modules.

We wrap SAM rather than fork it: every architecture, tiny included, is assembled from
``ImageEncoderViT``, ``PromptEncoder`` and ``MaskDecoder``/``TwoWayTransformer`` exactly as
``segment_anything.build_sam._build_sam`` does, so state-dict keys are the official ones.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import torch
from segment_anything.modeling import (
    ImageEncoderViT,
    MaskDecoder,
    PromptEncoder,
    Sam,
    TwoWayTransformer,
)

from .checkpoint import load_checkpoint
from .efficient_sam import (
    EfficientSamImageEncoder,
    is_efficient_sam_decoder,
    use_efficient_sam_decoder,
)
from .spec import ARCHS, PATCH_SIZE, ModelSpec, spec_for
from .tiny_vit import TinyViTImageEncoder


def _image_encoder(spec: ModelSpec) -> torch.nn.Module:
    if spec.encoder_kind == "tiny_vit":
        return TinyViTImageEncoder(spec)
    if spec.encoder_kind == "efficient_sam":
        return EfficientSamImageEncoder(spec)
    # The window size must not exceed the grid; SAM pads windows internally otherwise.
    return ImageEncoderViT(
        depth=spec.encoder_depth,
        embed_dim=spec.encoder_embed_dim,
        img_size=spec.image_size,
        mlp_ratio=spec.encoder_mlp_ratio,
        norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),  # type: ignore[arg-type]
        num_heads=spec.encoder_num_heads,
        patch_size=PATCH_SIZE,
        qkv_bias=True,
        use_rel_pos=True,
        global_attn_indexes=spec.encoder_global_attn_indexes,
        window_size=spec.encoder_window_size,
        out_chans=spec.prompt_embed_dim,
    )


def build_from_spec(spec: ModelSpec) -> Sam:
    grid = spec.embedding_grid
    efficient_decoder = spec.decoder_kind == "efficient_sam"
    sam = Sam(
        image_encoder=_image_encoder(spec),  # type: ignore[arg-type]
        prompt_encoder=PromptEncoder(
            embed_dim=spec.prompt_embed_dim,
            image_embedding_size=(grid, grid),
            input_image_size=(spec.image_size, spec.image_size),
            mask_in_chans=spec.mask_in_chans,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(
                depth=spec.decoder_depth,
                embedding_dim=spec.prompt_embed_dim,
                mlp_dim=spec.decoder_mlp_dim,
                num_heads=spec.decoder_num_heads,
                # SAM's transformer MLPs use ReLU, EfficientSAM's GELU.
                activation=torch.nn.GELU if efficient_decoder else torch.nn.ReLU,
            ),
            transformer_dim=spec.prompt_embed_dim,
            iou_head_depth=3,
            iou_head_hidden_dim=spec.iou_head_hidden_dim,
        ),
        pixel_mean=list(spec.pixel_mean),
        pixel_std=list(spec.pixel_std),
    )
    if efficient_decoder:
        use_efficient_sam_decoder(sam.mask_decoder)
    sam.eval()
    return sam


def build_sam_model(
    arch: str,
    checkpoint: str | Path | None = None,
    *,
    image_size: int | None = None,
    **tiny_opts: Any,
) -> Sam:
    """Build ``arch`` ("vit_b", "vit_l", "vit_h", "vit_t", "efficientsam_ti" or "tiny"); optionally load a checkpoint.

    ``image_size`` defaults to 1024 for the official sizes and 128 for tiny; ``tiny_opts``
    override any :class:`ModelSpec` field (e.g. ``encoder_depth=2``).
    A bad checkpoint raises :class:`CheckpointError` naming the file and what did not match.
    """
    spec = spec_for(arch, image_size=image_size, **tiny_opts)
    sam = build_from_spec(spec)
    if checkpoint is not None:
        load_checkpoint(sam, checkpoint)
    return sam


def spec_of(sam: Sam, arch: str = "custom") -> ModelSpec:
    """Read a ModelSpec back from a built network (used when writing bundles)."""
    enc = sam.image_encoder
    dec = sam.mask_decoder
    transformer = dec.transformer
    decoder = dict(
        prompt_embed_dim=sam.prompt_encoder.embed_dim,
        mask_in_chans=sam.prompt_encoder.mask_downscaling[3].out_channels,
        decoder_depth=len(transformer.layers),
        decoder_mlp_dim=transformer.layers[0].mlp.lin1.out_features,
        decoder_num_heads=transformer.num_heads,
        iou_head_hidden_dim=dec.iou_prediction_head.layers[0].out_features,
        pixel_mean=tuple(round(float(x), 4) for x in sam.pixel_mean.flatten()),
        pixel_std=tuple(round(float(x), 4) for x in sam.pixel_std.flatten()),
    )
    if is_efficient_sam_decoder(dec):
        decoder["decoder_kind"] = "efficient_sam"
    if isinstance(enc, (TinyViTImageEncoder, EfficientSamImageEncoder)):
        fields = {**enc.spec_fields, **decoder}
        return ModelSpec(arch=arch, image_size=enc.img_size, **fields)  # type: ignore[arg-type]
    blocks = list(enc.blocks)
    first = blocks[0]
    embed_dim = first.norm1.normalized_shape[0]
    return ModelSpec(
        arch=arch,
        image_size=enc.img_size,
        encoder_embed_dim=embed_dim,
        encoder_depth=len(blocks),
        encoder_num_heads=first.attn.num_heads,
        encoder_global_attn_indexes=tuple(i for i, b in enumerate(blocks) if b.window_size == 0),
        encoder_window_size=next((b.window_size for b in blocks if b.window_size > 0), 14),
        encoder_mlp_ratio=first.mlp.lin1.out_features / embed_dim,
        **decoder,  # type: ignore[arg-type]
    )


def _registry_entry(arch: str) -> Any:
    def build(checkpoint: str | Path | None = None, **opts: Any) -> Sam:
        return build_sam_model(arch, checkpoint, **opts)

    build.__name__ = f"build_sam_{arch}"
    return build


# Mirrors ``segment_anything.sam_model_registry`` (``registry[arch](checkpoint=...)``), plus
# "tiny"; loading goes through load_checkpoint so errors are CheckpointErrors.
sam_registry: dict[str, Any] = {a: _registry_entry(a) for a in ARCHS}
sam_registry["default"] = sam_registry["vit_h"]
