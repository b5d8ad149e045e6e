"""SAM's decoder called with one of our prompts, differentiably (Sam.forward is no_grad)."""

from __future__ import annotations

import numpy as np
import torch
from segment_anything.modeling import Sam

from ..data.prompts import Prompt
from .efficient_sam import PROMPT_POINTS as EFFICIENT_SAM_PROMPT_POINTS, is_efficient_sam_decoder


def prompt_tensors(
    prompt: Prompt, device: torch.device, pad_to: int = 0
) -> tuple[tuple[torch.Tensor, torch.Tensor] | None, torch.Tensor | None]:
    """Point and box tensors for SAM's prompt encoder. ``pad_to``: at least this many tokens
    in all, counting the box's two corners and the one padding point SAM's prompt encoder
    adds itself when there is no box; the rest are "not a point" (label -1). A prompt-free
    prompt stays empty."""
    coords = np.asarray(prompt.coords, dtype=np.float32).reshape(-1, 2)
    labels = np.asarray(prompt.labels, dtype=np.float32).reshape(-1)
    has_box = prompt.box is not None
    if pad_to and (len(coords) or has_box):
        extra = pad_to - len(coords) - (2 if has_box else 1)
        if extra > 0:
            coords = np.concatenate([coords, np.zeros((extra, 2), np.float32)])
            labels = np.concatenate([labels, -np.ones(extra, np.float32)])
    points = None
    if len(coords):
        points = (
            torch.as_tensor(coords, dtype=torch.float32, device=device)[None],
            torch.as_tensor(labels, dtype=torch.float32, device=device)[None],
        )
    box = None
    if has_box:
        box = torch.as_tensor(np.asarray(prompt.box), dtype=torch.float32, device=device)[None]
    return points, box


def wants_multimask(prompt: Prompt) -> bool:
    """One point is ambiguous (part/whole): predict 3 masks and train the best, as SAM does."""
    return prompt.box is None and len(prompt.coords) <= 1


def decode(
    sam: Sam, embedding: torch.Tensor, prompt: Prompt, mask_input: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """One image's embedding (1,C,g,g) + one prompt -> low-res logits (1,K,h,w), IoU (1,K)."""
    pad_to = EFFICIENT_SAM_PROMPT_POINTS if is_efficient_sam_decoder(sam.mask_decoder) else 0
    points, box = prompt_tensors(prompt, embedding.device, pad_to)
    sparse, dense = sam.prompt_encoder(points=points, boxes=box, masks=mask_input)
    return sam.mask_decoder(
        image_embeddings=embedding,
        image_pe=sam.prompt_encoder.get_dense_pe(),
        sparse_prompt_embeddings=sparse,
        dense_prompt_embeddings=dense,
        multimask_output=wants_multimask(prompt),
    )
