"""Data-parallel training under ``torchrun``: the same ``surrogate train`` command on one or many processes.

``torchrun --nproc_per_node N -m surrogate.cli.main train TABLE -o RUN`` starts N ranks. Every rank holds the
whole (small) table on its device and draws the same shuffled global batches from the same seed; each rank
trains on its share of every global batch and DistributedDataParallel averages the gradients, so a step
is the single-device step on the global batch. Rank 0 alone writes the run directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch


@dataclass
class Processes:
    """This process's place among the ranks (rank 0 of 1 without torchrun)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def parallel(self) -> bool:
        return self.world > 1

    @classmethod
    def from_environment(cls, use_cuda: bool) -> "Processes":
        """Join the process group torchrun describes in WORLD_SIZE/RANK/LOCAL_RANK (NCCL on CUDA, else gloo)."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if use_cuda else "gloo")
        return cls(rank=dist.get_rank(), world=dist.get_world_size(), local_rank=int(os.environ.get("LOCAL_RANK", 0)))

    def share(self, rows: torch.Tensor) -> torch.Tensor:
        """This rank's rows of a global batch (every rank gets a non-empty, near-equal share)."""
        return rows if self.world == 1 else rows[self.rank::self.world]

    def average_gradients(self, parameters: list[torch.nn.Parameter]) -> None:
        """Average the gradients of parameters DDP does not manage (a weighting strategy's own)."""
        if not self.parallel:
            return
        import torch.distributed as dist

        for parameter in parameters:
            if parameter.grad is not None:
                dist.all_reduce(parameter.grad)
                parameter.grad /= self.world

    def barrier(self) -> None:
        if self.parallel:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        if self.parallel:
            import torch.distributed as dist

            dist.barrier()
            dist.destroy_process_group()
