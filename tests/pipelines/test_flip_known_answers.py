"""Flip-test heatmaps: the non-UDP shift goes one pixel RIGHT (MMPose), and flip∘flip = id."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from posekit.pipelines.topdown import flip_heatmaps


def test_non_udp_shift_moves_the_peak_right():
    w = 8
    hm = torch.zeros(1, 1, 3, w)
    hm[0, 0, 1, 3] = 1.0
    out = flip_heatmaps(hm, [0], shift=True)
    # mirrored: x = w - 1 - 3 = 4; then shifted one pixel right: 5
    assert out[0, 0].argmax().item() == 1 * w + 5
    assert flip_heatmaps(hm, [0], shift=False)[0, 0].argmax().item() == 1 * w + 4
    # column 0 is kept (copied), the last column falls off the map
    assert out.shape == hm.shape
    edge = torch.zeros(1, 1, 1, w)
    edge[0, 0, 0, 0] = 2.0  # mirrored to column 7, shifted out of the map
    assert flip_heatmaps(edge, [0], shift=True).abs().sum() == 0


@settings(max_examples=30, deadline=None)
@given(k=st.integers(1, 5), h=st.integers(1, 6), w=st.integers(1, 9), seed=st.integers(0, 99))
def test_flip_twice_is_identity_without_shift(k, h, w, seed):
    g = torch.Generator().manual_seed(seed)
    hm = torch.rand(2, k, h, w, generator=g)
    perm = torch.randperm(k, generator=g)
    # a valid flip permutation is an involution: pair up a random permutation's cycles
    flip = list(range(k))
    for i in range(0, k - 1, 2):
        a, b = int(perm[i]), int(perm[i + 1])
        flip[a], flip[b] = b, a
    torch.testing.assert_close(flip_heatmaps(flip_heatmaps(hm, flip, False), flip, False), hm)
