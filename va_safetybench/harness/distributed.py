"""Data-parallel eval: `va-bench eval` started by `accelerate launch` or `torchrun`, one process per device.

The launcher sets RANK, WORLD_SIZE, LOCAL_RANK and the rendezvous address; each process then loads the model on
its own device (`hf:`: cuda:LOCAL_RANK), lm-eval gives it every WORLD_SIZE-th document of each task (its evaluator's
own sharding), its responses go to its own shard of the response cache, and rank 0 gathers the lm-eval samples and
metrics (lm-eval's gathering, through the primitives below) and our outcomes, and writes the one run directory a
single process would. The cache shards are read together, so a rerun resumes whatever any rank finished, with any
number of processes. The process group is torch.distributed's: gloo on CPU, NCCL on GPUs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def launched() -> Ranks:
    """This process's place among those a launcher started (one process without a launcher)."""
    env = os.environ
    return Ranks(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0)))


class ProcessGroup:
    """The collectives lm-eval's evaluator asks a data-parallel model for, over torch.distributed."""

    def __init__(self, ranks: Ranks, device: str) -> None:
        import torch.distributed as dist

        self.ranks = ranks
        if device.startswith("cuda"):
            import torch

            torch.cuda.set_device(device)  # NCCL's object collectives stage through the current device
        if not dist.is_initialized():  # accelerate and torchrun set the env:// rendezvous variables
            dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")

    def all_gather(self, tensor: Any) -> Any:
        """Every rank's tensor, stacked in rank order."""
        import torch
        import torch.distributed as dist

        parts = [torch.zeros_like(tensor) for _ in range(self.ranks.world_size)]
        dist.all_gather(parts, tensor)
        return torch.stack(parts)

    def gather_object(self, obj: Any, dst: int = 0) -> list | None:
        """Every rank's object, in rank order, on `dst`; None elsewhere."""
        import torch.distributed as dist

        gathered: list | None = [None] * self.ranks.world_size if self.ranks.rank == dst else None
        dist.gather_object(obj, gathered, dst=dst)
        return gathered

    def barrier(self) -> None:
        import torch.distributed as dist

        dist.barrier()

    def close(self) -> None:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
