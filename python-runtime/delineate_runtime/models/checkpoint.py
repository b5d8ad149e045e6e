"""Load and save SAM checkpoints in the official ``sam_model_registry`` layout.

Official ``sam_vit_*.pth`` files, MedSAM-style fine-tunes in the same layout, and training
checkpoints wrapped as ``{"model": state_dict}`` all load here. Anything that does not fit
raises :class:`CheckpointError` with the file name and what did not match, so the app can
show a sentence instead of a stack trace.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

# Keys under which training frameworks commonly nest the real state dict.
_WRAPPER_KEYS = ("model", "state_dict", "model_state_dict", "sam")
# Some fine-tuning scripts save a wrapper module whose SAM lives under one of these prefixes.
_STRIP_PREFIXES = ("module.", "sam.", "model.")


class CheckpointError(Exception):
    def __init__(
        self,
        path: str | Path,
        reason: str,
        missing_keys: list[str] | None = None,
        unexpected_keys: list[str] | None = None,
        shape_mismatches: list[tuple[str, tuple[int, ...], tuple[int, ...]]] | None = None,
    ) -> None:
        self.path = str(path)
        self.reason = reason
        self.missing_keys = missing_keys or []
        self.unexpected_keys = unexpected_keys or []
        self.shape_mismatches = shape_mismatches or []
        super().__init__(self._message())

    def _message(self) -> str:
        parts = [f"cannot load checkpoint {self.path}: {self.reason}"]

        def some(items: list[str]) -> str:
            head = ", ".join(items[:5])
            return head + (f" (+{len(items) - 5} more)" if len(items) > 5 else "")

        if self.missing_keys:
            parts.append(f"{len(self.missing_keys)} missing keys: {some(self.missing_keys)}")
        if self.unexpected_keys:
            parts.append(
                f"{len(self.unexpected_keys)} unexpected keys: {some(self.unexpected_keys)}"
            )
        if self.shape_mismatches:
            shapes = [f"{k} file {list(f)} vs model {list(m)}" for k, f, m in self.shape_mismatches]
            parts.append(f"{len(self.shape_mismatches)} shape mismatches: {some(shapes)}")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "reason": self.reason,
            "missing_keys": self.missing_keys,
            "unexpected_keys": self.unexpected_keys,
            "shape_mismatches": [[k, list(f), list(m)] for k, f, m in self.shape_mismatches],
            "message": str(self),
        }


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict from ``path``, unwrapping common containers."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(p, "file does not exist")
    try:
        # weights_only: a checkpoint is data, never code to execute.
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except (
        RuntimeError,
        pickle.UnpicklingError,
        zipfile.BadZipFile,
        EOFError,
        OSError,
        ValueError,
        AttributeError,
        IndexError,
    ) as exc:
        raise CheckpointError(
            p, f"not a readable PyTorch checkpoint (corrupt or truncated?): {exc}"
        ) from exc
    return _unwrap(p, obj)


def _unwrap(path: Path, obj: Any) -> dict[str, torch.Tensor]:
    for _ in range(3):
        if isinstance(obj, Mapping) and not _is_tensor_dict(obj):
            inner = next((obj[k] for k in _WRAPPER_KEYS if k in obj), None)
            if inner is None:
                break
            obj = inner
    if not isinstance(obj, Mapping) or not _is_tensor_dict(obj) or not obj:
        kind = type(obj).__name__
        raise CheckpointError(path, f"not a SAM state dict (found {kind} without tensors)")
    sd = dict(obj)
    for prefix in _STRIP_PREFIXES:
        if all(k.startswith(prefix) for k in sd):
            sd = {k[len(prefix) :]: v for k, v in sd.items()}
    return sd


def _is_tensor_dict(obj: Mapping[Any, Any]) -> bool:
    return bool(obj) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()
    )


def check_state_dict(model: nn.Module, sd: Mapping[str, torch.Tensor], path: str | Path) -> None:
    """Raise CheckpointError unless ``sd`` matches ``model`` key for key and shape for shape."""
    own = model.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    mismatched = [
        (k, tuple(sd[k].shape), tuple(own[k].shape))
        for k in sorted(set(own) & set(sd))
        if tuple(sd[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or mismatched:
        raise CheckpointError(
            path,
            "does not match the model architecture (wrong arch or image size?)",
            missing,
            unexpected,
            mismatched,
        )


# How each encoder kind is named in a refusal, and what to import it as.
_KIND_NAMES = {
    "vit": "a ViT SAM checkpoint (vit_b, vit_l or vit_h)",
    "tiny_vit": "a MobileSAM (TinyViT) checkpoint: import it as vit_t",
    "efficient_sam": "an EfficientSAM checkpoint: import it as efficientsam_ti",
}
_MODEL_NAMES = {
    "vit": "a ViT SAM (vit_b, vit_l or vit_h)",
    "tiny_vit": "MobileSAM's vit_t",
    "efficient_sam": "EfficientSAM-Ti (efficientsam_ti)",
}


def encoder_kind_of(keys: Iterable[str]) -> str | None:
    """Which image encoder a state dict's names (runtime layout) belong to; None if none."""
    keys = set(keys)
    if any(k.startswith("image_encoder.stages.") for k in keys):
        return "tiny_vit"
    if "image_encoder.blocks.0.mlp.fc1.weight" in keys:  # SAM's ViT names it mlp.lin1
        return "efficient_sam"
    if any(k.startswith("image_encoder.") for k in keys):
        return "vit"
    return None


def load_checkpoint(model: nn.Module, path: str | Path) -> nn.Module:
    from .efficient_sam import from_efficient_sam_layout, is_efficient_sam_layout
    from .tiny_vit import from_mobile_sam_layout, is_mobile_sam_layout

    sd = read_state_dict(path)
    if is_mobile_sam_layout(sd):
        sd = from_mobile_sam_layout(sd)
    if is_efficient_sam_layout(sd):
        # The pad point's encoding is folded in at the model's input size (1024 officially).
        prompt = getattr(model, "prompt_encoder", None)
        size = int(prompt.input_image_size[0]) if prompt is not None else 1024
        sd = from_efficient_sam_layout(sd, size)
    model_kind = encoder_kind_of(model.state_dict())
    file_kind = encoder_kind_of(sd)
    if file_kind is not None and model_kind is not None and file_kind != model_kind:
        # The key lists would say it, in 200 lines; the architecture is what to change.
        reason = f"is {_KIND_NAMES[file_kind]}"
        if file_kind == "vit":
            reason += f", not {_MODEL_NAMES[model_kind]}"
        raise CheckpointError(path, reason)
    check_state_dict(model, sd, path)
    model.load_state_dict(sd, strict=True)
    return model


def save_official_format(model: nn.Module, path: str | Path) -> Path:
    """Save a bare state dict (the layout ``sam_model_registry[arch](checkpoint=...)`` reads).

    Written to a temporary file and renamed, so a crash never leaves a half-written file.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().cpu().contiguous() for k, v in _unwrapped(model).state_dict().items()}
    tmp = p.with_name(p.name + ".tmp")
    torch.save(sd, tmp)
    os.replace(tmp, p)
    return p


def _unwrapped(model: nn.Module) -> nn.Module:
    inner = getattr(model, "module", model)  # DDP wraps the real model in .module
    return inner if isinstance(inner, nn.Module) else model


def weights_hash(module: nn.Module) -> str:
    """sha256 over names, shapes and bytes of a module's state: the embedding-cache key."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().flatten().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()
