"""Embeddings the app already computed, offered to training so they are not computed again.

While a user annotates, the app embeds every image they click on with the active model's
ONNX encoder. When that model is also training's starting point, those embeddings are
(nearly) the ones training would compute: same weights, same pixels (the snapshot stores
each image as SAM saw it in the app). "Nearly" is the point of this module. The app
resizes with Pillow's uint8 bilinear filter (as segment-anything's predictor does) and runs
ONNX, possibly int8; training resizes in float with torch and runs PyTorch. So an offered
embedding is used only after a parity check: training computes the first offered images
itself (it needs those embeddings anyway, so the check costs nothing) and accepts the rest
only if every checked one is within ``MAX_REL_ERROR`` (relative L2) of its own. The bound
admits two rounding conventions of the same fp32 pipeline and refuses a different encoder
(int8 weights, another checkpoint), which would train the decoder on inputs evaluation
never sees.

Folder layout, written by the app (``training/embedding-seeds.node.ts``)::

    index.json   {"format": "delineate-embedding-seeds/1", "source": {...},
                  "entries": {"<snapshot image file name>": "<file>.npy", ...}}
    *.npy        float32 C-order, shape (C, G, G): one image's embedding
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

FORMAT = "delineate-embedding-seeds/1"
MAX_REL_ERROR = 0.01
CHECKED = 2  # offered embeddings compared with training's own before the rest are trusted


def relative_error(offered: torch.Tensor, own: torch.Tensor) -> float:
    own = own.float()
    return float((offered.float() - own).norm() / own.norm().clamp_min(1e-12))


@dataclass
class SeedReport:
    """What happened to the offered embeddings; goes into TrainResult.timing."""

    offered: int = 0
    reused: int = 0
    checked_rel_error: list[float] = field(default_factory=list)
    refused: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "offered": self.offered,
            "reused": self.reused,
            "checked_rel_error": self.checked_rel_error,
            "max_rel_error": MAX_REL_ERROR,
            "refused": self.refused,
        }


class EmbeddingSeeds:
    def __init__(self, root: Path, source: dict[str, Any], entries: dict[str, str]) -> None:
        self.root = root
        self.source = source
        self.entries = entries

    @classmethod
    def open(cls, folder: str | Path) -> EmbeddingSeeds:
        root = Path(folder)
        index = json.loads((root / "index.json").read_text())
        if index.get("format") != FORMAT:
            raise ValueError(f"{root / 'index.json'}: unknown format {index.get('format')!r}")
        entries = index.get("entries")
        if not isinstance(entries, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and "/" not in v and "\\" not in v
            for k, v in entries.items()
        ):
            raise ValueError(f"{root / 'index.json'}: entries must map names to file names")
        return cls(root, dict(index.get("source") or {}), entries)

    def has(self, image_name: str) -> bool:
        return image_name in self.entries

    def load(self, image_name: str, shape: tuple[int, ...] | None = None) -> torch.Tensor:
        """The offered embedding; ValueError if it is unreadable or of another shape."""
        path = self.root / self.entries[image_name]
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: {exc}") from exc
        if arr.dtype != np.float32 or (shape is not None and tuple(arr.shape) != tuple(shape)):
            raise ValueError(f"{path}: {arr.dtype} {arr.shape}, expected float32 {shape}")
        return torch.from_numpy(np.ascontiguousarray(arr))
