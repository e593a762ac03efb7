"""encode → decode recovers the keypoint (hypothesis over positions, sizes and modes)."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from posekit.codecs.heatmap import HeatmapCodec

CODECS = {
    # (refine, udp, unbiased_encoding) → worst error in heatmap pixels
    ("dark", False, True): 0.1,  # DARK: float Gaussian centre, Taylor step on the log map
    ("dark", True, False): 0.1,  # UDP + its DARK variant
    ("quarter", False, False): 0.5 + 0.25,  # integer centre, quarter step toward the neighbour
}


@settings(max_examples=40, deadline=None)
@given(mode=st.sampled_from(sorted(CODECS)), fx=st.floats(0.3, 0.7), fy=st.floats(0.3, 0.7),
       stride=st.sampled_from([2, 4]), hw=st.integers(24, 40))
def test_encode_then_decode_returns_the_point(mode, fx, fy, stride, hw):
    """Anywhere at least 3σ from the map's border (where the Gaussian is whole)."""
    refine, udp, unbiased = mode
    hh = hw + 4
    codec = HeatmapCodec((hw * stride, hh * stride), (hw, hh), sigma=2.0, refine=refine,
                         udp=udp, unbiased_encoding=unbiased)
    w_in, h_in = codec.input_size
    xy = torch.tensor([[[fx * (w_in - 1), fy * (h_in - 1)]]])  # (N=1, K=1, 2) input pixels
    kpts = torch.cat([xy, torch.full((1, 1, 1), 2.0)], dim=-1)
    targets = codec.encode(kpts)
    got, scores = codec.decode(targets.heatmaps)
    err = (got[0, 0] - xy[0, 0]).abs().max().item()
    assert err <= CODECS[mode] * stride + 1e-4, (mode, err)
    assert scores[0, 0] > 0.5
