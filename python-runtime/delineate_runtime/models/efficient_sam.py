"""EfficientSAM-Ti (Xiong et al., 2023): a plain ViT-Ti image encoder whose 256 x 64 x 64
embedding feeds a decoder with SAM's modules and parameter shapes.

Encoder (``efficient_sam_vitt.pt``): 16 x 16 patches (a 1024 image gives a 64 x 64 grid),
192 wide, 12 pre-norm blocks of global attention (3 heads, MLP ratio 4, GELU, LayerNorm
eps 1e-6, qkv bias), an absolute position embedding stored for a 224 image (1 class-token
slot + 14 x 14, the token unused) and resized bicubically to the image's grid on every
call, then SAM's neck (1x1 conv, LayerNorm2d, 3x3 conv, LayerNorm2d, no biases). The
blocks and patch embedding are timm's (Apache-2.0); their parameter names are the official
ones (``blocks.N.attn.qkv``, ``blocks.N.mlp.fc1``), so the encoder's keys load unrenamed.

Decoder: EfficientSAM keeps SAM's shapes (two-way transformer depth 2, 8 heads, MLP 2048,
4 mask tokens, upscaling 256 -> 64 -> 32, 3-layer hypernetwork and IoU MLPs) but not
SAM's forward, so SAM's decoder run on these weights would be wrong. Where they differ:

* every MLP uses GELU (SAM: ReLU in the transformer's MLPs and the heads);
* the first upscaling norm is ``GroupNorm(1, 64)``, over channels and pixels together
  (SAM: LayerNorm2d, over channels per pixel);
* in the transformer blocks after the first, the tokens' positional encoding is added to
  the tokens themselves before self-attention, so it flows into the values and the
  residual (SAM adds it to queries and keys only); the first block keeps its residual
  (SAM's drops it).

:func:`use_efficient_sam_decoder` runs SAM's own modules that way (only ``forward`` and one
norm change), so the state-dict keys stay SAM's and bundles, the canonical ONNX decoder and
training treat it as any SAM decoder. The rearranged fast decoder (export/fast_decoder.py)
takes the same steps (:func:`self_attention_step`, the GroupNorm), and its parity with the
canonical decoder is gated like any other's. The prompt encoder maps onto SAM's with these
decisions (:func:`from_efficient_sam_layout`):

* positive points, box corners: EfficientSAM's embeddings under SAM's names;
* negative points: EfficientSAM adds no embedding to their positional encoding, so
  SAM's negative-point embedding is zero;
* padding points: EfficientSAM adds its ``invalid_points`` embedding to the positional
  encoding of the pad coordinate (-1, -1); SAM replaces a pad's encoding with
  ``not_a_point_embed``, so that becomes the sum (exact). EfficientSAM pads every prompt
  to 6 points; model.json says ``decoder_kind: efficient_sam`` and the app pads to 6
  (bundle-manifest.ts EFFICIENT_SAM_PROMPT_POINTS), so the decoder sees what it was trained
  on. More than 6 points are all used, where EfficientSAM would drop the extra ones;
* mask input (the previous mask as a prompt): EfficientSAM has none. Its mask
  downscaling and no-mask embedding are zero, so a mask input changes nothing and the
  decoder sees the bare image embedding, as EfficientSAM's does. Fine-tuning can learn it.

Preprocessing: EfficientSAM's own code stretches the image to 1024 x 1024 (aspect ratio
not kept) and normalises 0..1 values with ImageNet's mean and std. That normalisation is
SAM's (123.675 / 255 = 0.485, ...), so it is unchanged. The runtime keeps SAM's longest
side resize + zero padding (model.json's contract, which the app's renderer and the
decoder's point and mask mapping implement): for square images, most scans, the encoder
input is the same as EfficientSAM's; for others the content is not stretched and the
padding is zeros, which a global-attention ViT sees as SAM's encoders do.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING

import torch
from segment_anything.modeling.common import LayerNorm2d
from segment_anything.modeling.mask_decoder import MLP, MaskDecoder
from segment_anything.modeling.transformer import TwoWayAttentionBlock
from timm.layers import PatchEmbed, resample_abs_pos_embed
from timm.models.vision_transformer import Block
from torch import nn
from torch.nn import functional as F

if TYPE_CHECKING:
    from .spec import ModelSpec

PATCH_SIZE = 16
# EfficientSAM pads every prompt to PROMPT_POINTS tokens (a box is two) with label -1 at
# (PAD_COORD, PAD_COORD). The app pads the same (bundle-manifest.ts EFFICIENT_SAM_PROMPT_POINTS),
# and so does fine-tuning (forward.py).
PROMPT_POINTS = 6
PAD_COORD = -1.0


class EfficientSamImageEncoder(nn.Module):
    """Drop-in for ``ImageEncoderViT``: image in, 256-channel embedding at 1/16 out;
    ``img_size``, ``blocks`` and ``neck`` as the training code expects of an encoder."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        dim = spec.encoder_embed_dim
        self.img_size = spec.image_size
        self.pos_embed_grid = spec.pos_embed_grid
        # What spec_of reads back to rebuild this encoder.
        self.spec_fields: dict[str, object] = {
            "encoder_kind": "efficient_sam",
            "encoder_embed_dim": dim,
            "encoder_depth": spec.encoder_depth,
            "encoder_num_heads": spec.encoder_num_heads,
            "encoder_mlp_ratio": spec.encoder_mlp_ratio,
            "pos_embed_grid": spec.pos_embed_grid,
        }
        self.patch_embed = PatchEmbed(
            img_size=spec.image_size,
            patch_size=PATCH_SIZE,
            in_chans=3,
            embed_dim=dim,
            flatten=False,
            output_fmt="NHWC",
        )
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + spec.pos_embed_grid**2, dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.blocks = nn.ModuleList(
            Block(
                dim=dim,
                num_heads=spec.encoder_num_heads,
                mlp_ratio=spec.encoder_mlp_ratio,
                qkv_bias=True,
                norm_layer=partial(nn.LayerNorm, eps=1e-6),  # type: ignore[arg-type]
                act_layer=nn.GELU,
            )
            for _ in range(spec.encoder_depth)
        )
        out = spec.prompt_embed_dim
        self.neck = nn.Sequential(
            nn.Conv2d(dim, out, kernel_size=1, bias=False),
            LayerNorm2d(out),
            nn.Conv2d(out, out, kernel_size=3, padding=1, bias=False),
            LayerNorm2d(out),
        )

    def grid_pos_embed(self, h: int, w: int) -> torch.Tensor:
        """The position embedding at an h x w grid, 1 x h*w x C (class-token slot dropped).
        Bicubic without antialiasing, as EfficientSAM resizes it."""
        pos = resample_abs_pos_embed(
            self.pos_embed,
            new_size=[h, w],
            old_size=[self.pos_embed_grid, self.pos_embed_grid],
            num_prefix_tokens=1,
            interpolation="bicubic",
            antialias=False,
        )
        return pos[:, 1:]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)  # B x H x W x C
        b, h, w, c = x.shape
        x = x.reshape(b, h * w, c) + self.grid_pos_embed(h, w)
        for blk in self.blocks:
            x = blk(x)
        return self.neck(x.transpose(1, 2).reshape(b, c, h, w))  # type: ignore[no-any-return]


