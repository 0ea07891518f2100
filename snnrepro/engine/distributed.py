"""Data-parallel training under ``torchrun`` (torch.distributed, DDP).

``torchrun --standalone --nproc_per_node N -m snnrepro run ID`` starts N processes; each
sees ``WORLD_SIZE``/``RANK``/``LOCAL_RANK`` in its environment.  The engine then

* initialises the process group (NCCL on CUDA, gloo on CPU) and pins ``cuda:LOCAL_RANK``;
* shards the training set with a ``DistributedSampler`` reshuffled per epoch
  (``set_epoch``) and gives each rank ``batch_size // world`` samples per step, so the
  global batch equals the spec's;
* wraps the model in ``DistributedDataParallel`` (gradients averaged across ranks);
* reduces evaluation counts across ranks (every rank evaluates its shard of the test set);
* lets only rank 0 write records and checkpoints.

Neuron state lives in each forward call (the families keep no state between batches), so
nothing needs resetting per rank.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    world: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def from_env() -> DistInfo:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    return DistInfo(world, int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0")))


def setup(info: DistInfo, device: torch.device) -> torch.device:
    """Initialise the process group once; return this rank's device."""
    if not info.enabled:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return device


def all_reduce_sum(values: list[float], device: torch.device, info: DistInfo) -> list[float]:
    if not info.enabled:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()


def barrier(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.barrier()
