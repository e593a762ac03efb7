"""Parameter and FLOP counting for the size columns of docs and benchmarks.

FLOPs come from ``torch.utils.flop_counter.FlopCounterMode``, which counts one multiply-add as
2 FLOPs and only counts matmul/convolution-like ops (BN, activations, pooling and bias additions
are free). Papers in this field (SimpleBaseline, HRNet, CPN, ViTPose) report "GFLOPs" that are
really giga multiply-adds, so compare ``count_flops(...) / 2`` with their tables.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["count_flops", "count_params"]


def count_params(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of parameters; a tensor shared by several modules is counted once.

    Args:
        model: any module (meta-device modules work, so huge models cost no memory).
        trainable_only: count only parameters with ``requires_grad``.
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_flops(model: nn.Module, input_shape: tuple[int, int, int, int]) -> int:
    """FLOPs (2 per multiply-add) of one inference forward pass on a zero input of this shape.

    Runs in eval mode under ``torch.no_grad`` on the model's own device (CPU, or ``meta`` to
    count without computing); every module's train/eval mode is restored afterwards.

    Args:
        model: the network; its ``forward`` takes one (B, C, H, W) tensor.
        input_shape: (B, C, H, W), e.g. (1, 3, 256, 192) for a top-down crop.
    Returns:
        total FLOPs; divide by 2 for the multiply-adds papers call "GFLOPs".
    """
    if (
        not isinstance(input_shape, tuple | list)
        or len(input_shape) != 4
        or not all(isinstance(d, int) and d > 0 for d in input_shape)
    ):
        raise ValueError(
            f"input_shape must be four positive ints (B, C, H, W), got {input_shape!r}"
        )
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    images = torch.zeros(tuple(input_shape), device=device)
    modes = {m: m.training for m in model.modules()}  # restored per module: BN may be frozen
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(images)
    finally:
        for module, training in modes.items():
            module.training = training
    return int(counter.get_total_flops())
