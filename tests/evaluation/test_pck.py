"""PCK / PCKh known answers and the greedy OKS matcher."""

from __future__ import annotations

import math

import numpy as np
import pytest

from posekit.evaluation.pck import match_by_oks, pck, pck_bbox, pckh


def _one_person():
    gt = np.array([[[0, 0, 2], [10, 0, 2], [0, 10, 1]]], dtype=float)  # (1, 3, 3)
    pred = np.array([[[3, 4], [10, 6], [0, 10]]], dtype=float)  # errors 5, 6, 0 px
    return pred, gt


def test_pck_bbox_known_answer():
    pred, gt = _one_person()
    # max(w, h) = 10, α = 0.5 → threshold 5 px: the 5 px error is inside (≤), 6 px is not.
    result = pck_bbox(pred, gt, np.array([[0, 0, 10, 8]]), alpha=0.5)
    np.testing.assert_array_equal(result.per_keypoint, [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(result.counts, [1, 1, 1])
    assert result.mean == pytest.approx(2 / 3)
    # α = 0.2 → 2 px: only the exact point is correct.
    assert pck_bbox(pred, gt, np.array([[0, 0, 8, 10]]), alpha=0.2).mean == pytest.approx(1 / 3)


def test_pckh_uses_head_size():
    pred, gt = _one_person()
    assert pckh(pred, gt, np.array([12.0])).mean == pytest.approx(1.0)  # 0.5 × 12 = 6 px
    assert pckh(pred, gt, np.array([11.0])).mean == pytest.approx(2 / 3)  # 5.5 px


def test_unlabelled_missing_and_unscaled_people():
    gt = np.array([
        [[0, 0, 2], [5, 5, 0], [9, 9, 2]],    # keypoint 1 unlabelled: not scored
        [[0, 0, 2], [1, 1, 2], [2, 2, 2]],    # no prediction (NaN): all misses
        [[0, 0, 2], [1, 1, 2], [2, 2, 2]],    # normaliser 0: left out entirely
    ], dtype=float)
    pred = np.array([
        [[0, 0], [100, 100], [9, 20]],
        [[np.nan, np.nan]] * 3,
        [[0, 0], [1, 1], [2, 2]],
    ], dtype=float)
    result = pck(pred, gt, np.array([10.0, 10.0, 0.0]), alpha=0.5)
    np.testing.assert_array_equal(result.counts, [2, 1, 2])
    np.testing.assert_array_equal(result.per_keypoint, [0.5, 0.0, 0.0])
    assert result.mean == pytest.approx(1 / 5)  # count-weighted: 1 hit of 5 scored keypoints
    masked = pck(pred, gt, np.array([10.0, 10.0, 0.0]), 0.5,
                 mask=np.array([[True, True, True], [False] * 3, [True] * 3]))
    assert masked.mean == pytest.approx(1 / 2)


def test_never_labelled_keypoint_is_nan():
    gt = np.array([[[0, 0, 2], [0, 0, 0]]], dtype=float)
    result = pck(np.zeros((1, 2, 2)), gt, np.array([1.0]), 0.1)
    assert result.per_keypoint[0] == 1.0 and math.isnan(result.per_keypoint[1])
    assert math.isnan(pck(np.zeros((1, 2, 2)), np.zeros((1, 2, 3)), np.ones(1), 0.1).mean)


def test_shape_errors():
    with pytest.raises(ValueError, match=r"gt must be \(N, K, 3\)"):
        pck(np.zeros((1, 2, 2)), np.zeros((1, 2, 2)), np.ones(1), 0.2)
    with pytest.raises(ValueError, match=r"pred must be \(N, K, 2\) matching"):
        pck(np.zeros((1, 3, 2)), np.zeros((1, 2, 3)), np.ones(1), 0.2)
    with pytest.raises(ValueError, match=r"normalizer must be \(1,\)"):
        pck(np.zeros((1, 2, 2)), np.zeros((1, 2, 3)), np.ones(2), 0.2)


def test_match_by_oks_greedy_by_score():
    sig = np.full(1, 0.1)
    gt = np.array([[[0, 0, 2]], [[10, 0, 2]]], dtype=float)
    areas = np.array([100.0, 100.0])
    # Prediction 0 (score 0.9) sits between both, nearer GT 1; prediction 1 (0.8) on GT 1;
    # prediction 2 is far from everyone; prediction 3 has no confident keypoint.
    pred = np.array([[[6, 0, 1]], [[10, 0, 1]], [[500, 500, 1]], [[9, 0, 0]]], dtype=float)
    scores = np.array([0.9, 0.8, 0.99, 1.0])
    np.testing.assert_array_equal(match_by_oks(pred, scores, gt, areas, sig), [1, 0])
    # Lower the first prediction's score and the exact one takes GT 1 first.
    scores[0] = 0.7
    np.testing.assert_array_equal(match_by_oks(pred, scores, gt, areas, sig), [0, 1])
    # With a high minimum OKS the 4-px-off guess is refused.
    np.testing.assert_array_equal(match_by_oks(pred, scores, gt, areas, sig, min_oks=0.5), [-1, 1])
    empty = match_by_oks(np.zeros((0, 1, 3)), np.zeros(0), gt, areas, sig)
    np.testing.assert_array_equal(empty, [-1, -1])
