"""Person detectors for top-down pipelines, behind one interface (DESIGN.md §4).

A detector answers "which person boxes are in this image?" as a list of :class:`PersonBox`
(COCO x, y, w, h in image pixels, with a score). The two standard evaluation protocols are here:
ground-truth boxes and a COCO detection-results file.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Protocol

import numpy as np

from posekit.data.coco import CocoPoseDataset, load_json_file
from posekit.data.topdown import PersonBox, ground_truth_boxes

__all__ = ["Detector", "GroundTruthBoxes", "DetectionFile", "person_boxes"]


class Detector(Protocol):
    def __call__(self, image: np.ndarray, image_id: int | None = None) -> list[PersonBox]:
        """Person boxes found in one image (``record_index`` is -1 outside a dataset)."""
        ...


class _BoxTable:
    """Boxes looked up by image id (both standard protocols are precomputed tables)."""

    def __init__(self, boxes: dict[int, list[PersonBox]]) -> None:
        self._boxes = boxes

    def __call__(self, image: np.ndarray, image_id: int | None = None) -> list[PersonBox]:
        if image_id is None:
            raise ValueError(f"{type(self).__name__} needs the image_id of the image")
        return list(self._boxes.get(int(image_id), []))


class GroundTruthBoxes(_BoxTable):
    """Annotated boxes of non-crowd people with at least ``min_keypoints`` labelled points."""

    def __init__(self, coco: CocoPoseDataset, min_keypoints: int = 1) -> None:
        table: dict[int, list[PersonBox]] = defaultdict(list)
        for item in ground_truth_boxes(coco, min_keypoints):
            table[coco.records[item.record_index].image_id].append(item)
        super().__init__(table)


class DetectionFile(_BoxTable):
    """Boxes from a COCO detection-results json (``[{image_id, category_id, bbox, score}]``)."""

    def __init__(
        self, path: str | Path, coco: CocoPoseDataset | None = None, *,
        score_thresh: float = 0.0, category_id: int = 1,
    ) -> None:
        entries = load_json_file(path, "detection file")
        if not isinstance(entries, list):
            raise ValueError(f"{path}: expected a list of detections, got {type(entries).__name__}")
        index = {r.image_id: i for i, r in enumerate(coco.records)} if coco is not None else {}
        table: dict[int, list[PersonBox]] = defaultdict(list)
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
            if coco is not None and image_id not in index:
                continue  # detections on images outside the evaluated set
            box = tuple(float(v) for v in bbox)
            table[image_id].append(PersonBox(index.get(image_id, -1), box, float(det["score"])))
        super().__init__(table)


def person_boxes(coco: CocoPoseDataset, detector: Detector) -> list[PersonBox]:
    """Every crop a detector asks for over a dataset, in record order (for batched evaluation)."""
    items = []
    for r, record in enumerate(coco.records):
        # Box tables need no pixels; a detector network reads the image.
        image = np.empty(0) if isinstance(detector, _BoxTable) else coco.load_image(record)
        for box in detector(image, record.image_id):
            items.append(PersonBox(r, box.bbox, box.score, box.person_index))
    return items
