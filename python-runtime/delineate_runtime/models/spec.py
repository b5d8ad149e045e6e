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
    # "vit": SAM's ImageEncoderViT (the encoder_* fields above). "tiny_vit": MobileSAM's
    # TinyViT (the tinyvit_* fields; encoder_mlp_ratio too), see models/tiny_vit.py.
    # "efficient_sam": EfficientSAM's plain ViT (encoder_embed_dim, _depth, _num_heads,
    # _mlp_ratio; global attention only, absolute position embedding), models/efficient_sam.py.
    encoder_kind: str = "vit"
    tinyvit_embed_dims: tuple[int, ...] = ()
    tinyvit_depths: tuple[int, ...] = ()
    tinyvit_num_heads: tuple[int, ...] = ()
    tinyvit_window_sizes: tuple[int, ...] = ()
    # Stride of each patch merging between stages: MobileSAM keeps the last at 1 so the
    # output grid is SAM's 1/16 (4 from the patch embedding x 2 x 2 x 1).
    tinyvit_merge_strides: tuple[int, ...] = ()
    # efficient_sam: side of the grid the absolute position embedding was trained at (a
    # 224 image / 16 = 14, plus a class-token slot); resized to the image's grid on use.
    pos_embed_grid: int = 0
    # "sam": SAM's mask decoder as upstream builds it. "efficient_sam": the same modules and
    # parameter shapes run as EfficientSAM's decoder does (GELU MLPs, GroupNorm upscaling,
    # positional encoding inside the self-attention residual), see models/efficient_sam.py.
    decoder_kind: str = "sam"

    def __post_init__(self) -> None:
        if self.image_size % PATCH_SIZE:
            raise ValueError(
                f"image_size must be a multiple of {PATCH_SIZE}, got {self.image_size}"
            )
        if self.encoder_kind not in ENCODER_KINDS:
            raise ValueError(f"unknown encoder_kind {self.encoder_kind!r} (one of {ENCODER_KINDS})")
        if self.decoder_kind not in ("sam", "efficient_sam"):
            raise ValueError(f"unknown decoder_kind {self.decoder_kind!r} (sam or efficient_sam)")
        if self.encoder_kind == "tiny_vit":
            self._check_tiny_vit()
        if self.encoder_kind == "efficient_sam" and self.pos_embed_grid < 1:
            raise ValueError("an efficient_sam encoder needs pos_embed_grid (14 for EfficientSAM)")
        indexes = self.encoder_global_attn_indexes
        if self.encoder_kind == "vit" and any(i >= self.encoder_depth or i < 0 for i in indexes):
            raise ValueError(
                f"encoder_global_attn_indexes {self.encoder_global_attn_indexes} "
                f"out of range for depth {self.encoder_depth}"
            )
        if self.encoder_embed_dim % self.encoder_num_heads:
            raise ValueError("encoder_embed_dim must be divisible by encoder_num_heads")

    def _check_tiny_vit(self) -> None:
        n = len(self.tinyvit_embed_dims)
        per_stage = (self.tinyvit_depths, self.tinyvit_num_heads, self.tinyvit_window_sizes)
        if n < 2 or any(len(t) != n for t in per_stage) or len(self.tinyvit_merge_strides) != n - 1:
            raise ValueError(
                "a tiny_vit encoder needs embed_dims, depths, num_heads and window_sizes per "
                "stage (2 or more) and one merge stride between each two stages"
            )
        stride = 4
        for m in self.tinyvit_merge_strides:
            stride *= m
        if stride != PATCH_SIZE:
            raise ValueError(
                f"tiny_vit merge strides {self.tinyvit_merge_strides} give an output stride of "
                f"{stride}; SAM's decoder needs {PATCH_SIZE}"
            )
        for dim, heads in zip(self.tinyvit_embed_dims[1:], self.tinyvit_num_heads[1:], strict=True):
            if dim % heads:
                raise ValueError(f"tiny_vit stage width {dim} is not divisible by its {heads} heads")

    @property
    def embedding_grid(self) -> int:
        return self.image_size // PATCH_SIZE

    @property
    def low_res_size(self) -> int:
        """Side of the decoder's low-resolution mask logits (4x the embedding grid)."""
        return self.embedding_grid * 4

    def to_dict(self) -> dict[str, Any]:
        """The fields that describe this network: a ViT's dict is what it was before
        TinyViT existed (bundles and cache keys stay the same); other encoders leave out
        the sizes they do not use, and decoder_kind is written only when not SAM's."""
        d = asdict(self)
        for k in _UNUSED[self.encoder_kind]:
            d.pop(k)
        if self.decoder_kind == "sam":
            d.pop("decoder_kind")
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


_VIT_ONLY = (
    "encoder_embed_dim",
    "encoder_depth",
    "encoder_num_heads",
    "encoder_global_attn_indexes",
    "encoder_window_size",
)
_TINY_VIT_ONLY = (
    "tinyvit_embed_dims",
    "tinyvit_depths",
    "tinyvit_num_heads",
    "tinyvit_window_sizes",
    "tinyvit_merge_strides",
)
ENCODER_KINDS = ("vit", "tiny_vit", "efficient_sam")
# Fields to_dict leaves out for each encoder kind.
_UNUSED: dict[str, tuple[str, ...]] = {
    "vit": ("encoder_kind", *_TINY_VIT_ONLY, "pos_embed_grid"),
    "tiny_vit": (*_VIT_ONLY, "pos_embed_grid"),
    "efficient_sam": ("encoder_global_attn_indexes", "encoder_window_size", *_TINY_VIT_ONLY),
}

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
# MobileSAM (mobile_sam.pt, its registry's "vit_t"): TinyViT-5M with SAM's decoder.
_OFFICIAL["vit_t"] = dict(
    encoder_kind="tiny_vit",
    tinyvit_embed_dims=(64, 128, 160, 320),
    tinyvit_depths=(2, 2, 6, 2),
    tinyvit_num_heads=(2, 4, 5, 10),
    tinyvit_window_sizes=(7, 7, 14, 7),
    tinyvit_merge_strides=(2, 2, 1),
)
# EfficientSAM-Ti (efficient_sam_vitt.pt): a plain ViT-Ti, 192 wide, 12 blocks of global
# attention, with SAM's neck; its decoder has SAM's shapes but EfficientSAM's forward.
_OFFICIAL["efficientsam_ti"] = dict(
    encoder_kind="efficient_sam",
    encoder_embed_dim=192,
    encoder_depth=12,
    encoder_num_heads=3,
    pos_embed_grid=14,
    decoder_kind="efficient_sam",
)
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
ARCHS = ("vit_b", "vit_l", "vit_h", "vit_t", "efficientsam_ti", "tiny")


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
    for k, v in base.items():
        if isinstance(v, list):
            base[k] = tuple(v)
    return ModelSpec(arch=arch, **base)


def with_image_size(spec: ModelSpec, image_size: int) -> ModelSpec:
    return replace(spec, image_size=image_size)
