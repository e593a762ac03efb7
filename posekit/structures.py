"""The one data model every stage passes on: ``Keypoints`` and ``PoseInstances``.

Coordinate convention (used by every conversion in posekit): coordinates are pixels of the
original image, x to the right, y down, and **integer coordinates are pixel centres** (pixel
``(u, v)`` covers ``[u - 0.5, u + 0.5] × [v - 0.5, v + 0.5]``), as in COCO annotations and
OpenCV's ``warpAffine``. Boxes inside posekit are ``(x1, y1, x2, y2)``; COCO's ``(x, y, w, h)``
appears only at the COCO-dict boundary (:meth:`PoseInstances.to_coco` / ``from_coco``).

Objects are immutable in spirit: indexing and conversions return new objects and never mutate
their input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from posekit.draw import draw_people

__all__ = ["Keypoints", "PoseInstances", "xywh_to_xyxy", "xyxy_to_xywh"]


def xywh_to_xyxy(boxes: Tensor) -> Tensor:
    """(N, 4) COCO (x, y, w, h) → (x1, y1, x2, y2)."""
    return torch.cat([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], dim=1)


def xyxy_to_xywh(boxes: Tensor) -> Tensor:
    """(N, 4) (x1, y1, x2, y2) → COCO (x, y, w, h)."""
    return torch.cat([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], dim=1)


@dataclass(frozen=True)
class Keypoints:
    """(N, K, 3) keypoints: x, y in image pixels and a third column that is the COCO visibility
    (0/1/2) for annotations and a confidence in [0, 1] for predictions."""

    data: Tensor

    def __post_init__(self) -> None:
        if not isinstance(self.data, Tensor):
            object.__setattr__(self, "data", torch.as_tensor(np.asarray(self.data)))
        if self.data.ndim != 3 or self.data.shape[-1] != 3:
            raise ValueError(f"keypoints must be (N, K, 3), got {tuple(self.data.shape)}")
        if not self.data.is_floating_point():
            object.__setattr__(self, "data", self.data.float())

    @property
    def xy(self) -> Tensor:
        """(N, K, 2) positions in image pixels."""
        return self.data[..., :2]

    @property
    def conf(self) -> Tensor:
        """(N, K) visibility (annotations) or confidence (predictions)."""
        return self.data[..., 2]

    @property
    def num_keypoints(self) -> int:
        return self.data.shape[1]

    def __len__(self) -> int:
        return self.data.shape[0]

    def __getitem__(self, index: Any) -> Keypoints:
        data = self.data[index]
        return Keypoints(data.unsqueeze(0) if data.ndim == 2 else data)

    def to(self, *args: Any, **kwargs: Any) -> Keypoints:
        return Keypoints(self.data.to(*args, **kwargs))


@dataclass(frozen=True)
class PoseInstances:
    """People found in (or annotated on) one image; equal-length fields, one index selects all.

    Attributes:
        boxes: (N, 4) person boxes (x1, y1, x2, y2) in image pixels.
        keypoints: (N, K, 3) :class:`Keypoints`.
        scores: (N,) person scores (1.0 for annotations).
        track_ids: (N,) int64 identities across the frames of a video (set by
            :class:`posekit.pipelines.tracking.PoseTracker`), or None.
    """

    boxes: Tensor
    keypoints: Keypoints
    scores: Tensor
    track_ids: Tensor | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.keypoints, Keypoints):
            object.__setattr__(self, "keypoints", Keypoints(torch.as_tensor(self.keypoints)))
        boxes = torch.as_tensor(self.boxes, dtype=torch.float32).reshape(-1, 4)
        scores = torch.as_tensor(self.scores, dtype=torch.float32).reshape(-1)
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "scores", scores)
        n = len(self.keypoints)
        if boxes.shape[0] != n or scores.shape[0] != n:
            raise ValueError(
                f"PoseInstances fields differ in length: boxes {boxes.shape[0]}, "
                f"keypoints {n}, scores {scores.shape[0]}"
            )
        if self.track_ids is not None:
            ids = torch.as_tensor(self.track_ids, dtype=torch.int64).reshape(-1)
            if ids.shape[0] != n:
                raise ValueError(f"PoseInstances has {n} people but {ids.shape[0]} track_ids")
            object.__setattr__(self, "track_ids", ids)

    @classmethod
    def empty(cls, num_keypoints: int) -> PoseInstances:
        return cls(torch.zeros(0, 4), Keypoints(torch.zeros(0, num_keypoints, 3)), torch.zeros(0))

    @classmethod
    def from_keypoints(cls, keypoints: Tensor, scores: Tensor | None = None) -> PoseInstances:
        """People from (N, K, 3) keypoints alone; boxes are the extent of points with conf > 0."""
        kpts = Keypoints(keypoints)
        if scores is None:
            scores = torch.ones(len(kpts))
        return cls(keypoints_to_boxes(kpts.data), kpts, scores)

    def __len__(self) -> int:
        return self.boxes.shape[0]

    def __getitem__(self, index: Any) -> PoseInstances:
        if isinstance(index, int):
            index = slice(index, index + 1) if index != -1 else slice(-1, None)
        ids = None if self.track_ids is None else self.track_ids[index]
        return PoseInstances(self.boxes[index], self.keypoints[index], self.scores[index], ids)

    @property
    def num_keypoints(self) -> int:
        return self.keypoints.num_keypoints

    @property
    def xy(self) -> Tensor:
        """(N, K, 2) keypoint positions in image pixels (``keypoints.xy``)."""
        return self.keypoints.xy

    def to(self, *args: Any, **kwargs: Any) -> PoseInstances:
        boxes = self.boxes.to(*args, **kwargs)
        ids = None if self.track_ids is None else self.track_ids.to(boxes.device)  # stay int64
        return PoseInstances(
            boxes, self.keypoints.to(*args, **kwargs), self.scores.to(*args, **kwargs), ids,
        )

    @staticmethod
    def cat(items: Sequence[PoseInstances]) -> PoseInstances:
        if not items:
            raise ValueError("PoseInstances.cat needs at least one item")
        tracked = [p.track_ids is not None for p in items]
        if any(tracked) and not all(tracked):
            raise ValueError("PoseInstances.cat: some items have track_ids and some do not")
        return PoseInstances(
            torch.cat([p.boxes for p in items]),
            Keypoints(torch.cat([p.keypoints.data for p in items])),
            torch.cat([p.scores for p in items]),
            torch.cat([p.track_ids for p in items]) if all(tracked) else None,
        )

    def to_coco(self, image_id: int, category_id: int = 1) -> list[dict]:
        """COCO results dicts: ``{image_id, category_id, keypoints: [x, y, s] * K, score, bbox}``
        with bbox as (x, y, w, h), and ``track_id`` when the people are tracked."""
        boxes = xyxy_to_xywh(self.boxes).tolist()
        kpts = self.keypoints.data.reshape(len(self), 3 * self.num_keypoints).tolist()
        results = [
            {
                "image_id": int(image_id),
                "category_id": int(category_id),
                "keypoints": [round(v, 3) for v in k],
                "score": float(s),
                "bbox": [round(v, 3) for v in b],
            }
            for b, k, s in zip(boxes, kpts, self.scores.tolist(), strict=True)
        ]
        if self.track_ids is not None:
            for result, track_id in zip(results, self.track_ids.tolist(), strict=True):
                result["track_id"] = int(track_id)
        return results

    @classmethod
    def from_coco(cls, anns: Sequence[dict], num_keypoints: int) -> PoseInstances:
        """People from COCO annotation or result dicts (bbox x, y, w, h; ``score`` default 1)."""
        if not anns:
            return cls.empty(num_keypoints)
        kpts = torch.tensor([a["keypoints"] for a in anns], dtype=torch.float32)
        if kpts.shape[1] != num_keypoints * 3:
            raise ValueError(
                f"expected {num_keypoints * 3} keypoint values, got {kpts.shape[1]}"
            )
        kpts = kpts.reshape(len(anns), num_keypoints, 3)
        scores = torch.tensor([float(a.get("score", 1.0)) for a in anns])
        if all("bbox" in a for a in anns):
            boxes = xywh_to_xyxy(torch.tensor([a["bbox"] for a in anns], dtype=torch.float32))
        else:
            boxes = keypoints_to_boxes(kpts)
        ids = [a["track_id"] for a in anns] if all("track_id" in a for a in anns) else None
        return cls(boxes, Keypoints(kpts), scores, ids)

    def plot(self, image: np.ndarray, skeleton: Any = None, **kwargs: Any) -> np.ndarray:
        """Draw these people on a copy of ``image`` (H, W, 3 BGR uint8); see :mod:`posekit.draw`."""
        if self.track_ids is not None:
            kwargs.setdefault("track_ids", self.track_ids.tolist())
        return draw_people(image, self, skeleton=skeleton, **kwargs)


def keypoints_to_boxes(keypoints: Tensor) -> Tensor:
    """(N, K, 3) → (N, 4) tight (x1, y1, x2, y2) around points with third column > 0."""
    valid = keypoints[..., 2] > 0  # (N, K)
    big = torch.finfo(keypoints.dtype).max
    x, y = keypoints[..., 0], keypoints[..., 1]
    x1 = torch.where(valid, x, big).amin(dim=1)
    y1 = torch.where(valid, y, big).amin(dim=1)
    x2 = torch.where(valid, x, -big).amax(dim=1)
    y2 = torch.where(valid, y, -big).amax(dim=1)
    boxes = torch.stack([x1, y1, x2, y2], dim=1)
    return torch.where(valid.any(dim=1, keepdim=True), boxes, torch.zeros_like(boxes))
