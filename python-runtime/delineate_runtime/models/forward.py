"""SAM's decoder called with one of our prompts, differentiably (Sam.forward is no_grad)."""

from __future__ import annotations

import numpy as np
import torch
from segment_anything.modeling import Sam

from ..data.prompts import Prompt


def prompt_tensors(
    prompt: Prompt, device: torch.device
) -> tuple[tuple[torch.Tensor, torch.Tensor] | None, torch.Tensor | None]:
    points = None
    if len(prompt.coords):
        points = (
            torch.as_tensor(prompt.coords, dtype=torch.float32, device=device)[None],
            torch.as_tensor(prompt.labels, dtype=torch.float32, device=device)[None],
        )
    box = None
    if prompt.box is not None:
        box = torch.as_tensor(np.asarray(prompt.box), dtype=torch.float32, device=device)[None]
    return points, box


def wants_multimask(prompt: Prompt) -> bool:
    """One point is ambiguous (part/whole): predict 3 masks and train the best, as SAM does."""
    return prompt.box is None and len(prompt.coords) <= 1


def decode(
    sam: Sam, embedding: torch.Tensor, prompt: Prompt, mask_input: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
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
