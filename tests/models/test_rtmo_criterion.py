"""RTMO's criterion: SimOTA-with-OKS assignment on hand-made cases, the loss phases."""

from __future__ import annotations

import pytest
import torch

from posekit.losses import box_iou_pairs
from posekit.models.rtmo_criterion import LOSS_NAMES, RTMOCriterion, SimOTAAssigner

SIGMAS = torch.full((2,), 0.1)


def _priors(points, stride=16.0):
    return torch.tensor([[x, y, stride] for x, y in points], dtype=torch.float32)


def _person(x1, y1, x2, y2):
    box = torch.tensor([[x1, y1, x2, y2]], dtype=torch.float32)
    kpts = torch.tensor([[[x1 + 5, y1 + 5, 2], [x2 - 5, y2 - 5, 2]]], dtype=torch.float32)
    return box, kpts, torch.tensor([(x2 - x1) * (y2 - y1)], dtype=torch.float32)


def test_box_iou_pairs_broadcasts_to_every_pair():
    a = torch.tensor([[0.0, 0, 2, 2], [10, 10, 11, 11]])
    b = torch.tensor([[1.0, 0, 3, 2]])
    iou = box_iou_pairs(a[:, None], b[None])  # (N, G), as the assigner calls it
    assert torch.allclose(iou, torch.tensor([[1 / 3], [0.0]]), atol=1e-6)


def test_good_prediction_inside_wins_and_far_anchor_is_never_positive():
    gb, gk, ga = _person(0, 0, 100, 100)
    # anchor 0 inside with a perfect prediction, anchor 1 inside with a poor one,
    # anchor 2 far outside (neither in box nor near centre) with a perfect prediction.
    priors = _priors([(50, 50), (30, 30), (500, 500)])
    boxes = torch.stack([gb[0], torch.tensor([0.0, 0, 20, 20]), gb[0]])
    kpts = torch.stack([gk[0, :, :2], torch.tensor([[80.0, 80], [10, 10]]), gk[0, :, :2]])
    scores = torch.tensor([0.9, 0.9, 0.9])
    out = SimOTAAssigner(SIGMAS).assign(priors, scores, boxes, kpts, gb, gk, ga)
    assert out[0] == 0
    assert out[2] == -1  # never a candidate
    # dynamic k = ⌊Σ top OKS⌋ = ⌊1 + small⌋ = 1: only the best anchor is positive
    assert out[1] == -1


def test_dynamic_k_grows_with_good_candidates():
    gb, gk, ga = _person(0, 0, 160, 160)
    priors = _priors([(40, 40), (80, 80), (120, 120)])
    boxes = gb.expand(3, 4)
    kpts = gk[0, :, :2].expand(3, 2, 2)
    out = SimOTAAssigner(SIGMAS).assign(priors, torch.full((3,), 0.5), boxes, kpts, gb, gk, ga)
    assert out.tolist() == [0, 0, 0]  # Σ OKS = 3 → k = 3


def test_anchor_claimed_twice_goes_to_cheaper_person():
    ga_box, ga_k, ga_a = _person(0, 0, 100, 100)
    gb_box, gb_k, gb_a = _person(40, 0, 140, 100)
    gboxes, gkpts, gareas = torch.cat([ga_box, gb_box]), torch.cat([ga_k, gb_k]), \
        torch.cat([ga_a, gb_a])
    # one anchor in the overlap whose prediction matches person B exactly
    priors = _priors([(70, 50)])
    out = SimOTAAssigner(SIGMAS).assign(priors, torch.tensor([0.8]), gb_box, gb_k[:, :, :2],
                                        gboxes, gkpts, gareas)
    assert out.tolist() == [1]
    # now predicting person A: it goes to A (the cost, not the index order, decides)
    out = SimOTAAssigner(SIGMAS).assign(priors, torch.tensor([0.8]), ga_box, ga_k[:, :, :2],
                                        gboxes, gkpts, gareas)
    assert out.tolist() == [0]


