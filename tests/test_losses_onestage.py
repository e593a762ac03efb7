"""Known answers for the one-stage (RTMO) losses."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from posekit.losses import (
    box_iou_pairs,
    iou_loss,
    mle_coordinate_loss,
    oks_loss,
    varifocal_loss,
    visibility_bce_loss,
)


def _mle_inputs(prob_x, prob_y, sigma, mu=(5.0, 5.0), area=100.0):
    bins = torch.arange(11, dtype=torch.float32)[None]  # 0..10
    target = torch.tensor([[list(mu)]])
    sig = torch.tensor([[sigma]], requires_grad=True)
    return (prob_x[None, None], prob_y[None, None], bins, bins, sig, target,
            torch.ones(1, 1), torch.tensor([area])), sig


def _peaked(width: float, centre: float = 5.0) -> torch.Tensor:
    x = torch.arange(11, dtype=torch.float32)
    return torch.softmax(-((x - centre) ** 2) / (2 * width**2), 0)


def test_mle_known_value_one_hot():
    # p̂ one-hot at μ: likelihood per axis = 1/σ · exp(0) → loss = −log(1/σ² + 1e-4).
    onehot = F.one_hot(torch.tensor(5), 11).float()
    args, _ = _mle_inputs(onehot, onehot, 0.05)
    assert mle_coordinate_loss(*args).item() == pytest.approx(-math.log(1 / 0.05**2 + 1e-4),
                                                              rel=1e-5)


def test_mle_off_centre_uses_size_normaliser():
    # one-hot 3 bins from μ, s = √100 = 10, σ = 0.1: t = exp(−3 / (2·0.1·10)) / 0.1 per axis.
    hot = F.one_hot(torch.tensor(8), 11).float()
    args, _ = _mle_inputs(hot, hot, 0.1)
    t = math.exp(-3 / (2 * 0.1 * 10)) / 0.1
    assert mle_coordinate_loss(*args).item() == pytest.approx(-math.log(t * t + 1e-4), rel=1e-5)


def test_mle_falls_as_prediction_concentrates_at_mu():
    losses = []
    for width in (4.0, 2.0, 1.0, 0.5, 0.2):
        p = _peaked(width)
        args, _ = _mle_inputs(p, p, 0.05)
        losses.append(mle_coordinate_loss(*args).item())
    assert all(a > b for a, b in zip(losses, losses[1:], strict=False))
    # and a prediction concentrated elsewhere is worse than a broad one
    far = _peaked(0.2, centre=0.0)
    args, _ = _mle_inputs(far, far, 0.05)
    assert mle_coordinate_loss(*args).item() > losses[0]


def test_mle_sigma_gradient_sign():
    # Accurate prediction: a smaller σ raises the likelihood → dL/dσ > 0.
    onehot = F.one_hot(torch.tensor(5), 11).float()
    args, sig = _mle_inputs(onehot, onehot, 0.05)
    mle_coordinate_loss(*args).backward()
    assert sig.grad.item() > 0
    # Prediction far from μ: a larger σ explains the error → dL/dσ < 0.
    far = F.one_hot(torch.tensor(0), 11).float()
    args, sig = _mle_inputs(far, far, 0.05)
    mle_coordinate_loss(*args).backward()
    assert sig.grad.item() < 0


def test_mle_visibility_weight_and_clamps():
    onehot = F.one_hot(torch.tensor(5), 11).float()
    args, _ = _mle_inputs(onehot, onehot, 0.0, area=0.0)
    args = list(args)
    # σ clamps at 1e-3 and area at 1: loss = −log(1/1e-6 + 1e-4)
    assert mle_coordinate_loss(*args).item() == pytest.approx(-math.log(1e6 + 1e-4), rel=1e-5)
    args[6] = torch.zeros(1, 1)
    assert mle_coordinate_loss(*args).item() == 0.0


def test_varifocal_hand_computed():
    logits = torch.tensor([0.0, 2.0])
    targets = torch.tensor([0.6, 0.0])
    p1 = 1 / (1 + math.exp(-2.0))
    pos = -(0.6 * math.log(0.5) + 0.4 * math.log(0.5)) * 0.6  # BCE × q
    neg = -math.log(1 - p1) * 0.75 * p1**2  # BCE × α p^γ
    assert varifocal_loss(logits, targets).item() == pytest.approx(pos + neg, rel=1e-5)


def test_iou_and_iou_loss():
    a = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    b = torch.tensor([[1.0, 0.0, 3.0, 2.0]])
    assert box_iou_pairs(a, b).item() == pytest.approx(2 / 6)
    assert iou_loss(a, b).item() == pytest.approx(1 - (1 / 3) ** 2)
    assert iou_loss(a, a).item() == pytest.approx(0.0, abs=1e-6)


def test_oks_loss_hand_computed_and_masked():
    sigmas = torch.tensor([0.1, 0.2])
    target = torch.zeros(1, 2, 2)
    pred = torch.tensor([[[3.0, 4.0], [100.0, 100.0]]])  # d² = 25 on keypoint 0
    area = torch.tensor([50.0])
    w = torch.tensor([[1.0, 0.0]])  # keypoint 1 unlabelled: ignored
    expect = math.exp(-25 / (2 * 50 * 0.2**2)) / 2  # averaged over K = 2 (MMPose's OKSLoss)
    assert oks_loss(pred, target, w, area, sigmas).item() == pytest.approx(1 - expect, rel=1e-5)


def test_visibility_bce():
    logits = torch.tensor([[0.0, 3.0]])
    vis = torch.tensor([[1.0, 0.0]])
    expect = (math.log(2) + math.log(1 + math.exp(3))) / 2
    assert visibility_bce_loss(logits, vis).item() == pytest.approx(expect, rel=1e-5)
