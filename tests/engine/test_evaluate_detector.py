"""posekit eval --detector: the people of a box-free model become the top-down crops, in
memory."""

from __future__ import annotations

import pytest

from posekit.data.coco import CocoPoseDataset
from posekit.engine.evaluate import evaluate_checkpoint
from posekit.pipelines.detectors import PersonBox, person_boxes
from tests.conftest import REAL_COCO_JSON


def test_person_boxes_keep_records_boxes_and_scores_of_a_detector():
    coco = CocoPoseDataset(REAL_COCO_JSON, REAL_COCO_JSON.parent)
    seen = []

    def detector(image, image_id=None):
        seen.append((image.shape, image_id))
        return [PersonBox((1.0, 2.0, 4.0, 6.0), 0.5)] if image_id == coco[0].image_id else []

    crops = person_boxes(coco, detector)
    assert [s[1] for s in seen] == [r.image_id for r in coco.records]
    assert all(len(s[0]) == 3 for s in seen)  # a network detector reads the pixels
    assert [(c.record_index, c.box, c.score, c.person_index) for c in crops] == [
        (0, (1.0, 2.0, 4.0, 6.0), 0.5, -1)]


def test_detector_and_detections_are_exclusive(tmp_path):
    with pytest.raises(ValueError, match="either"):
        evaluate_checkpoint(tmp_path / "x.pt", REAL_COCO_JSON, detections="d.json",
                            detector="r.pt")
