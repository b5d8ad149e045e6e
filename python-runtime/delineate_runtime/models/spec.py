"""ModelSpec: everything needed to rebuild a SAM-architecture network, as plain data.

A model bundle's ``model.json`` stores ``ModelSpec.to_dict()`` so that a checkpoint can be
rebuilt without knowing which preset produced it (tiny models have free-form sizes).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

PATCH_SIZE = 16  # SAM's ViT patch size; the embedding grid is image_size / 16.
PIXEL_MEAN = (123.675, 116.28, 103.53)
PIXEL_STD = (58.395, 57.12, 57.375)


@dataclass(frozen=True)
class ModelSpec:
    arch: str
    image_size: int = 1024
    encoder_embed_dim: int = 768
    encoder_depth: int = 12
    encoder_num_heads: int = 12
    encoder_global_attn_indexes: tuple[int, ...] = (2, 5, 8, 11)
    encoder_window_size: int = 14
    encoder_mlp_ratio: float = 4.0
    prompt_embed_dim: int = 256
    mask_in_chans: int = 16
    decoder_depth: int = 2
    decoder_mlp_dim: int = 2048
    decoder_num_heads: int = 8
    iou_head_hidden_dim: int = 256
    pixel_mean: tuple[float, float, float] = field(default=PIXEL_MEAN)
    pixel_std: tuple[float, float, float] = field(default=PIXEL_STD)

    def __post_init__(self) -> None:
        if self.image_size % PATCH_SIZE:
            raise ValueError(
                f"image_size must be a multiple of {PATCH_SIZE}, got {self.image_size}"
            )
        if any(i >= self.encoder_depth or i < 0 for i in self.encoder_global_attn_indexes):
            raise ValueError(
                f"encoder_global_attn_indexes {self.encoder_global_attn_indexes} "
                f"out of range for depth {self.encoder_depth}"
            )
        if self.encoder_embed_dim % self.encoder_num_heads:
            raise ValueError("encoder_embed_dim must be divisible by encoder_num_heads")

    @property
    def embedding_grid(self) -> int:
        return self.image_size // PATCH_SIZE

    @property
    def low_res_size(self) -> int:
        """Side of the decoder's low-resolution mask logits (4x the embedding grid)."""
        return self.embedding_grid * 4

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelSpec:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown ModelSpec fields: {sorted(unknown)}")
        kwargs: dict[str, Any] = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()}
        return cls(**kwargs)


# The official registry's three sizes (segment_anything/build_sam.py) ...
_OFFICIAL: dict[str, dict[str, Any]] = {
    "vit_b": dict(
        encoder_embed_dim=768,
        encoder_depth=12,
        encoder_num_heads=12,
        encoder_global_attn_indexes=(2, 5, 8, 11),
    ),
    "vit_l": dict(
        encoder_embed_dim=1024,
        encoder_depth=24,
        encoder_num_heads=16,
        encoder_global_attn_indexes=(5, 11, 17, 23),
    ),
    "vit_h": dict(
        encoder_embed_dim=1280,
        encoder_depth=32,
        encoder_num_heads=16,
        encoder_global_attn_indexes=(7, 15, 23, 31),
    ),
}
# ... and a tiny one: the same modules with small widths, for tests and CPU demos.
_TINY: dict[str, Any] = dict(
    image_size=128,
    encoder_embed_dim=64,
    encoder_depth=4,
    encoder_num_heads=4,
    encoder_global_attn_indexes=(1, 3),
    encoder_window_size=4,
    prompt_embed_dim=64,
    mask_in_chans=8,
    decoder_depth=2,
    decoder_mlp_dim=128,
    decoder_num_heads=4,
    iou_head_hidden_dim=64,
)
ARCHS = ("vit_b", "vit_l", "vit_h", "tiny")


def spec_for(arch: str, *, image_size: int | None = None, **overrides: Any) -> ModelSpec:
    """The spec of a named architecture; ``overrides`` adjust any field (tiny sizes mostly)."""
    if arch in _OFFICIAL:
        base: dict[str, Any] = dict(_OFFICIAL[arch])
    elif arch == "tiny":
        base = dict(_TINY)
    else:
        raise ValueError(f"unknown SAM architecture {arch!r}; expected one of {ARCHS}")
    base.update(overrides)
    if image_size is not None:
        base["image_size"] = image_size
    if "encoder_global_attn_indexes" in base:
        base["encoder_global_attn_indexes"] = tuple(base["encoder_global_attn_indexes"])
    return ModelSpec(arch=arch, **base)


def with_image_size(spec: ModelSpec, image_size: int) -> ModelSpec:
    return replace(spec, image_size=image_size)
