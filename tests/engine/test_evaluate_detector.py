"""posekit eval --detector: a Detector's boxes become a COCO detections list."""

from __future__ import annotations

import pytest

from posekit.data.coco import CocoPoseDataset
from posekit.data.topdown import PersonBox
from posekit.engine.evaluate import detections_from_detector, evaluate_checkpoint
from tests.conftest import REAL_COCO_JSON


def test_detections_from_detector_keeps_image_ids_boxes_and_scores():
    coco = CocoPoseDataset(REAL_COCO_JSON, REAL_COCO_JSON.parent)
    seen = []

    def detector(image, image_id=None):
        seen.append((image.shape, image_id))
        return [PersonBox(-1, (1.0, 2.0, 3.0, 4.0), 0.5)] if image_id == coco[0].image_id else []

    dets = detections_from_detector(coco, detector)
    assert [s[1] for s in seen] == [r.image_id for r in coco.records]
    assert dets == [{"image_id": coco[0].image_id, "category_id": 1,
                     "bbox": [1.0, 2.0, 3.0, 4.0], "score": 0.5}]


def test_detector_and_detections_are_exclusive(tmp_path):
    with pytest.raises(ValueError, match="either"):
        evaluate_checkpoint(tmp_path / "x.pt", REAL_COCO_JSON, detections="d.json",
                            detector="r.pt")
