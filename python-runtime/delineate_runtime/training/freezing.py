"""Which parameters train: decoder only, last-N encoder blocks, full, progressive stages."""

from __future__ import annotations

from dataclasses import dataclass

from segment_anything.modeling import Sam

from .config import FreezeStage, TrainConfig


@dataclass(frozen=True)
class Stage:
    name: str
    start_epoch: int
    end_epoch: int  # exclusive
    scope: str
    lr_mult: float
    last_n: int


def schedule(cfg: TrainConfig) -> list[Stage]:
    """The run's stages. Non-progressive runs have one stage of ``cfg.epochs`` epochs;
    progressive runs last the sum of their stages' epochs."""
    if cfg.freeze != "progressive":
        scope = {"decoder_only": "decoder", "encoder_last_n": "decoder_and_last_n", "full": "full"}[
            cfg.freeze
        ]
        return [Stage(cfg.freeze, 0, cfg.epochs, scope, 1.0, cfg.unfreeze_last_n)]
    out, start = [], 0
    for s in cfg.stages:
        fs = s if isinstance(s, FreezeStage) else FreezeStage(**s)  # type: ignore[arg-type]
        out.append(Stage(fs.name, start, start + fs.epochs, fs.scope, fs.lr_mult, fs.last_n))
        start += fs.epochs
    return out


def stage_at(stages: list[Stage], epoch: int) -> Stage:
    return next((s for s in stages if s.start_epoch <= epoch < s.end_epoch), stages[-1])


def apply_scope(sam: Sam, scope: str, last_n: int = 4) -> None:
    for p in sam.parameters():
        p.requires_grad_(False)
    dec = sam.mask_decoder
    if scope == "decoder_head":
        # The decoder's last layers: mask/IoU tokens, upscaling, hypernetworks, IoU head.
        for m in (
            dec.output_upscaling,
            dec.output_hypernetworks_mlps,
            dec.iou_prediction_head,
            dec.iou_token,
            dec.mask_tokens,
        ):
            m.requires_grad_(True)
    elif scope == "decoder":
        dec.requires_grad_(True)
    elif scope == "decoder_and_last_n":
        dec.requires_grad_(True)
        enc = sam.image_encoder
        for blk in list(enc.blocks)[-last_n:] if last_n > 0 else []:
            blk.requires_grad_(True)
        enc.neck.requires_grad_(True)
    elif scope == "full":
        sam.requires_grad_(True)
    else:
        raise ValueError(f"unknown freeze scope {scope!r}")


def encoder_frozen(sam: Sam) -> bool:
    return not any(p.requires_grad for p in sam.image_encoder.parameters())


def trainable_count(sam: Sam) -> int:
    return sum(p.numel() for p in sam.parameters() if p.requires_grad)
