"""Speed and cost figures: encoder/decoder FPS at a given input size, FLOPs per pixel.

Used by tests and by the benchmark (``bench/``), which prints them as JSON.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from segment_anything.modeling import Sam
from torch.utils.flop_counter import FlopCounterMode

from ..data.prompts import Prompt
from ..models.forward import decode


def _decoder_inputs(sam: Sam) -> tuple[torch.Tensor, Prompt]:
    grid = sam.prompt_encoder.image_embedding_size
    dim = sam.prompt_encoder.embed_dim
    emb = torch.randn(1, dim, *grid, device=sam.pixel_mean.device)
    s = sam.image_encoder.img_size
    prompt = Prompt(
        "points", coords=torch.tensor([[s / 2, s / 2]]).numpy(), labels=torch.tensor([1.0]).numpy()
    )
    return emb, prompt


@torch.no_grad()
def measure_fps(
    sam: Sam, warmup: int = 1, iters: int = 3, decoder_iters: int = 20
) -> dict[str, Any]:
    """Images/s of the image encoder and prompts/s of the decoder, timed separately, at the
    model's own input size (build the model with image_size=1024 for the standard figure)."""
    sam.eval()
    dev = sam.pixel_mean.device
    s = sam.image_encoder.img_size
    x = torch.randn(1, 3, s, s, device=dev)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    for _ in range(warmup):
        sam.image_encoder(x)
    sync()
    t0 = time.perf_counter()
    for _ in range(iters):
        sam.image_encoder(x)
    sync()
    enc_s = (time.perf_counter() - t0) / iters
    emb, prompt = _decoder_inputs(sam)
    for _ in range(warmup):
        decode(sam, emb, prompt)
    sync()
    t0 = time.perf_counter()
    for _ in range(decoder_iters):
        decode(sam, emb, prompt)
    sync()
    dec_s = (time.perf_counter() - t0) / decoder_iters
    return {
        "input_size": s,
        "device": str(dev),
        "encoder_fps": 1 / enc_s,
        "encoder_ms": enc_s * 1e3,
        "decoder_fps": 1 / dec_s,
        "decoder_ms": dec_s * 1e3,
        "threads": torch.get_num_threads(),
    }


def flops_per_pixel(sam: Sam) -> dict[str, Any]:
    """FLOPs (multiply-add = 2) of one encoder pass and one decoder pass, per input pixel.

    Runs with autograd enabled: FlopCounterMode's module tracker hooks into autograd and
    fails under no_grad. Nothing is backpropagated.
    """
    sam.eval()
    s = sam.image_encoder.img_size
    x = torch.randn(1, 3, s, s, device=sam.pixel_mean.device)
    with FlopCounterMode(display=False) as fc:
        sam.image_encoder(x)
    enc = fc.get_total_flops()
    emb, prompt = _decoder_inputs(sam)
    with FlopCounterMode(display=False) as fc:
        decode(sam, emb, prompt)
    dec = fc.get_total_flops()
    px = s * s
    return {
        "input_size": s,
        "encoder_flops": enc,
        "decoder_flops": dec,
        "encoder_flops_per_pixel": enc / px,
        "decoder_flops_per_pixel": dec / px,
        "total_flops_per_pixel": (enc + dec) / px,
    }
