"""OKS NMS known answers (issue 12 mutation audit: one person's area instead of the mean)."""

import numpy as np
import pytest

from posekit.pipelines.nms import oks_nms, oks_one_to_many
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
