"""posekit: multi-person 2D human pose estimation in pure PyTorch.

Top-level names are imported lazily so that light tools (``posekit synth``, its worker
processes) do not pay for ``import torch``.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = [
    "Keypoints", "PoseEstimator", "PoseInstances", "Skeleton", "SKELETONS", "get_skeleton",
    "__version__",
]

_LAZY = {
    "Keypoints": "posekit.structures",
    "PoseEstimator": "posekit.api",
    "PoseInstances": "posekit.structures",
    "Skeleton": "posekit.skeletons",
    "SKELETONS": "posekit.skeletons",
    "get_skeleton": "posekit.skeletons",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'posekit' has no attribute {name!r}")
