import pytest
import torch

from posekit.losses import KeypointMSELoss, MultiStageLoss, OHKMLoss, masked_l2_loss


def _maps(b=2, k=4, h=3, w=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, k, h, w, generator=g), torch.rand(b, k, h, w, generator=g)


# ---- KeypointMSELoss ------------------------------------------------------------------------


def test_mse_known_answer_hand_computed():
    out = torch.zeros(1, 2, 1, 2)
    tgt = torch.tensor([[[[1.0, 2.0]], [[3.0, 0.0]]]])
    w = torch.tensor([[1.0, 0.5]])
    # squared errors (1, 4 | 9, 0) weighted (1, 1 | .5, .5) → (1 + 4 + 4.5) / 4 elements
    assert KeypointMSELoss()(out, tgt, w).item() == pytest.approx(9.5 / 4)
    assert KeypointMSELoss(loss_weight=2.0)(out, tgt, w).item() == pytest.approx(9.5 / 2)
    mask = torch.tensor([[[[0.0, 1.0]]]])  # (B, 1, H, W): first pixel unannotated
    assert KeypointMSELoss()(out, tgt, w, mask).item() == pytest.approx((4 + 0) / 4)


def test_mse_all_ones_weights_equal_plain_mse():
    out, tgt = _maps()
    ones = torch.ones(2, 4)
    plain = torch.nn.functional.mse_loss(out, tgt)
    torch.testing.assert_close(KeypointMSELoss()(out, tgt, ones), plain)
    torch.testing.assert_close(KeypointMSELoss(use_target_weight=False)(out, tgt), plain)
    # use_target_weight=False ignores the weights it is given
    torch.testing.assert_close(
        KeypointMSELoss(use_target_weight=False)(out, tgt, torch.zeros(2, 4)), plain)


def test_mse_weight_zero_keypoint_contributes_nothing():
    out, tgt = _maps()
    w = torch.ones(2, 4)
    w[1, 2] = 0.0
    base = KeypointMSELoss()(out, tgt, w)
    out2 = out.clone()
    out2[1, 2] += 100.0  # any prediction on the ignored keypoint
    torch.testing.assert_close(KeypointMSELoss()(out2, tgt, w), base)


def test_mse_masked_pixels_contribute_nothing():
    out, tgt = _maps()
    mask = torch.ones(2, 1, 3, 5)
    mask[0, 0, 1, 2] = 0.0
    mask[1, 0, :, 0] = 0.0
    base = KeypointMSELoss()(out, tgt, torch.ones(2, 4), mask)
    out2 = out.clone()
    out2[0, :, 1, 2] = -50.0
    out2[1, :, :, 0] = 7.0
    torch.testing.assert_close(KeypointMSELoss()(out2, tgt, torch.ones(2, 4), mask), base)
    # a per-channel (B, K, H, W) mask works the same way
    full = mask.expand(2, 4, 3, 5)
    torch.testing.assert_close(KeypointMSELoss()(out2, tgt, torch.ones(2, 4), full), base)


def test_mse_gradient_only_where_weight_and_mask_positive():
    out, tgt = _maps()
    out.requires_grad_(True)
    w = torch.tensor([[1.0, 0.0, 1.0, 1.0], [1.0, 1.0, 1.0, 0.0]])
    mask = torch.ones(2, 1, 3, 5)
    mask[0, 0, 0, 0] = 0.0
    KeypointMSELoss()(out, tgt, w, mask).backward()
    expected = 2 * (out - tgt).detach() * w[:, :, None, None] * mask / out.numel()
    torch.testing.assert_close(out.grad, expected)
    assert out.grad[0, 1].abs().sum() == 0 and out.grad[1, 3].abs().sum() == 0
    assert out.grad[0, :, 0, 0].abs().sum() == 0
    assert (out.grad[0, 0] != 0).sum() == 14


def test_mse_background_channel_gets_weight_one():
    out, tgt = _maps(k=3)
    w = torch.tensor([[1.0, 0.0], [1.0, 1.0]])  # (B, K) for K = 2 keypoints + background
    full = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    torch.testing.assert_close(KeypointMSELoss()(out, tgt, w), KeypointMSELoss()(out, tgt, full))


def test_mse_shape_errors():
    out, tgt = _maps()
    with pytest.raises(ValueError, match=r"same \(B, C, H, W\) shape, got \(2, 4, 3, 5\) and"):
        KeypointMSELoss()(out, tgt[:, :3], torch.ones(2, 4))
    with pytest.raises(ValueError, match=r"target_weights must be .*got \(2, 7\)"):
        KeypointMSELoss()(out, tgt, torch.ones(2, 7))
    with pytest.raises(ValueError, match=r"mask must be .*got \(2, 2, 3, 5\)"):
        KeypointMSELoss()(out, tgt, torch.ones(2, 4), torch.ones(2, 2, 3, 5))
    with pytest.raises(ValueError, match="use_target_weight=True needs target_weights"):
        KeypointMSELoss()(out, tgt)


# ---- MultiStageLoss ---------------------------------------------------------------------


