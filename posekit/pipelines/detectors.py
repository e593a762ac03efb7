"""Person detectors for top-down pipelines, behind one interface.

A detector answers "which person boxes are in this image?" as a list of :class:`PersonBox`
((x1, y1, x2, y2) in image pixels, with a score). Here: the two standard evaluation protocols
(ground-truth boxes, a COCO detection-results file, whose x, y, w, h boxes are converted on
reading) and :class:`PeopleDetector`, which turns any model that finds people on its own (one-stage,
bottom-up) into a detector. :func:`person_boxes` runs a detector over a dataset.
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from posekit.data.coco import CocoPoseDataset, load_json_file
from posekit.data.topdown import PersonCrop, ground_truth_boxes
from posekit.errors import DataWarning
from posekit.structures import PoseInstances

__all__ = [
    "Detector", "PersonBox", "PeopleDetector", "GroundTruthBoxes", "DetectionFile", "person_boxes",
]


@dataclass(frozen=True)
class PersonBox:
    """One person box a detector found: (x1, y1, x2, y2) in image pixels and its score."""

    box: tuple[float, float, float, float]
    score: float = 1.0


class Detector(Protocol):
    def __call__(self, image: np.ndarray, image_id: int | None = None) -> list[PersonBox]:
        """Person boxes found in one BGR image (``image_id`` keys precomputed tables)."""
        ...


class PeopleDetector:
    """Person boxes from a model that finds people without boxes (one-stage, bottom-up): the
    boxes and scores of the people ``find_people(image)`` returns.

    People scored below ``score_thresh`` and boxes of at most one pixel in width or height (no
    crop can be made from them) are dropped, as :class:`DetectionFile` drops them.
    """

    def __init__(self, find_people: Callable[[np.ndarray], PoseInstances],
                 score_thresh: float = 0.0) -> None:
        self.find_people = find_people
        self.score_thresh = score_thresh

    def __call__(self, image: np.ndarray, image_id: int | None = None) -> list[PersonBox]:
        people = self.find_people(image)
        out = []
        for (x1, y1, x2, y2), s in zip(people.boxes.tolist(), people.scores.tolist(),
                                       strict=True):
            if s >= self.score_thresh and x2 - x1 > 1 and y2 - y1 > 1:
                out.append(PersonBox((x1, y1, x2, y2), float(s)))
        return out


class _BoxTable:
    """Boxes looked up by image id (both standard protocols are precomputed tables)."""

    def __init__(self, boxes: dict[int, list[PersonBox]]) -> None:
        self._boxes = boxes

    @property
    def image_ids(self) -> frozenset[int]:
        """The ids of the images that have at least one box."""
        return frozenset(self._boxes)

    def __call__(self, image: np.ndarray, image_id: int | None = None) -> list[PersonBox]:
        if image_id is None:
            raise ValueError(f"{type(self).__name__} needs the image_id of the image")
        return list(self._boxes.get(int(image_id), []))


class GroundTruthBoxes(_BoxTable):
    """Annotated boxes of non-crowd people with at least ``min_keypoints`` labelled points."""

    def __init__(self, coco: CocoPoseDataset, min_keypoints: int = 1) -> None:
        table: dict[int, list[PersonBox]] = defaultdict(list)
        for item in ground_truth_boxes(coco, min_keypoints):
            table[coco.records[item.record_index].image_id].append(PersonBox(item.box, item.score))
        super().__init__(table)


class DetectionFile(_BoxTable):
    """Boxes from a COCO detection-results json (``[{image_id, category_id, bbox, score}]``,
    bbox x, y, w, h); ``coco`` keeps only the detections on its images."""

    def __init__(
        self, path: str | Path, coco: CocoPoseDataset | None = None, *,
        score_thresh: float = 0.0, category_id: int = 1,
    ) -> None:
        self.path = Path(path)
        entries = load_json_file(path, "detection file")
        if not isinstance(entries, list):
            raise ValueError(f"{path}: expected a list of detections, got {type(entries).__name__}")
        known = {r.image_id for r in coco.records} if coco is not None else set()
        table: dict[int, list[PersonBox]] = defaultdict(list)
        outside = 0  # person detections on images outside ``coco``
        for i, det in enumerate(entries):
            if not isinstance(det, dict):
                raise ValueError(f"{path}: detection {i} is not an object")
            for key in ("image_id", "bbox", "score"):
                if key not in det:
                    raise ValueError(f"{path}: detection {i} has no {key!r}")
            bbox = det["bbox"]
            if (not isinstance(bbox, list) or len(bbox) != 4
                    or not all(isinstance(v, int | float) and math.isfinite(v) for v in bbox)):
                raise ValueError(
                    f"{path}: detection {i} bbox must be 4 finite numbers, got {bbox!r}"
                )
            if det.get("category_id", category_id) != category_id:
                continue
            if float(det["score"]) < score_thresh or bbox[2] <= 1 or bbox[3] <= 1:
                continue
            image_id = int(det["image_id"])
            if coco is not None and image_id not in known:
                outside += 1  # detections on images outside the evaluated set
                continue
            x, y, w, h = (float(v) for v in bbox)
            table[image_id].append(PersonBox((x, y, x + w, y + h), float(det["score"])))
        if outside and not table:
            warnings.warn(DataWarning(
                f"{path}: none of its {outside} detections is on an image of the dataset (image "
                f"ids {_some(known)}; the file's: {_some({int(d['image_id']) for d in entries})}):"
                " every image gets 0 people"), stacklevel=2)
        super().__init__(table)


def _some(ids: set[int], n: int = 5) -> str:
    """A few ids of a set, sorted, for a message."""
    shown = sorted(ids)[:n]
    return ", ".join(map(str, shown)) + (", …" if len(ids) > n else "")


def person_boxes(coco: CocoPoseDataset, detector: Detector) -> list[PersonCrop]:
    """Every crop a detector asks for over a dataset, in record order (for batched evaluation)."""
    items = []
    for r, record in enumerate(coco.records):
        # Box tables need no pixels; a detector network reads the image.
        image = np.empty(0) if isinstance(detector, _BoxTable) else coco.load_image(record)
        for box in detector(image, record.image_id):
            items.append(PersonCrop(r, box.box, box.score))
    return items
