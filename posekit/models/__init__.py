"""Pose models, and the one table that maps a model name to its constructor.

``build_model("simple_baseline_res50", num_keypoints=17)`` is how configs, the CLI and tests make
a model; ``MODELS`` is that table, written out so names can be grepped and type-checked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from posekit.models.complexity import count_flops, count_params
from posekit.models.cpm import CPM, cpm_6stage, cpm_tiny
from posekit.models.cpn import CPN, cpn_res50, cpn_tiny
from posekit.models.hourglass import StackedHourglass, hourglass_8stack, hourglass_tiny
from posekit.models.openpose import (
    OpenPose,
    OpenPoseCMU,
    openpose_cmu_coco,
    openpose_light,
    openpose_vgg19,
)
from posekit.models.rtmo import RTMO, rtmo_l, rtmo_m, rtmo_s, rtmo_tiny
from posekit.models.simplebaseline import (
    SimpleBaseline,
    simple_baseline_res18,
    simple_baseline_res34,
    simple_baseline_res50,
    simple_baseline_res101,
    simple_baseline_res152,
    simple_baseline_tiny,
)
from posekit.models.vitpose import (
    ViTPose,
    vitpose_base,
    vitpose_huge,
    vitpose_large,
    vitpose_small,
    vitpose_tiny,
)

__all__ = [
    "CPM", "CPN", "MODELS", "OpenPose", "OpenPoseCMU", "RTMO", "SimpleBaseline", "StackedHourglass",
    "ViTPose", "build_model", "count_flops", "count_params",
]

MODELS: dict[str, Callable[..., nn.Module]] = {
    "simple_baseline_res18": simple_baseline_res18,
    "simple_baseline_res34": simple_baseline_res34,
    "simple_baseline_res50": simple_baseline_res50,
    "simple_baseline_res101": simple_baseline_res101,
    "simple_baseline_res152": simple_baseline_res152,
    "simple_baseline_tiny": simple_baseline_tiny,
    "rtmo_s": rtmo_s,
    "rtmo_m": rtmo_m,
    "rtmo_l": rtmo_l,
    "rtmo_tiny": rtmo_tiny,
    "vitpose_small": vitpose_small,
    "vitpose_base": vitpose_base,
    "vitpose_large": vitpose_large,
    "vitpose_huge": vitpose_huge,
    "vitpose_tiny": vitpose_tiny,
    "cpm_6stage": cpm_6stage,
    "cpm_tiny": cpm_tiny,
    "cpn_res50": cpn_res50,
    "cpn_tiny": cpn_tiny,
    "hourglass_8stack": hourglass_8stack,
    "hourglass_tiny": hourglass_tiny,
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
