"""OHKM honours the pixel mask (mutation audit: OHKM ignoring the mask passed)."""

import pytest
import torch

from posekit.losses import OHKMLoss


def test_ohkm_masked_pixels_neither_count_nor_rank():
    out, tgt = torch.zeros(1, 3, 1, 2), torch.zeros(1, 3, 1, 2)
    out[0, 0, 0, 0] = 10.0  # a huge error on keypoint 0, but in an unannotated pixel
    out[0, 1, 0, 1] = 2.0
    out[0, 2, 0, 1] = 1.0
    mask = torch.tensor([[[[0.0, 1.0]]]])  # (B, 1, H, W): pixel 0 unannotated
    w = torch.ones(1, 3)
    # per-keypoint loss with the mask: (0, 4/2, 1/2) → top-2 mean = (2 + 0.5) / 2
    assert OHKMLoss(topk=2)(out, tgt, w, mask).item() == pytest.approx(1.25)
    # without it, keypoint 0 (100/2) would dominate
    assert OHKMLoss(topk=2)(out, tgt, w).item() == pytest.approx((50 + 2) / 2)
    # a per-keypoint (B, K, H, W) mask
    full = torch.ones(1, 3, 1, 2)
    full[0, 1] = 0.0
    assert OHKMLoss(topk=2)(out, tgt, w, full).item() == pytest.approx((50 + 0.5) / 2)
