"""One-stage pipeline: centred resize, candidates to people in image pixels, its people as boxes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from posekit.pipelines.detectors import PeopleDetector
from posekit.pipelines.onestage import (
    LETTERBOX_PAD,
    OneStage,
    center_resize,
    fit_center_scale,
    warp_linear_fixed_point,
)


def test_center_resize_splits_the_padding():
    image = np.full((100, 200, 3), 7, np.uint8)
    out, center, scale = center_resize(image, (128, 128))
    assert out.shape == (128, 128, 3)
    np.testing.assert_allclose(center, [100, 50])
    np.testing.assert_allclose(scale, [200, 200])  # 128 input px cover 200 image px
    assert (out[32:96] == 7).all()  # 100·0.64 = 64 rows of image in the middle
    assert (out[:32] == LETTERBOX_PAD).all() and (out[96:] == LETTERBOX_PAD).all()
    np.testing.assert_allclose(fit_center_scale((100, 200), (128, 64)), [[50, 100], [400, 200]])


def test_fixed_point_warp_rounds_half_up():
    """A half-pixel shift averages two rows; OpenCV 4 rounds the .5 up (OpenCV 5: to even)."""
    image = np.zeros((2, 4, 3), np.uint8)
    image[0], image[1] = 20, 5  # (20 + 5) / 2 = 12.5
    out = warp_linear_fixed_point(image, np.array([[1.0, 0, 0], [0, 1, 0.5]]), (4, 3), 114)
    assert out[1, 1].tolist() == [13, 13, 13]
    assert out[0, 1].tolist() == [67, 67, 67]  # (114 + 20) / 2 with the border
    same = warp_linear_fixed_point(image, np.array([[2.0, 0, 0], [0, 2, 0]]), (8, 4), 114)
    want = cv2.warpAffine(image, np.array([[2.0, 0, 0], [0, 2, 0]]), (8, 4),
                          flags=cv2.INTER_LINEAR, borderValue=(114,) * 4)
    assert np.abs(same.astype(int) - want.astype(int)).max() <= 1


def _network(x: torch.Tensor):
    """Candidates in input pixels: two duplicates of one person, one low-score location."""
    assert x.shape == (1, 3, 128, 128)
    scores = torch.tensor([0.9, 0.8, 0.05])
    boxes = torch.tensor([[32.0, 48, 64, 80], [33, 48, 64, 80], [0, 0, 5, 5]])
    kpts = torch.zeros(3, 2, 2)
    kpts[:, 0] = torch.tensor([40.0, 52])
    kpts[:, 1] = torch.tensor([60.0, 72])
    kscores = torch.full((3, 2), 0.7)
    return scores, boxes, kpts, kscores, torch.zeros(3, dtype=torch.long)


def test_pipeline_returns_people_in_image_pixels():
    pipe = OneStage(_network, (128, 128), score_thresh=0.1, nms_thresh=0.65)
    image = np.zeros((100, 200, 3), np.uint8)  # 0.64 input px per image px, 32 rows of padding
    people = pipe(image)
    assert len(people) == 1
    assert torch.allclose(people.boxes[0], torch.tensor([50.0, 25, 100, 75]))
    assert torch.allclose(people.keypoints.xy[0], torch.tensor([[62.5, 31.25], [93.75, 62.5]]))
    assert torch.allclose(people.keypoints.conf[0], torch.tensor([0.7, 0.7]))
    assert people.scores.tolist() == pytest.approx([0.9])
    assert set(pipe.timing) == {"preprocess", "network", "decode"}
    # its people's boxes as a top-down detector: x1, y1, x2, y2 and the person score
    boxes = PeopleDetector(pipe)(image)
    assert len(boxes) == 1 and boxes[0].box == pytest.approx((50, 25, 100, 75))
    assert boxes[0].score == pytest.approx(0.9)
    assert PeopleDetector(pipe, score_thresh=0.95)(image) == []


def test_boxes_are_clamped_to_the_input_and_people_can_be_capped():
    def network(x):
        scores = torch.tensor([0.9, 0.8])
        boxes = torch.tensor([[-10.0, 0, 20, 140], [100, 100, 120, 120]])
        return scores, boxes, torch.zeros(2, 1, 2), torch.ones(2, 1), torch.zeros(2)

    image = np.zeros((100, 200, 3), np.uint8)
    people = OneStage(network, (128, 128))(image)
    # clamped to [0, 128] in input pixels, then mapped back (outside the image: padding rows)
    assert torch.allclose(people.boxes[0], torch.tensor([0.0, -50, 31.25, 150]))
    assert len(OneStage(network, (128, 128), max_people=1)(image)) == 1
    with pytest.raises(ValueError, match="max_people"):
        OneStage(network, (128, 128), max_people=-1)


def test_pipeline_rejects_non_bgr_uint8():
    pipe = OneStage(_network, (128, 128))
    with pytest.raises(ValueError, match="BGR uint8"):
        pipe(np.zeros((10, 10), np.uint8))


@pytest.mark.parametrize("shape, rows, cols", [
    ((100, 400, 3), (28, 68), (0, 160)),  # wide image: 160 x 40, centred vertically
    ((300, 60, 3), (0, 96), (71, 89)),  # tall image: 19.2 x 96, centred horizontally
])
def test_center_resize_into_a_non_square_input(shape, rows, cols):
    image = np.zeros(shape, np.uint8)
    image[:, : shape[1] // 2] = 50  # left half darker: a transposed resize would show
    image[:, shape[1] // 2:] = 200
    out, _, _ = center_resize(image, (160, 96))  # (w, h)
    assert out.shape == (96, 160, 3)
    (r0, r1), (c0, c1) = rows, cols
    mid = (c0 + c1) // 2
    assert (out[r0 + 1: r1 - 1, c0 + 1: mid - 1] == 50).all()
    assert (out[r0 + 1: r1 - 1, mid + 1: c1 - 1] == 200).all()
    assert (out[: max(r0 - 1, 0)] == LETTERBOX_PAD).all()
    assert (out[r1 + 1:] == LETTERBOX_PAD).all()
    assert (out[:, : max(c0 - 1, 0)] == LETTERBOX_PAD).all()
    assert (out[:, c1 + 1:] == LETTERBOX_PAD).all()


def test_non_square_input_and_image_keep_x_and_y_apart():
    """Input (w 160, h 96), image 100 x 320 (h, w), fitted and centred: image = 2·input in x,
    2·input − 46 in y. Boxes are clamped to the input's width in x and its height in y before
    mapping back (as MMPose), and keypoints are not transposed."""

    def network(x):
        assert x.shape == (1, 3, 96, 160)  # (h, w): the input is not transposed
        scores = torch.tensor([0.9])
        boxes = torch.tensor([[100.0, 10, 170, 60]])  # beyond the input's right edge
        kpts = torch.tensor([[[150.0, 40], [20, 45]]])
        return scores, boxes, kpts, torch.full((1, 2), 0.7)

    people = OneStage(network, (160, 96))(np.zeros((100, 320, 3), np.uint8))
    assert people.boxes[0].tolist() == [200.0, -26.0, 320.0, 74.0]
    assert people.keypoints.xy[0].tolist() == [[300.0, 34.0], [40.0, 44.0]]