class _GeluMLP(MLP):
    """SAM's MLP (same layers, same keys) with GELU between layers, as EfficientSAM's."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = F.gelu(layer(x)) if i < self.num_layers - 1 else layer(x)
        return torch.sigmoid(x) if self.sigmoid_output else x


class _EfficientSamTwoWayBlock(TwoWayAttentionBlock):
    """SAM's two-way block (same modules, same keys) with EfficientSAM's self-attention:
    the positional encoding joins the tokens before attention (values and residual
    included), and the first block keeps its residual."""

    def forward(
        self,
        queries: torch.Tensor,
        keys: torch.Tensor,
        query_pe: torch.Tensor,
        key_pe: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        queries = self_attention_step(self, queries, query_pe)
        q = queries + query_pe
        k = keys + key_pe
        queries = self.norm2(queries + self.cross_attn_token_to_image(q=q, k=k, v=keys))
        queries = self.norm3(queries + self.mlp(queries))
        q = queries + query_pe
        keys = self.norm4(keys + self.cross_attn_image_to_token(q=k, k=q, v=queries))
        return queries, keys


def self_attention_step(
    layer: TwoWayAttentionBlock, queries: torch.Tensor, query_pe: torch.Tensor
) -> torch.Tensor:
    """The first step of a two-way block, SAM's or EfficientSAM's way: one function, so that
    the fast decoder's rearranged blocks can stay the same computation."""
    if is_efficient_sam_block(layer):
        if not layer.skip_first_layer_pe:
            queries = queries + query_pe
        out = queries + layer.self_attn(q=queries, k=queries, v=queries)
    elif layer.skip_first_layer_pe:
        out = layer.self_attn(q=queries, k=queries, v=queries)
    else:
        q = queries + query_pe
        out = queries + layer.self_attn(q=q, k=q, v=queries)
    return layer.norm1(out)  # type: ignore[no-any-return]


def is_efficient_sam_block(layer: nn.Module) -> bool:
    return isinstance(layer, _EfficientSamTwoWayBlock)


def use_efficient_sam_decoder(decoder: MaskDecoder) -> MaskDecoder:
    """Make a SAM ``MaskDecoder`` (built with GELU in its transformer) compute as
    EfficientSAM's does. Only behaviour changes: the modules keep their parameters and
    names, which is why classes are swapped on the instances instead of rebuilt."""
    for layer in decoder.transformer.layers:
        layer.__class__ = _EfficientSamTwoWayBlock
    for mlp in [*decoder.output_hypernetworks_mlps, decoder.iou_prediction_head]:
        mlp.__class__ = _GeluMLP
    norm = decoder.output_upscaling[1]
    assert isinstance(norm, LayerNorm2d)
    decoder.output_upscaling[1] = nn.GroupNorm(1, norm.weight.shape[0])
    return decoder


