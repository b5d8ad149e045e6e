"""MobileSAM's image encoder: a TinyViT whose features keep SAM's stride 16, plus SAM's neck.

MobileSAM (Zhang et al., 2023) distilled SAM's ViT-H encoder into TinyViT-5M and kept SAM's
prompt encoder and mask decoder unchanged, so its embeddings (256 x 64 x 64 for a 1024
image) feed the same decoder, the fast decoder included. On a 2-core CPU the encoder takes
about a tenth of ViT-B's time.

The building blocks come from timm (Apache-2.0), whose TinyViT is the same network as
Microsoft's reference; two changes make it MobileSAM's:

* the last patch merging keeps the resolution (stride 1), so the stages run at 1/4, 1/8,
  1/16 and 1/16 of the image and the output grid is SAM's image_size / 16;
* no classifier; SAM's neck (1x1 conv, LayerNorm2d, 3x3 conv, LayerNorm2d, no biases) maps
  the last stage's channels to the decoder's 256.

Official ``mobile_sam.pt`` files use Microsoft's parameter names (``layers.N``, ``seq.0.c``);
:func:`from_mobile_sam_layout` renames them to this module's (timm's ``stages.N``,
``conv1.conv``). The classifier head in those files is not part of SAM and is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

import torch
from segment_anything.modeling.common import LayerNorm2d
from timm.models.tiny_vit import ConvLayer, PatchEmbed, PatchMerging, TinyVitStage
from torch import nn

if TYPE_CHECKING:
    from .spec import ModelSpec

PATCH_EMBED_STRIDE = 4  # two stride-2 convolutions


class TinyViTImageEncoder(nn.Module):
    """Drop-in for ``segment_anything``'s ``ImageEncoderViT``: image in, 256-channel
    embedding at 1/16 out; exposes ``img_size``, ``blocks`` and ``neck`` as the training
    code expects of an encoder."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        dims = spec.tinyvit_embed_dims
        depths = spec.tinyvit_depths
        heads = spec.tinyvit_num_heads
        windows = spec.tinyvit_window_sizes
        strides = spec.tinyvit_merge_strides
        self.img_size = spec.image_size
        # What spec_of reads back to rebuild this encoder.
        self.spec_fields: dict[str, object] = {
            "encoder_kind": "tiny_vit",
            "encoder_mlp_ratio": spec.encoder_mlp_ratio,
            "tinyvit_embed_dims": dims,
            "tinyvit_depths": depths,
            "tinyvit_num_heads": heads,
            "tinyvit_window_sizes": windows,
            "tinyvit_merge_strides": strides,
        }
        act = nn.GELU
        self.patch_embed = PatchEmbed(in_chs=3, out_chs=dims[0], act_layer=act)
        stages: list[nn.Module] = [ConvLayer(dim=dims[0], depth=depths[0], act_layer=act, conv_expand_ratio=4.0)]
        for i in range(1, len(dims)):
            stage = TinyVitStage(
                dim=dims[i - 1],
                out_dim=dims[i],
                depth=depths[i],
                num_heads=heads[i],
                window_size=windows[i],
                mlp_ratio=spec.encoder_mlp_ratio,
                downsample=PatchMerging,
                local_conv_size=3,
                act_layer=act,
            )
            if strides[i - 1] != 2:
                merge = stage.downsample
                assert isinstance(merge, PatchMerging)
                merge.conv2.conv.stride = (strides[i - 1], strides[i - 1])
            stages.append(stage)
        self.stages = nn.Sequential(*stages)
        out = spec.prompt_embed_dim
        self.neck = nn.Sequential(
            nn.Conv2d(dims[-1], out, kernel_size=1, bias=False),
            LayerNorm2d(out),
            nn.Conv2d(out, out, kernel_size=3, padding=1, bias=False),
            LayerNorm2d(out),
        )

    @property
    def blocks(self) -> list[nn.Module]:
        """Every block in order (MBConvs, then transformer blocks), as ImageEncoderViT.blocks
        is: what "unfreeze the last N blocks" and activation checkpointing walk. A plain list
        (not a ModuleList) so the state dict does not name each block twice."""
        return [b for s in self.stages for b in s.blocks]  # type: ignore[union-attr]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.neck(self.stages(self.patch_embed(x)))  # type: ignore[no-any-return]


def output_stride(merge_strides: tuple[int, ...]) -> int:
    s = PATCH_EMBED_STRIDE
    for m in merge_strides:
        s *= m
    return s


# Microsoft/MobileSAM names -> this module's, for the encoder's keys (after "image_encoder.").
_RENAMES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^patch_embed\.seq\.0\.c\."), "patch_embed.conv1.conv."),
    (re.compile(r"^patch_embed\.seq\.0\.bn\."), "patch_embed.conv1.bn."),
    (re.compile(r"^patch_embed\.seq\.2\.c\."), "patch_embed.conv2.conv."),
    (re.compile(r"^patch_embed\.seq\.2\.bn\."), "patch_embed.conv2.bn."),
)
_CONV_BN = re.compile(r"\.c\.(weight|bias)$")
_LAYER = re.compile(r"^layers\.(\d+)\.(blocks|downsample)\.(.*)$")
# MobileSAM's classifier (norm_head, head): trained for ImageNet, unused by SAM.
_DROPPED = re.compile(r"^(norm_head|head)\.")


def is_mobile_sam_layout(sd: Mapping[str, object]) -> bool:
    return any(k.startswith("image_encoder.layers.") or k.startswith("image_encoder.patch_embed.seq.") for k in sd)


def from_mobile_sam_layout(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an official ``mobile_sam.pt`` state dict to this runtime's layout."""
    out: dict[str, torch.Tensor] = {}
    prefix = "image_encoder."
    for key, value in sd.items():
        if not key.startswith(prefix):
            out[key] = value
            continue
        k = key[len(prefix) :]
        if _DROPPED.match(k) or k.endswith("attention_bias_idxs"):
            continue  # the index table is rebuilt from the window size, not loaded
        for pattern, repl in _RENAMES:
            k = pattern.sub(repl, k)
        m = _LAYER.match(k)
        if m:
            layer, part, rest = int(m.group(1)), m.group(2), m.group(3)
            # A merging closes layer N in Microsoft's layout and opens stage N+1 in timm's.
            k = f"stages.{layer + 1}.downsample.{rest}" if part == "downsample" else f"stages.{layer}.blocks.{rest}"
        k = _CONV_BN.sub(r".conv.\1", k)
        out[prefix + k] = value
    return out
