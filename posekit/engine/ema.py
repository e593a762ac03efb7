"""Exponential moving average of model weights (evaluated instead of the raw weights)."""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["ModelEMA"]


class ModelEMA:
    """θ_ema ← d·θ_ema + (1 − d)·θ after every optimiser step (float buffers such as BN statistics
    are averaged too; integer buffers are copied).

    The decay ramps up as ``d · (1 − exp(−updates / 2000))`` (YOLOX/RTMDet style) so early, poor
    weights are forgotten quickly.
    """

    def __init__(self, model: nn.Module, decay: float = 0.9998, updates: int = 0) -> None:
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.decay = decay
        self.updates = updates

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = self.decay * (1 - torch.exp(torch.tensor(-self.updates / 2000.0)).item())
        ema_state = self.module.state_dict()
        for name, value in model.state_dict().items():
            target = ema_state[name]
            if value.dtype.is_floating_point:
                target.mul_(d).add_(value.detach(), alpha=1 - d)
            else:
                target.copy_(value)

    def state_dict(self) -> dict:
        return {"module": self.module.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state["module"])
        self.updates = int(state["updates"])