def test_stage_sum_equals_sum_of_stages():
    _, tgt = _maps()
    stages = [_maps(seed=s)[0] for s in (1, 2, 3)]
    w = torch.rand(2, 4)
    f = KeypointMSELoss()
    total = MultiStageLoss(f)(stages, tgt, w)
    torch.testing.assert_close(total, sum(f(s, tgt, w) for s in stages))
    weighted = MultiStageLoss(f, weights=[0.5, 1.0, 2.0])(stages, tgt, w)
    expected = 0.5 * f(stages[0], tgt, w) + f(stages[1], tgt, w) + 2.0 * f(stages[2], tgt, w)
    torch.testing.assert_close(weighted, expected)
    # one tensor is one stage; keyword arguments reach every stage
    torch.testing.assert_close(MultiStageLoss(f)(stages[0], tgt, target_weights=w),
                               f(stages[0], tgt, w))


def test_stage_sum_supervises_every_stage():
    _, tgt = _maps()
    stages = [_maps(seed=s)[0].requires_grad_(True) for s in (1, 2)]
    MultiStageLoss(KeypointMSELoss(use_target_weight=False))(stages, tgt).backward()
    assert all(s.grad is not None and s.grad.abs().sum() > 0 for s in stages)


def test_stage_errors():
    _, tgt = _maps()
    with pytest.raises(ValueError, match="2 stage weights for 3 stage outputs"):
        MultiStageLoss(KeypointMSELoss(), weights=[1, 1])([tgt] * 3, tgt, torch.ones(2, 4))
    with pytest.raises(ValueError, match="empty"):
        MultiStageLoss(KeypointMSELoss())([], tgt, torch.ones(2, 4))


# ---- OHKMLoss -----------------------------------------------------------------------------


def test_ohkm_keeps_the_hardest_keypoints_hand_example():
    tgt = torch.zeros(2, 4, 1, 2)
    out = torch.zeros(2, 4, 1, 2)
    # per-keypoint MSE: sample 0 → (1, 9, 4, 0), sample 1 → (16, 0, 1, 4)
    out[0, 0], out[0, 1], out[0, 2] = 1.0, 3.0, 2.0
    out[1, 0], out[1, 2], out[1, 3] = 4.0, 1.0, 2.0
    w = torch.ones(2, 4)
    loss = OHKMLoss(topk=2)(out, tgt, w)
    assert loss.item() == pytest.approx(((9 + 4) / 2 + (16 + 4) / 2) / 2)
    # a weight of 0 removes a keypoint from the ranking; weights enter squared (MMPose)
    w[0, 1] = 0.0
    w[1, 0] = 0.5
    loss = OHKMLoss(topk=2)(out, tgt, w)
    assert loss.item() == pytest.approx(((4 + 1) / 2 + (4 + 4) / 2) / 2)
    assert OHKMLoss(topk=4, use_target_weight=False)(out, tgt).item() == pytest.approx(
        ((1 + 9 + 4 + 0) / 4 + (16 + 0 + 1 + 4) / 4) / 2)


def test_ohkm_topk_equal_k_is_weighted_mse_with_squared_weights():
    out, tgt = _maps()
    w = torch.rand(2, 4)
    expected = (((out - tgt) * w[:, :, None, None]) ** 2).mean()
    torch.testing.assert_close(OHKMLoss(topk=4)(out, tgt, w), expected)


def test_ohkm_gradient_only_for_selected_keypoints():
    out, tgt = torch.zeros(1, 4, 2, 2, requires_grad=True), torch.zeros(1, 4, 2, 2)
    tgt[0, 1], tgt[0, 3] = 1.0, 2.0
    OHKMLoss(topk=2)(out, tgt, torch.ones(1, 4)).backward()
    assert out.grad[0, 0].abs().sum() == 0 and out.grad[0, 2].abs().sum() == 0
    assert (out.grad[0, 1] != 0).all() and (out.grad[0, 3] != 0).all()


def test_ohkm_errors():
    out, tgt = _maps(k=4)
    with pytest.raises(ValueError, match=r"topk \(8\) exceeds the number of keypoints \(4\)"):
        OHKMLoss(topk=8)(out, tgt, torch.ones(2, 4))
    with pytest.raises(ValueError, match="topk must be a positive integer, got 0"):
        OHKMLoss(topk=0)


# ---- masked_l2_loss (OpenPose) ----------------------------------------------------------------


def test_masked_l2_known_answer_sums_stages():
    pafs = torch.zeros(1, 2, 1, 2)
    heatmaps = torch.tensor([[[[1.0, 2.0]]]])  # (B, 1, H, W)
    mask = torch.tensor([[[1.0, 0.0]]])  # (B, H, W): second pixel unannotated
    paf_stage = torch.tensor([[[[2.0, 5.0]], [[1.0, 7.0]]]])  # squared errors (4, ·), (1, ·)
    hm_stage = torch.zeros(1, 1, 1, 2)  # squared errors (1, ·)
    # each stage: Σ over channels, mean over the B·H·W pixels, masked ones count as zeros
    loss = masked_l2_loss(([paf_stage, paf_stage], [hm_stage]), pafs, heatmaps, mask)
    assert loss.item() == pytest.approx(2 * (4 + 1) / 2 + 1 / 2)
