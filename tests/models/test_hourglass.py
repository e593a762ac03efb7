"""Stacked hourglass: per-stack outputs, odd sizes, recursion, re-injection, paper size."""

from __future__ import annotations

import pytest
import torch

from posekit.models import build_model, count_params
from posekit.models.hourglass import Hourglass, StackedHourglass

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_heatmaps_start_near_zero():
    """Score convs start at MMPose's head init N(0, 0.001²): the first maps are ≈ 0, not the
    ≈ 0.4-std noise of PyTorch's default init (4× a Gaussian target's std)."""
    model = build_model("hourglass_tiny", num_stacks=2).train()
    with torch.no_grad():
        outs = model(torch.randn(4, 3, 128, 96))
    assert all(o.std().item() < 0.02 for o in outs)
    assert all(conv.bias.abs().max() == 0 for conv in model.scores)


@pytest.mark.parametrize("stacks", [1, 2, 4])
def test_one_heatmap_per_stack_at_stride_4(stacks):
    model = build_model("hourglass_tiny", num_stacks=stacks).eval()
    with torch.no_grad():
        outs = model(torch.randn(2, 3, 128, 96))
    assert len(outs) == stacks
    assert all(o.shape == (2, 17, 32, 24) for o in outs)


@pytest.mark.parametrize("size", [(13, 11), (15, 9), (9, 16), (11, 19)])
def test_hourglass_keeps_odd_sizes(size):
    hg = Hourglass(8, depth=3).eval()
    x = torch.randn(1, 8, *size)
    with torch.no_grad():
        assert hg(x).shape == x.shape


def test_odd_input_image():
    model = build_model("hourglass_tiny", num_stacks=2).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 122, 90))  # stem: 61×45 → 30×22, odd levels below
    assert [o.shape for o in outs] == [(1, 17, 30, 22)] * 2


def test_hourglass_is_skip_plus_nearest_upsample_of_lower_branch():
    """Known answer: with the residual branches zeroed every Residual is the identity, so a
    depth-1 hourglass returns x + nearest_up(maxpool(x)) exactly."""
    hg = Hourglass(2, depth=1).eval()
    for m in hg.modules():
        if hasattr(m, "conv3"):
            torch.nn.init.zeros_(m.conv3.weight)
            torch.nn.init.zeros_(m.conv3.bias)
    x = torch.arange(20.0).reshape(1, 1, 5, 4).repeat(1, 2, 1, 1)
    pooled = torch.tensor([[5.0, 7.0], [13.0, 15.0]])  # 2×2 max-pool, last row dropped
    # nearest from 2 to 5 rows takes source row ⌊i · 2/5⌋ = 0, 0, 0, 1, 1; columns 0, 0, 1, 1
    up = pooled[[0, 0, 0, 1, 1]][:, [0, 0, 1, 1]]
    with torch.no_grad():
        assert torch.equal(hg(x)[0, 1], x[0, 0] + up)


def test_prediction_is_reinjected_into_next_stack():
    model = build_model("hourglass_tiny", num_stacks=2).eval()
    x = torch.randn(1, 3, 64, 48)
    with torch.no_grad():
        before = model(x)
        model.reinject_scores[0].weight.mul_(3.0)
        after = model(x)
    assert torch.equal(before[0], after[0])  # the first stack does not see it
    assert (before[1] - after[1]).abs().max() > 1e-4  # the second does


def test_paper_size_matches_bearpaw_port():
    counts = {n: count_params(build_model("hourglass_8stack", num_stacks=n)) for n in (1, 2, 4, 8)}
    for n, ref in {1: 3.59e6, 2: 6.73e6, 4: 13.02e6, 8: 25.60e6}.items():
        assert abs(counts[n] - ref) / ref < 0.01, (n, counts[n])


def test_invalid_stacks():
    with pytest.raises(ValueError, match="num_stacks"):
        StackedHourglass(num_stacks=9)
    with pytest.raises(ValueError, match="depth"):
        Hourglass(8, depth=0)
