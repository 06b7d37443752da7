"""Process-group setup for multi-GPU / multi-node training through ``torchrun``.

``torchrun --nproc_per_node N -m training.train --config ...`` sets RANK, WORLD_SIZE and
LOCAL_RANK; a plain ``python -m training.train`` runs as a single process. The backend
is NCCL on CUDA and gloo on the CPU.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("device = 'cuda' but torch sees no CUDA device")
        return torch.device("cuda", local_rank)
    if name != "cpu":
        raise ValueError(f"device {name!r}: expected auto, cpu or cuda")
    return torch.device("cpu")


def init_distributed(device: str = "auto") -> DistContext:
    """Join the process group torchrun describes (or none), and pick this rank's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = pick_device(device, local_rank)
    if world > 1 and not dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo", rank=rank, world_size=world)
    return DistContext(rank=rank, world_size=world, local_rank=local_rank, device=dev)


def all_reduce_mean(values: dict[str, float], ctx: DistContext) -> dict[str, float]:
    """Average a dict of floats over all ranks (identity for one process)."""
    if not ctx.enabled or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=ctx.device)
    dist.all_reduce(t)
    return {k: float(v) / ctx.world_size for k, v in zip(keys, t.tolist())}


def broadcast_buffers(module: torch.nn.Module, ctx: DistContext) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every rank. DDP broadcasts
    them before each forward, so they drift apart only in the last training step; call
    this before validating or saving so every replica is the same model."""
    if ctx.enabled:
        for buffer in module.buffers():
            dist.broadcast(buffer, 0)


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()


def shutdown(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()
