"""posekit: multi-person 2D human pose estimation in pure PyTorch."""

from posekit.skeletons import SKELETONS, Skeleton, get_skeleton
from posekit.structures import Keypoints, PoseInstances

__version__ = "0.1.0"
__all__ = ["Keypoints", "PoseInstances", "Skeleton", "SKELETONS", "get_skeleton", "__version__"]