def is_efficient_sam_decoder(decoder: MaskDecoder) -> bool:
    return isinstance(decoder.output_upscaling[1], nn.GroupNorm)


def is_efficient_sam_layout(sd: Mapping[str, object]) -> bool:
    """An official EfficientSAM file: its prompt encoder or decoder names give it away."""
    return "prompt_encoder.invalid_points.weight" in sd or any(
        k.startswith("mask_decoder.final_output_upscaling_layers.") for k in sd
    )


# EfficientSAM's mask-decoder names -> SAM's (after "mask_decoder."). Their MLPs are
# Linear+act pairs (``layers.i.0``) closed by ``fc``; SAM's are plain ``layers.i``.
_DECODER_RENAMES: tuple[tuple[str, str], ...] = (
    (r"^final_output_upscaling_layers\.0\.0\.", "output_upscaling.0."),
    (r"^final_output_upscaling_layers\.0\.1\.", "output_upscaling.1."),
    (r"^final_output_upscaling_layers\.1\.0\.", "output_upscaling.3."),
    (r"^(transformer\.layers\.\d+\.mlp)\.layers\.0\.0\.", r"\1.lin1."),
    (r"^(transformer\.layers\.\d+\.mlp)\.fc\.", r"\1.lin2."),
    (r"^((?:output_hypernetworks_mlps\.\d+|iou_prediction_head)\.layers\.\d+)\.0\.", r"\1."),
)
_HEAD_FC = re.compile(r"^(output_hypernetworks_mlps\.\d+|iou_prediction_head)\.fc\.(weight|bias)$")
SAM_MASK_IN_CHANS = 16


def _pad_encoding(gaussian: torch.Tensor, image_size: int) -> torch.Tensor:
    """SAM's random-Fourier encoding of EfficientSAM's pad point (-1, -1), 1 x C."""
    c = (PAD_COORD + 0.5) / image_size  # the +0.5 pixel-centre shift both apply
    xy = torch.tensor([[c, c]], dtype=gaussian.dtype)
    proj = 2 * math.pi * ((2 * xy - 1) @ gaussian)
    return torch.cat([torch.sin(proj), torch.cos(proj)], dim=-1)


def from_efficient_sam_layout(
    sd: Mapping[str, torch.Tensor], image_size: int = 1024
) -> dict[str, torch.Tensor]:
    """Rename an official ``efficient_sam_vitt.pt`` state dict to SAM's layout (see the
    module docstring for what the prompt encoder's entries become)."""
    out: dict[str, torch.Tensor] = {}
    for key, value in sd.items():
        if key.startswith("mask_decoder."):
            k = key[len("mask_decoder.") :]
            for pattern, repl in _DECODER_RENAMES:
                k = re.sub(pattern, repl, k)
            head = _HEAD_FC.match(k)
            if head:  # the closing Linear follows the hidden ones: layers.<their count>
                hidden_layer = re.compile(
                    rf"^mask_decoder\.{re.escape(head.group(1))}\.layers\.\d+\.0\.weight$"
                )
                hidden = sum(1 for j in sd if hidden_layer.match(j))
                k = f"{head.group(1)}.layers.{hidden}.{head.group(2)}"
            out["mask_decoder." + k] = value
        elif not key.startswith("prompt_encoder."):
            out[key] = value
    p = "prompt_encoder."
    positive = sd[p + "point_embeddings.weight"]
    gaussian = sd[p + "pe_layer.positional_encoding_gaussian_matrix"]
    dim = positive.shape[1]
    zeros = partial(torch.zeros, dtype=positive.dtype)
    out[p + "pe_layer.positional_encoding_gaussian_matrix"] = gaussian
    out[p + "point_embeddings.0.weight"] = zeros(1, dim)
    out[p + "point_embeddings.1.weight"] = positive
    out[p + "point_embeddings.2.weight"] = sd[p + "bbox_top_left_embeddings.weight"]
    out[p + "point_embeddings.3.weight"] = sd[p + "bbox_bottom_right_embeddings.weight"]
    pad = sd[p + "invalid_points.weight"] + _pad_encoding(gaussian, image_size)
    out[p + "not_a_point_embed.weight"] = pad
    out[p + "no_mask_embed.weight"] = zeros(1, dim)
    # No mask input in EfficientSAM: SAM's mask branch all zeros, so it outputs zeros.
    m = SAM_MASK_IN_CHANS
    shapes = {
        "0.weight": (m // 4, 1, 2, 2),
        "0.bias": (m // 4,),
        "1.weight": (m // 4,),
        "1.bias": (m // 4,),
        "3.weight": (m, m // 4, 2, 2),
        "3.bias": (m,),
        "4.weight": (m,),
        "4.bias": (m,),
        "6.weight": (dim, m, 1, 1),
        "6.bias": (dim,),
    }
    for name, shape in shapes.items():
        out[f"{p}mask_downscaling.{name}"] = zeros(*shape)
    return out
