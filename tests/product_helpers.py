"""Helpers shared by the product-layer tests (API, infer, export, convert, bench)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from conftest import tiny_topdown_config
from torch import nn

from posekit.config import ExperimentConfig, config_to_dict
from posekit.engine.checkpoint import save_checkpoint
from posekit.engine.tasks import build_task


def randomize_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Seeded weights of a useful size and random BN running stats (so outputs are not ~0)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif name.endswith(("running_mean", "bias")):
                t.copy_(torch.randn(t.shape, generator=g) * 0.1)
            else:
                fan_in = max(1, t[0].numel()) if t.ndim > 1 else 1
                t.copy_(torch.randn(t.shape, generator=g) / fan_in**0.5)
    return model


def tiny_checkpoint(path: Path, *overrides: str, seed: int = 0) -> tuple[ExperimentConfig, Path]:
    """A posekit checkpoint of SimpleBaseline-tiny (128x96) with seeded random weights."""
    cfg = tiny_topdown_config(*overrides)
    model = randomize_(build_task(cfg).build_model(), seed)
    save_checkpoint({"model": model.state_dict(), "config": config_to_dict(cfg), "epoch": 0},
                    path)
    return cfg, path


def person_image(seed: int = 0, size: int = 128) -> np.ndarray:
    """A BGR uint8 test image (noise with a bright blob; content does not matter for parity)."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 255, (size, size * 3 // 4, 3), dtype=np.uint8)
    image[size // 4: 3 * size // 4, size // 8: size // 2] = 200
    return image
