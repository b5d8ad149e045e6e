"""A state dict laid out as the official ``mobile_sam.pt`` is, with random values.

No MobileSAM weights can be fetched here, so tests write a file in its layout. The names
and shapes follow MobileSAM's own modules (``mobile_sam/modeling/tiny_vit_sam.py``:
``Conv2d_BN`` is ``.c`` + ``.bn``, ``PatchEmbed.seq``, ``layers[i].blocks`` and a
``layers[i].downsample`` closing each layer but the last, a classifier ``norm_head`` +
``head``, SAM's ``neck``), written out here from that structure rather than derived from the
runtime's renaming, so a renaming mistake shows as a failed load.
"""

from __future__ import annotations

import torch

DIMS = (64, 128, 160, 320)
DEPTHS = (2, 2, 6, 2)
HEADS = (2, 4, 5, 10)
WINDOWS = (7, 7, 14, 7)
MBCONV_EXPAND = 4
MLP_RATIO = 4
IMAGENET_CLASSES = 1000


def mobile_sam_encoder(seed: int = 0) -> dict[str, torch.Tensor]:
    """The ``image_encoder.*`` part of ``mobile_sam.pt`` (TinyViT-5M at 1024)."""
    g = torch.Generator().manual_seed(seed)
    sd: dict[str, torch.Tensor] = {}

    def rnd(*shape: int, scale: float = 0.05) -> torch.Tensor:
        return torch.randn(*shape, generator=g) * scale

    def conv_bn(name: str, cin: int, cout: int, k: int, groups: int = 1) -> None:
        sd[f"{name}.c.weight"] = rnd(cout, cin // groups, k, k, scale=(2.0 / (cin // groups * k * k)) ** 0.5)
        sd[f"{name}.bn.weight"] = 1 + rnd(cout)
        sd[f"{name}.bn.bias"] = rnd(cout)
        sd[f"{name}.bn.running_mean"] = rnd(cout)
        sd[f"{name}.bn.running_var"] = 1 + torch.rand(cout, generator=g) * 0.1
        sd[f"{name}.bn.num_batches_tracked"] = torch.tensor(1000)

    def linear(name: str, cin: int, cout: int) -> None:
        sd[f"{name}.weight"] = rnd(cout, cin, scale=cin**-0.5)
        sd[f"{name}.bias"] = rnd(cout)

    def norm(name: str, dim: int) -> None:
        sd[f"{name}.weight"] = 1 + rnd(dim)
        sd[f"{name}.bias"] = rnd(dim)

    conv_bn("patch_embed.seq.0", 3, DIMS[0] // 2, 3)
    conv_bn("patch_embed.seq.2", DIMS[0] // 2, DIMS[0], 3)
    for i, dim in enumerate(DIMS):
        for j in range(DEPTHS[i]):
            b = f"layers.{i}.blocks.{j}"
            if i == 0:  # ConvLayer: MBConvs
                hidden = dim * MBCONV_EXPAND
                conv_bn(f"{b}.conv1", dim, hidden, 1)
                conv_bn(f"{b}.conv2", hidden, hidden, 3, groups=hidden)
                conv_bn(f"{b}.conv3", hidden, dim, 1)
            else:  # BasicLayer: TinyViTBlocks (attention with key_dim = dim / heads, attn_ratio 1)
                norm(f"{b}.attn.norm", dim)
                linear(f"{b}.attn.qkv", dim, 3 * dim)
                linear(f"{b}.attn.proj", dim, dim)
                sd[f"{b}.attn.attention_biases"] = rnd(HEADS[i], WINDOWS[i] * WINDOWS[i])
                norm(f"{b}.mlp.norm", dim)
                linear(f"{b}.mlp.fc1", dim, dim * MLP_RATIO)
                linear(f"{b}.mlp.fc2", dim * MLP_RATIO, dim)
                conv_bn(f"{b}.local_conv", dim, dim, 3, groups=dim)
        if i < len(DIMS) - 1:
            out = DIMS[i + 1]
            conv_bn(f"layers.{i}.downsample.conv1", dim, out, 1)
            conv_bn(f"layers.{i}.downsample.conv2", out, out, 3, groups=out)
            conv_bn(f"layers.{i}.downsample.conv3", out, out, 1)
    norm("norm_head", DIMS[-1])
    linear("head", DIMS[-1], IMAGENET_CLASSES)
    sd["neck.0.weight"] = rnd(256, DIMS[-1], 1, 1, scale=DIMS[-1] ** -0.5)
    norm("neck.1", 256)
    sd["neck.2.weight"] = rnd(256, 256, 3, 3, scale=(256 * 9) ** -0.5)
    norm("neck.3", 256)
    return {f"image_encoder.{k}": v for k, v in sd.items()}


def mobile_sam_checkpoint(seed: int = 0) -> dict[str, torch.Tensor]:
    """A whole ``mobile_sam.pt``: the encoder above plus SAM's own prompt encoder and mask
    decoder (MobileSAM keeps them unchanged), taken from a runtime-built SAM."""
    from delineate_runtime.models import build_sam_model

    torch.manual_seed(seed)
    rest = {k: v for k, v in build_sam_model("vit_t").state_dict().items() if not k.startswith("image_encoder.")}
    return {**mobile_sam_encoder(seed), **rest}
