"""A checkpoint laid out as the official ``efficient_sam_vitt.pt`` is, with random values,
and EfficientSAM's decoder computed straight from that layout.

No EfficientSAM weights can be fetched here, so tests write a file in its layout. Names and
shapes follow EfficientSAM's own modules (``efficient_sam/efficient_sam_encoder.py``,
``efficient_sam_decoder.py``, ``two_way_transformer.py``, ``mlp.py``), written out here
from that structure rather than derived from the runtime's renaming, so a renaming mistake
shows as a failed load or a different mask:

* encoder: ``patch_embed.proj``, ``pos_embed`` for 224 / 16 = 14 x 14 plus a class token,
  ``blocks.N`` (``norm1``, ``attn.qkv``, ``attn.proj``, ``norm2``, ``mlp.fc1``, ``mlp.fc2``),
  SAM's ``neck``;
* prompt encoder: ``pe_layer`` and one embedding each for invalid (pad) points, positive
  points and the two box corners, nothing for masks;
* mask decoder: ``MLPBlock`` is ``layers.i.0`` (Linear, then the activation) + ``fc``; the
  upscaling is ``final_output_upscaling_layers.i.{0: ConvTranspose, 1: GroupNorm}``;
* the file holds ``{"model": state_dict}``.

:func:`reference_masks` is EfficientSAM's decoder forward written functionally over those
tensors (GELU MLPs, GroupNorm, positional encoding inside the self-attention residual),
the yardstick for the runtime's SAM-module version.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

DIM = 192
DEPTH = 12
MLP_RATIO = 4
POS_GRID = 14
EMBED = 256
DECODER_MLP = 2048
DECODER_DEPTH = 2
HEADS = 8
MASK_TOKENS = 4
UPSCALE = (64, 32)
MAX_POINTS = 6  # EfficientSAM pads (or cuts) every prompt to 6 points
IMAGE_SIZE = 1024


def efficient_sam_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    sd: dict[str, torch.Tensor] = {}

    def rnd(*shape: int, scale: float = 0.05) -> torch.Tensor:
        return torch.randn(*shape, generator=g) * scale

    def linear(name: str, cin: int, cout: int) -> None:
        sd[f"{name}.weight"] = rnd(cout, cin, scale=cin**-0.5)
        sd[f"{name}.bias"] = rnd(cout)

    def norm(name: str, dim: int) -> None:
        sd[f"{name}.weight"] = 1 + rnd(dim, scale=0.1)
        sd[f"{name}.bias"] = rnd(dim)

    def mlp_block(name: str, cin: int, hidden: int, cout: int, layers: int) -> None:
        for i in range(layers):
            linear(f"{name}.layers.{i}.0", cin if i == 0 else hidden, hidden)
        linear(f"{name}.fc", hidden, cout)

    def attention(name: str, downsample: int) -> None:
        inner = EMBED // downsample
        for p in ("q_proj", "k_proj", "v_proj"):
            linear(f"{name}.{p}", EMBED, inner)
        linear(f"{name}.out_proj", inner, EMBED)

    e = "image_encoder."
    sd[e + "patch_embed.proj.weight"] = rnd(DIM, 3, 16, 16, scale=(3 * 256) ** -0.5)
    sd[e + "patch_embed.proj.bias"] = rnd(DIM)
    sd[e + "pos_embed"] = rnd(1, 1 + POS_GRID * POS_GRID, DIM, scale=0.5)
    for i in range(DEPTH):
        b = f"{e}blocks.{i}"
        norm(f"{b}.norm1", DIM)
        linear(f"{b}.attn.qkv", DIM, 3 * DIM)
        linear(f"{b}.attn.proj", DIM, DIM)
        norm(f"{b}.norm2", DIM)
        linear(f"{b}.mlp.fc1", DIM, DIM * MLP_RATIO)
        linear(f"{b}.mlp.fc2", DIM * MLP_RATIO, DIM)
    sd[e + "neck.0.weight"] = rnd(EMBED, DIM, 1, 1, scale=DIM**-0.5)
    norm(e + "neck.1", EMBED)
    sd[e + "neck.2.weight"] = rnd(EMBED, EMBED, 3, 3, scale=(EMBED * 9) ** -0.5)
    norm(e + "neck.3", EMBED)

    p = "prompt_encoder."
    sd[p + "pe_layer.positional_encoding_gaussian_matrix"] = rnd(2, EMBED // 2, scale=1.0)
    for name in ("invalid_points", "point_embeddings", "bbox_top_left_embeddings", "bbox_bottom_right_embeddings"):
        sd[f"{p}{name}.weight"] = rnd(1, EMBED, scale=0.5)

    d = "mask_decoder."
    sd[d + "iou_token.weight"] = rnd(1, EMBED, scale=0.5)
    sd[d + "mask_tokens.weight"] = rnd(MASK_TOKENS, EMBED, scale=0.5)
    for i in range(DECODER_DEPTH):
        t = f"{d}transformer.layers.{i}"
        attention(f"{t}.self_attn", 1)
        attention(f"{t}.cross_attn_token_to_image", 2)
        attention(f"{t}.cross_attn_image_to_token", 2)
        for n in range(1, 5):
            norm(f"{t}.norm{n}", EMBED)
        mlp_block(f"{t}.mlp", EMBED, DECODER_MLP, EMBED, 1)
    attention(d + "transformer.final_attn_token_to_image", 2)
    norm(d + "transformer.norm_final_attn", EMBED)
    cin = EMBED
    for i, cout in enumerate(UPSCALE):
        sd[f"{d}final_output_upscaling_layers.{i}.0.weight"] = rnd(cin, cout, 2, 2, scale=cin**-0.5)
        sd[f"{d}final_output_upscaling_layers.{i}.0.bias"] = rnd(cout)
        if i < len(UPSCALE) - 1:
            norm(f"{d}final_output_upscaling_layers.{i}.1", cout)
        cin = cout
    for i in range(MASK_TOKENS):
        mlp_block(f"{d}output_hypernetworks_mlps.{i}", EMBED, EMBED, UPSCALE[-1], 2)
    mlp_block(d + "iou_prediction_head", EMBED, 256, MASK_TOKENS, 2)
    return sd


def efficient_sam_checkpoint(seed: int = 0) -> dict[str, dict[str, torch.Tensor]]:
    """What ``torch.load("efficient_sam_vitt.pt")`` returns."""
    return {"model": efficient_sam_state_dict(seed)}


# --- EfficientSAM's decoder, functionally, over the official names -------------------------


def _mlp_block(sd: dict[str, torch.Tensor], name: str, x: torch.Tensor) -> torch.Tensor:
    i = 0
    while f"{name}.layers.{i}.0.weight" in sd:
        x = F.gelu(F.linear(x, sd[f"{name}.layers.{i}.0.weight"], sd[f"{name}.layers.{i}.0.bias"]))
        i += 1
    return F.linear(x, sd[f"{name}.fc.weight"], sd[f"{name}.fc.bias"])


def _attention(sd: dict[str, torch.Tensor], name: str, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    def heads(x: torch.Tensor, proj: str) -> torch.Tensor:
        x = F.linear(x, sd[f"{name}.{proj}.weight"], sd[f"{name}.{proj}.bias"])
        b, n, c = x.shape
        return x.reshape(b, n, HEADS, c // HEADS).transpose(1, 2)

    qh, kh, vh = heads(q, "q_proj"), heads(k, "k_proj"), heads(v, "v_proj")
    attn = torch.softmax(qh @ kh.transpose(-1, -2) / math.sqrt(qh.shape[-1]), dim=-1)
    out = (attn @ vh).transpose(1, 2).flatten(2)
    return F.linear(out, sd[f"{name}.out_proj.weight"], sd[f"{name}.out_proj.bias"])


def _norm(sd: dict[str, torch.Tensor], name: str, x: torch.Tensor) -> torch.Tensor:
    return F.layer_norm(x, (x.shape[-1],), sd[f"{name}.weight"], sd[f"{name}.bias"])


def _fourier(sd: dict[str, torch.Tensor], xy01: torch.Tensor) -> torch.Tensor:
    proj = 2 * math.pi * ((2 * xy01 - 1) @ sd["prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"])
    return torch.cat([torch.sin(proj), torch.cos(proj)], dim=-1)


def reference_masks(
    sd: dict[str, torch.Tensor], embedding: torch.Tensor, points: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """EfficientSAM's prompt encoder + decoder for one image: ``points`` N x 2 in the
    1024 frame, ``labels`` N (1 positive, 0 negative, 2/3 box corners), N <= 6. Returns
    the low-res logits of every mask token (4 x 256 x 256) and their IoU predictions (4)."""
    n = points.shape[0]
    pts = torch.cat([points, torch.full((MAX_POINTS - n, 2), -1.0)])
    lab = torch.cat([labels, torch.full((MAX_POINTS - n,), -1)])
    tok = _fourier(sd, (pts + 0.5) / IMAGE_SIZE)
    p = "prompt_encoder."
    for value, name in ((-1, "invalid_points"), (1, "point_embeddings"), (2, "bbox_top_left_embeddings"), (3, "bbox_bottom_right_embeddings")):
        tok = tok + (lab == value)[:, None] * sd[f"{p}{name}.weight"]
    d = "mask_decoder."
    tokens = torch.cat([sd[d + "iou_token.weight"], sd[d + "mask_tokens.weight"], tok])[None]
    c, h, w = embedding.shape
    keys = embedding.flatten(1).T[None]
    ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    key_pe = _fourier(sd, torch.stack([xs / w, ys / h], dim=-1)).reshape(1, h * w, c)
    queries = tokens
    for i in range(DECODER_DEPTH):
        t = f"{d}transformer.layers.{i}"
        if i > 0:
            queries = queries + tokens
        queries = _norm(sd, f"{t}.norm1", queries + _attention(sd, f"{t}.self_attn", queries, queries, queries))
        a = _attention(sd, f"{t}.cross_attn_token_to_image", queries + tokens, keys + key_pe, keys)
        queries = _norm(sd, f"{t}.norm2", queries + a)
        queries = _norm(sd, f"{t}.norm3", queries + _mlp_block(sd, f"{t}.mlp", queries))
        a = _attention(sd, f"{t}.cross_attn_image_to_token", keys + key_pe, queries + tokens, queries)
        keys = _norm(sd, f"{t}.norm4", keys + a)
    a = _attention(sd, d + "transformer.final_attn_token_to_image", queries + tokens, keys + key_pe, keys)
    hs = _norm(sd, d + "transformer.norm_final_attn", queries + a)[0]
    x = keys[0].T.reshape(1, c, h, w)
    u = d + "final_output_upscaling_layers"
    x = F.conv_transpose2d(x, sd[f"{u}.0.0.weight"], sd[f"{u}.0.0.bias"], stride=2)
    x = F.gelu(F.group_norm(x, 1, sd[f"{u}.0.1.weight"], sd[f"{u}.0.1.bias"]))
    x = F.gelu(F.conv_transpose2d(x, sd[f"{u}.1.0.weight"], sd[f"{u}.1.0.bias"], stride=2))
    hyper = torch.stack([_mlp_block(sd, f"{d}output_hypernetworks_mlps.{i}", hs[1 + i]) for i in range(MASK_TOKENS)])
    masks = (hyper @ x.flatten(2)[0]).reshape(MASK_TOKENS, x.shape[2], x.shape[3])
    return masks, _mlp_block(sd, d + "iou_prediction_head", hs[0])


def _layer_norm_2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    mean = x.mean(1, keepdim=True)
    var = (x - mean).square().mean(1, keepdim=True)
    return weight[:, None, None] * (x - mean) / torch.sqrt(var + 1e-6) + bias[:, None, None]


def reference_embedding(sd: dict[str, torch.Tensor], image: torch.Tensor) -> torch.Tensor:
    """EfficientSAM's image encoder, functionally: 1 x 3 x S x S -> 1 x 256 x S/16 x S/16."""
    e = "image_encoder."
    x = F.conv2d(image, sd[e + "patch_embed.proj.weight"], sd[e + "patch_embed.proj.bias"], stride=16)
    _, c, h, w = x.shape
    pos = sd[e + "pos_embed"][:, 1:].reshape(1, POS_GRID, POS_GRID, c).permute(0, 3, 1, 2)
    pos = F.interpolate(pos, size=(h, w), mode="bicubic", align_corners=False)
    x = (x + pos).flatten(2).transpose(1, 2)  # 1 x N x C
    heads = c // 64
    for i in range(DEPTH):
        b = f"{e}blocks.{i}"
        y = F.layer_norm(x, (c,), sd[f"{b}.norm1.weight"], sd[f"{b}.norm1.bias"], eps=1e-6)
        qkv = F.linear(y, sd[f"{b}.attn.qkv.weight"], sd[f"{b}.attn.qkv.bias"])
        q, k, v = qkv.reshape(1, h * w, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        attn = torch.softmax(q @ k.transpose(-1, -2) * (c // heads) ** -0.5, dim=-1)
        y = (attn @ v).transpose(1, 2).reshape(1, h * w, c)
        x = x + F.linear(y, sd[f"{b}.attn.proj.weight"], sd[f"{b}.attn.proj.bias"])
        y = F.layer_norm(x, (c,), sd[f"{b}.norm2.weight"], sd[f"{b}.norm2.bias"], eps=1e-6)
        y = F.linear(F.gelu(F.linear(y, sd[f"{b}.mlp.fc1.weight"], sd[f"{b}.mlp.fc1.bias"])), sd[f"{b}.mlp.fc2.weight"], sd[f"{b}.mlp.fc2.bias"])
        x = x + y
    x = x.transpose(1, 2).reshape(1, c, h, w)
    x = _layer_norm_2d(F.conv2d(x, sd[e + "neck.0.weight"]), sd[e + "neck.1.weight"], sd[e + "neck.1.bias"])
    return _layer_norm_2d(F.conv2d(x, sd[e + "neck.2.weight"], padding=1), sd[e + "neck.3.weight"], sd[e + "neck.3.bias"])
