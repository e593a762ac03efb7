"""RTMO-m/l's criterion options: the box-centre SimOTA prior and the second phase's
overlaps_power (MMPose's rtmo-m/l configs: use_keypoints_for_center off, overlaps_power 1.0 from
epoch 280)."""

from __future__ import annotations

import torch

from posekit.models.rtmo_criterion import LOSS_NAMES, RTMOCriterion, SimOTAAssigner

SIGMAS = torch.full((2,), 0.1)


def test_box_centre_prior_when_keypoints_are_not_used():
    # the anchor at (95, 30) is outside the box, within
    # 2.5 strides (40 px) of the keypoints' mean (90, 10) but 45 px from the box centre (50, 10)
    box = torch.tensor([[0.0, 0, 100, 20]])
    kpts = torch.tensor([[[85.0, 5, 2], [95, 15, 1]]])
    area = torch.tensor([2000.0])
    priors = torch.tensor([[95.0, 30, 16]])
    args = (priors, torch.tensor([0.5]), box, kpts[0, :, :2][None], box, kpts, area)
    assert SimOTAAssigner(SIGMAS).assign(*args).tolist() == [0]
    assert SimOTAAssigner(SIGMAS, keypoints_for_center=False).assign(*args).tolist() == [-1]


def test_second_phase_switches_overlaps_power():
    weights = dict.fromkeys(LOSS_NAMES, 1.0)
    criterion = RTMOCriterion(SIGMAS, loss_weights=weights, stage2_epoch=2,
                              overlaps_power=0.5, stage2_overlaps_power=1.0)
    assert criterion.overlaps_power == 0.5
    criterion.set_epoch(2)
    assert criterion.overlaps_power == 1.0
    criterion.set_epoch(1)
    assert criterion.overlaps_power == 0.5
    kept = RTMOCriterion(SIGMAS, loss_weights=weights, stage2_epoch=2, overlaps_power=0.5)
    kept.set_epoch(5)
    assert kept.overlaps_power == 0.5  # negative stage2_overlaps_power: unchanged
