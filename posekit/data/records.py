"""Plain numpy records of a COCO-format keypoint dataset, shared by the reader, the synthetic
generator, transforms and the top-down / bottom-up datasets.

Coordinates follow :mod:`posekit.structures` (image pixels, integer = pixel centre).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["PersonAnnotation", "ImageRecord"]


@dataclass
class PersonAnnotation:
    """One annotated person.

    Attributes:
        keypoints: (K, 3) float32 x, y, v with v ∈ {0 unlabeled, 1 occluded, 2 visible}.
        bbox: (4,) float32 COCO box (x, y, w, h) in image pixels.
        area: segmentation area in pixels² (what OKS normalises by).
        iscrowd: COCO crowd flag (crowd regions are ignored by evaluation, never trained on).
        id: annotation id from the json.
    """

    keypoints: np.ndarray
    bbox: np.ndarray
    area: float
    iscrowd: bool = False
    id: int = 0

    @property
    def num_keypoints(self) -> int:
        """Labelled keypoints (v > 0), as COCO's ``num_keypoints``."""
        return int((self.keypoints[:, 2] > 0).sum())


@dataclass
class ImageRecord:
    """One image and everybody annotated on it.

    Attributes:
        image_id: COCO image id.
        file_name: absolute path of the image file.
        width, height: image size in pixels, from the json.
        people: annotated persons (crowd regions included, flagged ``iscrowd``).
    """

    image_id: int
    file_name: str
    width: int
    height: int
    people: list[PersonAnnotation] = field(default_factory=list)

    def keypoints_array(self, include_crowd: bool = False) -> np.ndarray:
        """(N, K, 3) keypoints of the (non-crowd) people; (0, 0, 3) when there are none."""
        people = [p for p in self.people if include_crowd or not p.iscrowd]
        if not people:
            return np.zeros((0, 0, 3), dtype=np.float32)
        return np.stack([p.keypoints for p in people]).astype(np.float32)
