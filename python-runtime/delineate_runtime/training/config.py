"""TrainConfig: every knob of a fine-tuning run, as plain data (JSON in, JSON out).

Defaults follow the fine-tuning guide for real SAM (lr 1e-5, weight decay 0.01, batch 4,
20 epochs); the "medical" preset lowers lr to 5e-6. Tiny test models need a much higher lr.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from pydantic import ConfigDict, TypeAdapter, ValidationError

FreezeMode = Literal["decoder_only", "encoder_last_n", "full", "progressive"]


@dataclass
class FreezeStage:
    """One stage of progressive unfreezing."""

    name: str
    epochs: int
    scope: Literal["decoder_head", "decoder", "decoder_and_last_n", "full"]
    lr_mult: float = 1.0
    last_n: int = 4


# The guide's three stages: decoder's last layers 5 epochs; + last 4 encoder blocks 10
# epochs; full model 5 epochs at lr x0.1.
GUIDE_STAGES: tuple[FreezeStage, ...] = (
    FreezeStage("decoder_head", 5, "decoder_head"),
    FreezeStage("decoder_and_last_4", 10, "decoder_and_last_n", 1.0, 4),
    FreezeStage("full", 5, "full", 0.1),
)

PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "medical": {"lr": 5e-6},
}


@dataclass
class TrainConfig:
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    dataset: str
    run_dir: str
    arch: str = "vit_b"
    checkpoint: str | None = None
    image_size: int | None = None
    model_options: dict[str, Any] = field(default_factory=dict)
    preset: Literal["default", "medical"] = "default"

    epochs: int = 20
    batch_size: int = 4
    lr: float = 1e-5
    # Learning-rate range test before the first epoch (Smith 2017, "Cyclical Learning
    # Rates"): a short run with the rate growing geometrically; ``lr`` becomes a tenth of the
    # rate where the smoothed loss was lowest, and ``lr`` as given is only the fallback when
    # the test cannot decide. The curve is kept in run.json.
    lr_find: bool = False
    weight_decay: float = 0.01
    grad_accum_steps: int = 1
    max_steps_per_epoch: int | None = None

    freeze: FreezeMode = "decoder_only"
    unfreeze_last_n: int = 4
    stages: list[FreezeStage] = field(default_factory=lambda: list(GUIDE_STAGES))

    # losses
    bce_weight: float = 1.0
    dice_weight: float = 1.0
    focal_weight: float = 0.0
    iou_weight: float = 1.0
    label_smoothing: float = 0.0
    distill_weight: float = 0.0

    # numerics
    device: str = "auto"
    amp: Literal["auto", "off", "bf16", "fp16"] = "auto"
    activation_checkpointing: bool = False
    # quantization-aware training (torch.ao fake-quant Linear layers): None, "decoder",
    # "encoder" or "all". Checkpoints are saved with plain Linear layers (official layout).
    qat_scope: Literal["decoder", "encoder", "all"] | None = None

    # data
    val_fraction: float = 0.2
    augment: bool = True
    scale_range: tuple[float, float] = (0.8, 1.2)
    rotation_deg: float = 15.0
    brightness: float = 0.2
    contrast: float = 0.2
    hsv_jitter: float = 0.05
    cutmix_p: float = 0.0
    copy_paste_p: float = 0.0

    # prompts
    prompt_mix: dict[str, float] = field(
        default_factory=lambda: {"points": 0.45, "box": 0.45, "none": 0.1}
    )
    max_points: int = 3
    correction_rounds: int = 1
    box_jitter: float = 0.1

    # fast path: "auto" caches image embeddings on disk whenever the encoder is frozen
    embedding_cache: Literal["auto", "off"] = "auto"
    cache_dir: str | None = None
    # embeddings the app already computed (embedding_seeds.py), reused after a parity check
    seed_embeddings: str | None = None

    eval_before: bool = True  # evaluate the starting model, so the gain can be reported
    val_modes: list[str] = field(default_factory=lambda: ["box", "click1"])
    early_stopping_patience: int = 5
    seed: int = 0
    resume: bool = True

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        d = dict(d)
        preset = d.get("preset", "default")
        for k, v in PRESETS.get(preset, {}).items():
            d.setdefault(k, v)
        try:
            return _ADAPTER.validate_python(d)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise ValueError(f"invalid training config: {problems}") from exc

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["scale_range"] = list(self.scale_range)
        return d

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


_ADAPTER = TypeAdapter(TrainConfig)
