"""Differentiable SAM forward passes for training (the official Sam.forward is no_grad).

``TrainableSam`` wraps the upstream model (we never fork it) and accepts either images or
precomputed embeddings, which is what makes the cached-embedding fast path possible.
It is an ``nn.Module`` so DistributedDataParallel can wrap it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from segment_anything.modeling import Sam
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..data.prompts import Prompt


def prompt_tensors(prompt: Prompt, device: torch.device
                   ) -> tuple[tuple[torch.Tensor, torch.Tensor] | None, torch.Tensor | None]:
    points = None
    if len(prompt.coords):
        points = (torch.as_tensor(prompt.coords, dtype=torch.float32, device=device)[None],
                  torch.as_tensor(prompt.labels, dtype=torch.float32, device=device)[None])
    box = None
    if prompt.box is not None:
        box = torch.as_tensor(np.asarray(prompt.box), dtype=torch.float32, device=device)[None]
    return points, box


def wants_multimask(prompt: Prompt) -> bool:
    """One point is ambiguous (part/whole): predict 3 masks and train the best, as SAM does."""
    return prompt.box is None and len(prompt.coords) <= 1


def decode(sam: Sam, embedding: torch.Tensor, prompt: Prompt,
           mask_input: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One image's embedding (1,C,g,g) + one prompt -> low-res logits (1,K,h,w), IoU (1,K)."""
    points, box = prompt_tensors(prompt, embedding.device)
    sparse, dense = sam.prompt_encoder(points=points, boxes=box, masks=mask_input)
    return sam.mask_decoder(
        image_embeddings=embedding,
        image_pe=sam.prompt_encoder.get_dense_pe(),
        sparse_prompt_embeddings=sparse,
        dense_prompt_embeddings=dense,
        multimask_output=wants_multimask(prompt),
    )


Refiner = Callable[[int, torch.Tensor, Prompt], tuple[Prompt, "torch.Tensor | None"]]


class TrainableSam(nn.Module):
    def __init__(self, sam: Sam) -> None:
        super().__init__()
        self.sam = sam

    def forward(self, images: torch.Tensor | None, embeddings: torch.Tensor | None,
                prompts: Sequence[Prompt], refine: Refiner | None = None) -> dict[str, Any]:
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
                prompt, mask_input = refine(i, embeddings[i:i + 1].detach(), prompt)
            lo, iou = decode(self.sam, embeddings[i:i + 1], prompt, mask_input)
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
