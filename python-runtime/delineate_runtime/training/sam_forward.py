"""Differentiable SAM forward passes for training (the official Sam.forward is no_grad).

``TrainableSam`` wraps the upstream model (we never fork it) and accepts either images or
precomputed embeddings, which is what makes the cached-embedding fast path possible.
It is an ``nn.Module`` so DistributedDataParallel can wrap it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from segment_anything.modeling import Sam
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..data.prompts import Prompt
from ..models.forward import decode

Refiner = Callable[[int, torch.Tensor, Prompt], tuple[Prompt, "torch.Tensor | None"]]


class TrainableSam(nn.Module):
    def __init__(self, sam: Sam) -> None:
        super().__init__()
        self.sam = sam

    def forward(
        self,
        images: torch.Tensor | None,
        embeddings: torch.Tensor | None,
        prompts: Sequence[Prompt],
        refine: Refiner | None = None,
    ) -> dict[str, Any]:
        """Encode (unless embeddings are given) and decode every sample's prompt.

        ``refine(i, embedding, prompt)`` may replace a prompt by a corrected one plus a mask
        input (iterative corrective clicks); it runs inside this forward so that
        DistributedDataParallel sees exactly one forward per backward.
        """
        if embeddings is None:
            assert images is not None
            embeddings = self.sam.image_encoder(images)
        logits, ious, used = [], [], []
        for i, prompt in enumerate(prompts):
            mask_input = None
            if refine is not None:
                prompt, mask_input = refine(i, embeddings[i : i + 1].detach(), prompt)
            lo, iou = decode(self.sam, embeddings[i : i + 1], prompt, mask_input)
            logits.append(lo[0])
            ious.append(iou[0])
            used.append((prompt, mask_input))
        return {"embeddings": embeddings, "logits": logits, "ious": ious, "prompts": used}


def enable_activation_checkpointing(sam: Sam) -> None:
    """Recompute each encoder block in backward instead of storing its activations.

    Patched on the instance so state-dict keys stay the official ones.
    """
    for block in sam.image_encoder.blocks:
        if getattr(block, "_delineate_ckpt", False):
            continue
        block.forward = _checkpointed(block)  # type: ignore[method-assign]
        block._delineate_ckpt = True  # type: ignore[attr-defined]


def _checkpointed(block: nn.Module) -> Any:
    original = block.forward

    def forward(x: torch.Tensor) -> torch.Tensor:
        needs_grad = x.requires_grad or any(p.requires_grad for p in block.parameters())
        if torch.is_grad_enabled() and needs_grad:
            return checkpoint(original, x, use_reentrant=False)  # type: ignore[no-any-return]
        return original(x)

    return forward
