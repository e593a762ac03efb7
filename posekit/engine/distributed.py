"""Distributed training helpers over ``torch.distributed`` (DDP launched by ``torchrun``).

Single-process runs need none of this: every helper degrades to the obvious answer when the
process group is not initialised.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

__all__ = [
    "predict_whole_images",
    "init_distributed",
    "cleanup_distributed",
    "is_distributed",
    "get_rank",
    "get_world_size",
    "is_main_process",
    "barrier",
    "reduce_dict",
    "all_gather_objects",
    "broadcast_object",
    "unwrap",
]


def init_distributed(device: str) -> torch.device:
    """Join the process group when launched by torchrun (RANK/WORLD_SIZE set); return the device.

    NCCL on CUDA, gloo on CPU. Each rank uses ``cuda:LOCAL_RANK``.
    """
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ and not dist.is_initialized():
        use_cuda = device.startswith("cuda")
        if use_cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    if device.startswith("cuda"):
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device(device)


def cleanup_distributed() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def get_world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    return get_rank() == 0


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def reduce_dict(values: dict[str, torch.Tensor], average: bool = True) -> dict[str, torch.Tensor]:
    """All-reduce a dict of scalar tensors (same keys on every rank); mean by default."""
    if not is_distributed():
        return values
    keys = sorted(values)
    stacked = torch.stack([values[k].detach().float() for k in keys])
    dist.all_reduce(stacked)
    if average:
        stacked /= get_world_size()
    return dict(zip(keys, stacked, strict=True))


def all_gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj`` in rank order (a one-element list when not distributed)."""
    if not is_distributed():
        return [obj]
    out: list[Any] = [None] * get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every rank."""
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def unwrap(model: nn.Module) -> nn.Module:
    """The bare model inside a DistributedDataParallel wrapper."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def predict_whole_images(pipe: Any, coco: Any, max_images: int = 0) -> list[dict]:
    """COCO results of a whole-image pipeline (bottom-up, one-stage) on the first ``max_images``
    images of a dataset (all when 0): images are sharded over DDP ranks, results gathered on all."""
    n = min(len(coco.records), max_images) if max_images > 0 else len(coco.records)
    mine: list[dict] = []
    for i in range(get_rank(), n, get_world_size()):
        record = coco.records[i]
        mine.extend(pipe(coco.load_image(record), record.image_id).to_coco(record.image_id))
    return [r for part in all_gather_objects(mine) for r in part]
