"""DistributedDataParallel plumbing: the same ``train()`` runs alone or under torchrun."""

from __future__ import annotations

import os
from datetime import timedelta
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    initialised_here: bool = False
    comm_device: str = "cpu"  # where collective tensors live (cuda for nccl)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> DistContext:
        """Read torchrun's environment; start the process group if it is not running yet.
        gloo on CPU, nccl on CUDA."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        rank = int(os.environ["RANK"])
        local = int(os.environ.get("LOCAL_RANK", "0"))
        here = False
        if not dist.is_initialized():
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            # Rank 0 alone fills the embedding cache before the first barrier (thousands of
            # images for a large encoder): the default collective timeout (10-30 min) is too
            # short for that wait.
            dist.init_process_group(backend=backend, timeout=timedelta(hours=4))
            here = True
        comm = "cuda" if dist.get_backend() == "nccl" else "cpu"
        return cls(rank, world, local, here, comm)

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def broadcast_float(self, value: float) -> float:
        if not self.enabled:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.comm_device)
        dist.broadcast(t, src=0)
        return float(t.item())

    def any_flag(self, flag: bool) -> bool:
        """True on every rank if any rank says True (e.g. one rank saw a cancel)."""
        if not self.enabled:
            return flag
        t = torch.tensor([1 if flag else 0], dtype=torch.int32, device=self.comm_device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def close(self) -> None:
        if self.initialised_here and dist.is_initialized():
            dist.destroy_process_group()
