"""One-stage pipeline: letterbox, decoding to image pixels, its people as boxes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posekit.pipelines.detectors import PeopleDetector
from posekit.pipelines.onestage import LETTERBOX_PAD, OneStage, letterbox


def test_letterbox_scale_and_padding():
    image = np.full((100, 200, 3), 7, np.uint8)
    out, scale = letterbox(image, (128, 128))
    assert scale == pytest.approx(0.64)
    assert out.shape == (128, 128, 3)
    assert (out[:64] == 7).all()  # 100·0.64 = 64 rows of image at the top
    assert (out[64:] == LETTERBOX_PAD).all()  # padding at the bottom only


def _network(x: torch.Tensor):
    """Dense outputs in input pixels: two duplicates of one person, one low-score location."""
    assert x.shape == (1, 3, 128, 128)
    scores = torch.tensor([[0.9, 0.8, 0.05]])
    boxes = torch.tensor([[[32.0, 16, 64, 48], [33, 16, 64, 48], [0, 0, 5, 5]]])
    kpts = torch.zeros(1, 3, 2, 2)
    kpts[0, :, 0] = torch.tensor([40.0, 20])
    kpts[0, :, 1] = torch.tensor([60.0, 40])
    kscores = torch.full((1, 3, 2), 0.7)
    return scores, boxes, kpts, kscores


def test_pipeline_returns_people_in_image_pixels():
    pipe = OneStage(_network, (128, 128), score_thresh=0.1, nms_thresh=0.65)
    image = np.zeros((100, 200, 3), np.uint8)  # scale 0.64
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


def test_pipeline_rejects_non_bgr_uint8():
    pipe = OneStage(_network, (128, 128))
    with pytest.raises(ValueError, match="BGR uint8"):
        pipe(np.zeros((10, 10), np.uint8))


@pytest.mark.parametrize("shape, scale, rows, cols", [
    ((100, 400, 3), 0.4, 40, 160),  # wide image: width-bound, padding below
    ((300, 60, 3), 0.32, 96, 19),  # tall image: height-bound, padding on the right
])
def test_letterbox_into_a_non_square_input(shape, scale, rows, cols):
    image = np.zeros(shape, np.uint8)
    image[:, : shape[1] // 2] = 50  # left half darker: a transposed resize would show
    image[:, shape[1] // 2:] = 200
    out, got = letterbox(image, (160, 96))  # (w, h)
    assert out.shape == (96, 160, 3) and got == pytest.approx(scale)
    assert (out[:rows, : cols // 2 - 1] == 50).all()
    assert (out[:rows, cols // 2 + 1: cols] == 200).all()
    assert (out[rows:] == LETTERBOX_PAD).all() and (out[:, cols:] == LETTERBOX_PAD).all()


def test_non_square_input_and_image_keep_x_and_y_apart():
    """Input (w 160, h 96), image 100 x 320 (h, w): scale 0.5. Boxes are clipped to the
    image's width in x and its height in y, and keypoints are not transposed."""

    def network(x):
        assert x.shape == (1, 3, 96, 160)  # (h, w): the letterbox is not transposed
        scores = torch.tensor([[0.9]])
        boxes = torch.tensor([[[100.0, 10, 170, 60]]])  # beyond the image's right and bottom
        kpts = torch.tensor([[[[150.0, 40], [20, 45]]]])
        return scores, boxes, kpts, torch.full((1, 1, 2), 0.7)

    people = OneStage(network, (160, 96))(np.zeros((100, 320, 3), np.uint8))
    assert people.boxes[0].tolist() == [200.0, 20.0, 320.0, 100.0]
    assert people.keypoints.xy[0].tolist() == [[300.0, 80.0], [40.0, 90.0]]
