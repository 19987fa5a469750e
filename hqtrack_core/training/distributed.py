"""Several training processes (``torchrun``): joining and leaving the process group, averaging a step's records.

DistributedDataParallel runs gloo on CPU and nccl on GPU; one process (``WORLD_SIZE`` unset or 1) needs no group.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed() -> DistInfo:
    """Join the process group described by torchrun's environment (``WORLD_SIZE`` > 1), else single."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(local)
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
    return DistInfo(rank, world, local)


def mean_over_ranks(values: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """The mean of ``values`` over the processes (``values`` itself with one process; reduced in place)."""
    if not info.enabled:
        return values
    dist.all_reduce(values)
    return values / info.world


def cleanup_distributed() -> None:
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
