"""Quantization-aware training (torch.ao) for the linear layers of SAM.

What this does, honestly: ``prepare_qat`` swaps ``nn.Linear`` layers in the chosen part of
the model for ``torch.ao.nn.qat.Linear``, which fake-quantizes weights (per-tensor int8)
and outputs (uint8, observed ranges) in the forward pass while gradients flow straight
through. Fine-tuning this way teaches the weights to tolerate int8 rounding.
``strip_qat`` turns them back into ordinary float ``nn.Linear`` layers with the learned
weights, so checkpoints stay in the official layout and the ONNX export and the
onnxruntime int8 quantization run exactly as for any other model. It does not by itself
produce an int8 model, and it does not touch convolutions or attention matmuls.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn
from torch.ao.nn import qat as nnqat
from torch.ao.quantization import get_default_qat_qconfig

SCOPES = {
    "decoder": ("mask_decoder",),
    "encoder": ("image_encoder",),
    "all": ("mask_decoder", "image_encoder", "prompt_encoder"),
}


def _linear_children(module: nn.Module) -> Iterable[tuple[nn.Module, str, nn.Module]]:
    for parent in module.modules():
        for name, child in parent.named_children():
            if type(child) is nn.Linear:
                yield parent, name, child


def prepare_qat(sam: nn.Module, scope: str = "decoder", backend: str = "x86") -> int:
    """Swap the Linear layers of ``scope`` for fake-quantizing QAT layers; return how many."""
    if scope not in SCOPES:
        raise ValueError(f"unknown QAT scope {scope!r}; expected one of {sorted(SCOPES)}")
    qconfig = get_default_qat_qconfig(backend)
    count = 0
    for part in SCOPES[scope]:
        for parent, name, child in list(_linear_children(getattr(sam, part))):
            child.qconfig = qconfig  # type: ignore[assignment]
            qat_layer = nnqat.Linear.from_float(child)
            setattr(parent, name, qat_layer)
            count += 1
    return count


def strip_qat(sam: nn.Module) -> int:
    """Replace QAT Linear layers by float nn.Linear with the same (learned) weights."""
    count = 0
    for parent in list(sam.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nnqat.Linear):
                plain = nn.Linear(
                    child.in_features, child.out_features, bias=child.bias is not None
                )
                with torch.no_grad():
                    plain.weight.copy_(child.weight)
                    if child.bias is not None:
                        plain.bias.copy_(child.bias)
                setattr(parent, name, plain.to(child.weight.device))
                count += 1
    return count
