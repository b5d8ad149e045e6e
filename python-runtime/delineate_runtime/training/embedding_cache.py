"""On-disk cache of image embeddings: the fast path when the image encoder is frozen.

Key = (encoder weights hash, image content hash incl. window, preprocessing description),
so a changed model, image or preprocessing never reuses a stale embedding. Files are
written to a temporary name and renamed, so concurrent writers (DDP ranks) and crashes are
safe. A small in-memory layer avoids re-reading the same file every epoch.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from pathlib import Path

import torch


class EmbeddingCache:
    def __init__(
        self,
        root: str | Path,
        model_key: str,
        preprocess_key: str,
        memory_budget_bytes: int = 1 << 30,
    ) -> None:
        self.dir = Path(root) / model_key[:16]
        self.dir.mkdir(parents=True, exist_ok=True)
        self.preprocess_key = preprocess_key
        self._mem: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._mem_bytes = 0
        self._budget = memory_budget_bytes
        self.hits = 0
        self.misses = 0

    def _path(self, image_key: str) -> Path:
        k = hashlib.sha256(f"{image_key}|{self.preprocess_key}".encode()).hexdigest()[:40]
        return self.dir / f"{k}.pt"

    def has(self, image_key: str) -> bool:
        return image_key in self._mem or self._path(image_key).is_file()

    def get(self, image_key: str) -> torch.Tensor | None:
        if image_key in self._mem:
            self._mem.move_to_end(image_key)
            self.hits += 1
            return self._mem[image_key]
        p = self._path(image_key)
        if not p.is_file():
            self.misses += 1
            return None
        try:
            t = torch.load(p, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - any unreadable entry is just recomputed
            p.unlink(missing_ok=True)  # a torn file from a crash: recompute it
            self.misses += 1
            return None
        self.hits += 1
        self._remember(image_key, t)
        return t

    def put(self, image_key: str, embedding: torch.Tensor) -> None:
        t = embedding.detach().to("cpu", torch.float32).contiguous()
        p = self._path(image_key)
        tmp = p.with_name(f"{p.name}.{os.getpid()}.tmp")
        torch.save(t, tmp)
        os.replace(tmp, p)
        self._remember(image_key, t)

    def _remember(self, key: str, t: torch.Tensor) -> None:
        size = t.numel() * t.element_size()
        if size > self._budget:
            return
        self._mem[key] = t
        self._mem_bytes += size
        while self._mem_bytes > self._budget:
            _, old = self._mem.popitem(last=False)
            self._mem_bytes -= old.numel() * old.element_size()
