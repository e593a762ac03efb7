"""Pose models, and the one table that maps a model name to its constructor.

``build_model("simple_baseline_res50", num_keypoints=17)`` is how configs, the CLI and tests make
a model; ``MODELS`` is that table, written out so names can be grepped and type-checked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from posekit.models.complexity import count_flops, count_params
from posekit.models.openpose import (
    OpenPose,
    OpenPoseCMU,
    openpose_cmu_coco,
    openpose_light,
    openpose_vgg19,
)
from posekit.models.simplebaseline import (
    SimpleBaseline,
    simple_baseline_res18,
    simple_baseline_res34,
    simple_baseline_res50,
    simple_baseline_res101,
    simple_baseline_res152,
    simple_baseline_tiny,
)

__all__ = [
    "MODELS", "OpenPose", "OpenPoseCMU", "SimpleBaseline", "build_model", "count_flops",
    "count_params",
]

MODELS: dict[str, Callable[..., nn.Module]] = {
    "simple_baseline_res18": simple_baseline_res18,
    "simple_baseline_res34": simple_baseline_res34,
    "simple_baseline_res50": simple_baseline_res50,
    "simple_baseline_res101": simple_baseline_res101,
    "simple_baseline_res152": simple_baseline_res152,
    "simple_baseline_tiny": simple_baseline_tiny,
    "openpose_cmu_coco": openpose_cmu_coco,
    "openpose_vgg19": openpose_vgg19,
    "openpose_light": openpose_light,
}


def build_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the model registered as ``name``; keyword arguments go to its constructor."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}")
    try:
        return MODELS[name](**kwargs)
    except TypeError as exc:  # a config's model.kwargs that the constructor does not take
        raise ValueError(f"model {name!r}: {exc}") from None
