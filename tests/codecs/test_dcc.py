"""DCC math: box expansion, bin placement (the talk's x_i formula), sine PE, softmax, decoding."""

from __future__ import annotations

import math

import pytest
import torch

from posekit.codecs.dcc import (
    bin_softmax,
    box_to_center_scale,
    dcc_bins,
    decode_bins,
    sine_pe,
    sine_pe_2d,
)


def test_box_expanded_by_1_25_about_its_centre():
    center, scale = box_to_center_scale(torch.tensor([[10.0, 20.0, 50.0, 100.0]]))
    assert center.tolist() == [[30.0, 60.0]]
    assert scale.tolist() == [[50.0, 100.0]]  # (40, 80) × 1.25


def test_bins_follow_the_talks_formula():
    # x_i = x_l + (x_r − x_l)(i − 1)/(B − 1), i = 1..B, on the ×1.25 box
    box = torch.tensor([[12.0, 30.0, 92.0, 190.0]])
    center, scale = box_to_center_scale(box)
    for axis, count in ((0, 192), (1, 256)):
        bins = dcc_bins(torch.linspace(-0.5, 0.5, count), center[:, axis], scale[:, axis])[0]
        lo = center[0, axis] - scale[0, axis] / 2
        hi = center[0, axis] + scale[0, axis] / 2
        want = torch.tensor([lo + (hi - lo) * (i - 1) / (count - 1) for i in range(1, count + 1)])
        torch.testing.assert_close(bins, want, atol=1e-4, rtol=0)
        assert bins.shape == (count,)
    # small case by hand: centre 30, expanded width 50, 5 bins → 5, 17.5, 30, 42.5, 55
    bins = dcc_bins(torch.linspace(-0.5, 0.5, 5), torch.tensor([30.0]), torch.tensor([50.0]))
    assert bins.tolist() == [[5.0, 17.5, 30.0, 42.5, 55.0]]


def test_sine_pe_values_and_temperature():
    p = torch.tensor([0.0, 2.5, 40.0])
    pe = sine_pe(p, channels=128, temperature=300.0)
    assert pe.shape == (3, 128)
    assert torch.equal(pe[0, :64], torch.ones(64)) and torch.equal(pe[0, 64:], torch.zeros(64))
    for j in (0, 1, 17, 63):
        freq = 300.0 ** (j / 64)
        assert pe[2, j].item() == pytest.approx(math.cos(40.0 / freq), abs=1e-5)
        assert pe[2, 64 + j].item() == pytest.approx(math.sin(40.0 / freq), abs=1e-5)
    # a different temperature changes every frequency but the first
    other = sine_pe(p, channels=128, temperature=10000.0)
    assert torch.equal(other[:, 0], pe[:, 0]) and not torch.allclose(other[1, 1:64], pe[1, 1:64])
    assert sine_pe(torch.zeros(2, 5, 7), channels=32).shape == (2, 5, 7, 32)
    with pytest.raises(ValueError, match="even"):
        sine_pe(p, channels=7)


def test_sine_pe_2d_rows_then_columns_row_major():
    pe = sine_pe_2d(3, 4, channels=16, temperature=10000.0)
    assert pe.shape == (12, 16)
    # location index 6 = row 1, column 2: first half encodes the row, second the column
    torch.testing.assert_close(pe[6, :8], sine_pe(torch.tensor(1.0), 8, 10000.0))
    torch.testing.assert_close(pe[6, 8:], sine_pe(torch.tensor(2.0), 8, 10000.0))
    torch.testing.assert_close(pe[4, 8:], sine_pe(torch.tensor(0.0), 8, 10000.0))


def test_bin_softmax_is_a_softmax_over_bins():
    logits = torch.randn(4, 17, 192, generator=torch.Generator().manual_seed(0)) * 10
    probs = bin_softmax(logits)
    torch.testing.assert_close(probs, torch.softmax(logits, dim=-1), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(probs.sum(-1), torch.ones(4, 17), atol=1e-6, rtol=0)
    assert torch.isfinite(bin_softmax(torch.full((1, 1, 3), 1e9))).all()  # clamped


def test_decode_expectation_and_argmax():
    bins = torch.tensor([[0.0, 10.0, 20.0, 30.0]])  # (M=1, B=4)
    probs = torch.tensor([[[0.0, 0.0, 1.0, 0.0],  # one-hot → the bin
                           [0.6, 0.0, 0.0, 0.4]]])  # bimodal: mean 12 vs mode 0
    assert decode_bins(probs, bins, "expectation").tolist() == [[20.0, pytest.approx(12.0)]]
    assert decode_bins(probs, bins, "argmax").tolist() == [[20.0, 0.0]]
    with pytest.raises(ValueError, match="argmax"):
        decode_bins(probs, bins, "median")
