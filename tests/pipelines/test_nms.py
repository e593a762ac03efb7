"""Box NMS and OKS NMS known answers (OKS NMS scales by the mean of the two people's areas)."""

import numpy as np
import pytest

from posekit.pipelines.nms import box_nms, oks_nms, oks_one_to_many
from posekit.skeletons import COCO17

SIGMAS = COCO17.oks_sigmas()


def _person(dx: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(0)
    xy = rng.uniform(100, 200, size=(17, 2))
    xy[:, 0] += dx
    return np.concatenate([xy, np.ones((17, 1))], axis=1)


def _expected(d: float, area: float) -> float:
    # cocoapi OKS: mean_k exp(-d² / (2 · area · (2σ_k)²))
    return float(np.mean(np.exp(-(d**2) / (2 * area * (2 * SIGMAS) ** 2))))


def test_scale_is_the_mean_of_the_two_areas():
    ref, other = _person(), _person(dx=6.0)[None]
    got = oks_one_to_many(ref, other, 900.0, np.array([2500.0]), SIGMAS)
    assert got[0] == pytest.approx(_expected(6.0, (900 + 2500) / 2), rel=1e-6)
    # symmetric in the two people, so the NMS order cannot change the similarity
    back = oks_one_to_many(other[0], ref[None], 2500.0, np.array([900.0]), SIGMAS)
    assert back[0] == pytest.approx(got[0], rel=1e-9)


def test_nms_decision_depends_on_the_mean_area():
    """A threshold between the OKS at the mean area and at either single area: only the mean
    gives this keep/drop pattern."""
    kpts = np.stack([_person(), _person(dx=6.0)])
    areas = np.array([900.0, 2500.0])
    at_mean, at_small, at_big = (_expected(6.0, a) for a in (1700.0, 900.0, 2500.0))
    assert at_small < at_mean < at_big
    scores = np.array([0.9, 0.8])
    # just above the mean-area OKS: the second person is kept; just below: it is suppressed
    assert oks_nms(kpts, scores, areas, SIGMAS, at_mean + 1e-4).tolist() == [0, 1]
    assert oks_nms(kpts, scores, areas, SIGMAS, at_mean - 1e-4).tolist() == [0]
    # the same with the scores swapped (the larger person is now the reference)
    assert oks_nms(kpts, scores[::-1].copy(), areas, SIGMAS, at_mean + 1e-4).tolist() == [1, 0]
    assert oks_nms(kpts, scores[::-1].copy(), areas, SIGMAS, at_mean - 1e-4).tolist() == [1]


def test_box_nms_known_case():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [0, 0, 10, 10.0]])
    scores = np.array([0.5, 0.9, 0.3, 0.2])
    # box 1 (best) suppresses 0 (IoU 9/11) and 3 (same as 0); box 2 is disjoint
    assert box_nms(boxes, scores, 0.65).tolist() == [1, 2]
    # at a threshold above 9/11 box 0 survives, box 3 (IoU 1 with 0) still does not
    assert box_nms(boxes, scores, 0.85).tolist() == [1, 0, 2]
    assert box_nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []
