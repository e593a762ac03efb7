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


def test_detector_checkpoint_boxes_are_evaluated_in_memory(tmp_path, monkeypatch):
    """eval --detector: a one-stage checkpoint's people become the top-down crops; no file is
    written (no temp detections json), and a top-down checkpoint cannot be the detector."""
    import tempfile

    from product_helpers import randomize_, tiny_checkpoint

    from posekit.config import config_to_dict, load_config
    from posekit.engine.checkpoint import save_checkpoint
    from posekit.engine.evaluate import people_detector
    from posekit.engine.tasks import build_task

    _, topdown = tiny_checkpoint(tmp_path / "td.pt")
    cfg = load_config("configs/rtmo/rtmo_tiny_synthpose_256x256.yaml",
                      ["codec.input_size=[128, 128]", "test.det_score_thresh=0.0"])
    model = randomize_(build_task(cfg).build_model(), seed=1)
    rtmo = tmp_path / "rtmo.pt"
    save_checkpoint({"model": model.state_dict(), "config": config_to_dict(cfg), "epoch": 0},
                    rtmo)
    coco = CocoPoseDataset(REAL_COCO_JSON, REAL_COCO_JSON.parent)
    boxes = people_detector(rtmo)(coco.load_image(coco.records[0]))
    assert boxes and all(b.box[2] - b.box[0] > 1 and b.box[3] - b.box[1] > 1 for b in boxes)
    before = sorted(tmp_path.iterdir())
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    report, results = evaluate_checkpoint(topdown, REAL_COCO_JSON, detector=rtmo)
    assert results and "AP" in report.stats
    assert sorted(tmp_path.iterdir()) == sorted([*before, temp]) and not any(temp.iterdir())
    with pytest.raises(ValueError, match="without boxes"):
        people_detector(topdown)
