"""PoseEstimator: arrays, paths, lists; detectors; clear errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from product_helpers import (
    person_image,
    tiny_checkpoint,
)

from posekit import PoseEstimator, PoseInstances
from posekit.engine.loading import load_trained
from posekit.pipelines.detectors import PeopleDetector, PersonBox

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def ckpt(tmp_path):
    return tiny_checkpoint(tmp_path / "tiny.pt")[1]


def test_array_path_and_list_give_the_same_people(ckpt, tmp_path):
    est = PoseEstimator.from_checkpoint(ckpt, detector="full-image")
    image = person_image(0)
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), image)
    from_array = est(image)
    from_path = est(str(path))
    both = est([image, path])
    assert isinstance(from_array, PoseInstances) and len(from_array) == 1
    assert from_array.xy.shape == (1, 17, 2) and from_array.scores.shape == (1,)
    assert torch.equal(from_array.xy, from_array.keypoints.data[..., :2])
    assert est.plot(image, from_array).shape == image.shape
    assert isinstance(both, list) and len(both) == 2
    for people in (from_path, *both):
        assert torch.equal(people.keypoints.data, from_array.keypoints.data)
    # The full-image box is the whole image (x1, y1, x2, y2).
    h, w = image.shape[:2]
    assert from_array.boxes.tolist() == [[0.0, 0.0, float(w), float(h)]]
    assert set(est.timing) == {"detector", "preprocess", "network", "decode"}
    assert est.timing["network"] > 0
    coco = from_array.to_coco(image_id=7)
    assert coco[0]["image_id"] == 7 and len(coco[0]["keypoints"]) == 17 * 3


def test_same_people_as_the_hand_built_pipeline(ckpt):
    """The API adds nothing of its own: it equals the task's pipeline with the same box."""
    trained = load_trained(ckpt)
    image = person_image(1)
    h, w = image.shape[:2]
    pipe = trained.task.pipeline(trained.task.inference_model(trained.model))
    expected = pipe(image, boxes=[PersonBox((0, 0, w, h), 1.0)])
    got = PoseEstimator.from_checkpoint(ckpt, detector="full-image")(image)
    assert torch.allclose(got.keypoints.data, expected.keypoints.data)
    assert torch.allclose(got.scores, expected.scores)


def test_callable_detector_array_and_boxes(ckpt):
    image = person_image(2)
    seen = []

    def detect(img):
        seen.append(img.shape)
        return np.array([[10, 20, 40, 60, 0.9], [0, 0, 30, 30, 0.5]])

    est = PoseEstimator.from_checkpoint(ckpt, detector=detect)
    people = est(image)
    assert seen == [image.shape]
    assert 1 <= len(people) <= 2
    # One box only: same result whether given as PersonBox or as an (N, 4) x1, y1, x2, y2 array.
    a = PoseEstimator.from_checkpoint(ckpt, detector=lambda im: [[10, 20, 50, 80]])(image)
    b = PoseEstimator.from_checkpoint(
        ckpt, detector=lambda im: [PersonBox((10, 20, 50, 80), 1.0)])(image)
    assert torch.equal(a.keypoints.data, b.keypoints.data)
    assert a.boxes.tolist() == [[10.0, 20.0, 50.0, 80.0]]


def test_detections_file_keyed_by_numeric_stem(ckpt, tmp_path):
    dets = tmp_path / "dets.json"
    dets.write_text('[{"image_id": 785, "category_id": 1, "bbox": [5, 5, 50, 80], "score": 1}]')
    est = PoseEstimator.from_checkpoint(ckpt, detector=str(dets))
    image = person_image(3)
    path = tmp_path / "000000000785.jpg"
    cv2.imwrite(str(path), image)
    assert len(est(path)) == 1
    other = tmp_path / "000000000786.jpg"
    cv2.imwrite(str(other), image)
    assert len(est(other)) == 0


def test_topdown_without_detector_says_what_to_pass(ckpt):
    with pytest.raises(ValueError, match="full-image"):
        PoseEstimator.from_checkpoint(ckpt)


def test_bad_inputs(ckpt, tmp_path):
    est = PoseEstimator.from_checkpoint(ckpt, detector="full-image")
    with pytest.raises(FileNotFoundError, match="nope.jpg"):
        est(tmp_path / "nope.jpg")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(ValueError, match="bad.jpg: not a readable image"):
        est(bad)
    with pytest.raises(ValueError, match="BGR uint8"):
        est(np.zeros((8, 8), np.uint8))
    with pytest.raises(TypeError, match="int"):
        est(3)
    with pytest.raises(ValueError, match="detector 'boxes.txt'"):
        PoseEstimator.from_checkpoint(ckpt, detector="boxes.txt")


def test_topdown_checkpoint_cannot_be_its_own_detector(ckpt):
    """A checkpoint given as detector must find people alone (one-stage / bottom-up)."""
    with pytest.raises(ValueError, match="needs person boxes"):
        PoseEstimator.from_checkpoint(ckpt, detector=str(ckpt))


def test_an_estimator_that_finds_people_can_be_the_detector(ckpt):
    """The one-stage hook: a box-free estimator's people boxes become the top-down crops."""
    from posekit.structures import Keypoints

    found = PoseInstances(torch.tensor([[5.0, 10.0, 45.0, 90.0], [50.0, 0.0, 90.0, 60.0]]),
                          Keypoints(torch.zeros(2, 17, 3)), torch.tensor([0.9, 0.2]))
    stand_in = PoseEstimator(lambda image, image_id=None: found, None, skeleton=None,
                             runtime="torch", source="one-stage stand-in")
    boxes = PeopleDetector(stand_in, score_thresh=0.5)(person_image(0))
    assert [b.box for b in boxes] == [(5.0, 10.0, 45.0, 90.0)]
    assert boxes[0].score == pytest.approx(0.9)
    people = PoseEstimator.from_checkpoint(ckpt, detector=stand_in)(person_image(0))
    assert len(people) == 2
    assert people.boxes.tolist() == found.boxes.tolist()


def test_empty_image_and_wrong_length_ids_are_named(ckpt):
    est = PoseEstimator.from_checkpoint(ckpt, detector="full-image")
    with pytest.raises(ValueError, match=r"image is empty: shape \(0, 40, 3\)"):
        est(np.zeros((0, 40, 3), np.uint8))
    with pytest.raises(ValueError, match="one id per image: 2 images, 3 ids"):
        est([person_image(0), person_image(1)], image_id=[1, 2, 3])


def test_topdown_detector_checkpoint_is_told_what_a_detector_must_be(ckpt):
    """The message is about the --detector checkpoint, not about passing a detector."""
    with pytest.raises(ValueError, match=r"detector .*tiny.pt is a topdown model: it needs "
                                         r"person boxes itself.*one-stage, bottom-up") as err:
        PoseEstimator.from_checkpoint(ckpt, detector=str(ckpt))
    assert "full-image" not in str(err.value)
