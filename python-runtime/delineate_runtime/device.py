"""Device choice and mixed-precision policy, reported to the app."""

from __future__ import annotations

import contextlib
import platform
from typing import Any

import torch


def pick_device(requested: str = "auto", local_rank: int = 0) -> torch.device:
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % max(torch.cuda.device_count(), 1))
        return torch.device("cpu")
    dev = torch.device(requested)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {requested!r} requested but CUDA is not available")
    return dev


def amp_dtype(device: torch.device, amp: str) -> torch.dtype | None:
    """bf16 autocast on CUDA by default; CPU runs fp32 unless bf16 is asked for explicitly
    (CPU bf16 autocast is slower than fp32 on most CPUs without AMX)."""
    if amp == "off":
        return None
    if amp == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return None
    if amp == "fp16":
        if device.type != "cuda":
            raise ValueError("fp16 autocast needs CUDA; use amp='bf16' or 'off' on CPU")
        return torch.float16
    return torch.bfloat16


def autocast(
    device: torch.device, dtype: torch.dtype | None
) -> contextlib.AbstractContextManager[Any]:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def needs_grad_scaler(dtype: torch.dtype | None) -> bool:
    """Only fp16 underflows gradients; bf16 has fp32's exponent range."""
    return dtype == torch.float16


def describe(device: torch.device) -> dict[str, Any]:
    info: dict[str, Any] = {
        "device": str(device),
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["bf16"] = torch.cuda.is_bf16_supported()
    return info