def test_no_people_means_all_negative():
    priors = _priors([(8, 8), (24, 8)])
    out = SimOTAAssigner(SIGMAS).assign(priors, torch.rand(2), torch.rand(2, 4),
                                        torch.rand(2, 2, 2), torch.zeros(0, 4),
                                        torch.zeros(0, 2, 3), torch.zeros(0))
    assert out.tolist() == [-1, -1]


def test_centre_prior_is_the_mean_of_labelled_keypoints():
    # A wide box whose keypoints sit at its right end: the anchor at (95, 30) is outside the box,
    # within 2.5 strides (40 px) of the keypoints' mean (90, 10) but 45 px from the box centre.
    box = torch.tensor([[0.0, 0, 100, 20]])
    kpts = torch.tensor([[[85.0, 5, 2], [95, 15, 1]]])
    area = torch.tensor([2000.0])
    priors = _priors([(95, 30)])
    args = (torch.tensor([0.5]), box, kpts[0, :, :2][None])
    assert SimOTAAssigner(SIGMAS).assign(priors, *args, box, kpts, area).tolist() == [0]
    # unlabelled keypoints: the box centre is the prior, and the anchor is no candidate
    unlabelled = kpts.clone()
    unlabelled[..., 2] = 0
    assert SimOTAAssigner(SIGMAS).assign(priors, *args, box, unlabelled, area).tolist() == [-1]


def test_phases_switch_the_loss_weights():
    weights = dict.fromkeys(LOSS_NAMES, 1.0)
    criterion = RTMOCriterion(SIGMAS, loss_weights=weights, stage2_loss_weights={"mle": 5.0},
                              stage2_epoch=3)
    assert not criterion.stage2 and criterion.loss_weights["mle"] == 1.0
    criterion.set_epoch(3)
    assert criterion.stage2 and criterion.loss_weights == {**weights, "mle": 5.0}
    criterion.set_epoch(2)
    assert not criterion.stage2 and criterion.loss_weights["mle"] == 1.0
    never = RTMOCriterion(SIGMAS, loss_weights=weights)  # stage2_epoch −1: one phase
    never.set_epoch(10**6)
    assert not never.stage2


def test_loss_weight_names_are_checked():
    with pytest.raises(ValueError, match=r"loss_weights: missing \['iou'"):
        RTMOCriterion(SIGMAS, loss_weights={"cls": 1.0})
    with pytest.raises(ValueError, match="stage2_loss_weights: unknown loss"):
        RTMOCriterion(SIGMAS, loss_weights=dict.fromkeys(LOSS_NAMES, 1.0),
                      stage2_loss_weights={"mse": 1.0})


def test_anchor_must_be_inside_the_box_and_near_the_centre_to_escape_the_penalty():
    """YOLOX's SimOTA rule: the 1e5 cost is lifted only for anchors both inside the box and
    within center_radius strides of the centre. An anchor inside the box but far from the
    centre (and one near the centre but outside the box) keeps it, so a worse prediction at
    the centre wins."""
    gb, gk, ga = _person(0, 0, 200, 100)  # keypoints (5, 5), (195, 95): centre (100, 50)
    # anchor 0: centre, mediocre prediction; anchor 1: inside, 80 px (> 2.5·16) right of the
    # centre, perfect prediction; anchor 2: 30 px above the box (near the centre, outside),
    # perfect prediction.
    priors = _priors([(100, 50), (180, 50), (100, -30)])
    poor_box = torch.tensor([10.0, 10, 190, 90])
    poor_kpts = gk[0, :, :2] + torch.tensor([[12.0, 9], [-12, -9]])
    boxes = torch.stack([poor_box, gb[0], gb[0]])
    kpts = torch.stack([poor_kpts, gk[0, :, :2], gk[0, :, :2]])
    out = SimOTAAssigner(SIGMAS).assign(priors, torch.full((3,), 0.9), boxes, kpts, gb, gk, ga)
    assert out.tolist() == [0, -1, -1]
