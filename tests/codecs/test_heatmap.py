import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from posekit.codecs.heatmap import (
    HeatmapCodec,
    HeatmapTargets,
    gaussian_blur,
    opencv_gaussian_kernel,
)

GOLDEN = Path(__file__).parent / "fixtures" / "mmpose_heatmap_golden.npz"
INPUT, HM = (192, 256), (48, 64)  # (w, h), stride 4

# posekit settings equal to the MMPose codecs in make_mmpose_fixtures.CONFIGS
GOLDEN_CONFIGS = {
    "msra": dict(sigma=2.0, refine="quarter"),
    "msra_s3": dict(sigma=3.0, refine="quarter"),
    "dark": dict(sigma=2.0, refine="dark", unbiased_encoding=True, blur_kernel=11),
    "dark_k7": dict(sigma=1.5, refine="dark", unbiased_encoding=True, blur_kernel=7),
    "udp": dict(sigma=2.0, refine="dark", udp=True, blur_kernel=11),
}


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN) as z:
        return {k: z[k] for k in z.files}


def _random_points(n, k, margin_hm, codec, seed):
    """(n, k, 3) visible keypoints whose heatmap position is ≥ margin_hm from the border."""
    g = torch.Generator().manual_seed(seed)
    w, h = codec.heatmap_size
    lo = torch.tensor([margin_hm, margin_hm])
    hi = torch.tensor([w - 1 - margin_hm, h - 1 - margin_hm])
    xy_hm = lo + (hi - lo) * torch.rand(n, k, 2, generator=g)
    xy = codec.to_input(xy_hm)
    return torch.cat([xy, torch.full((n, k, 1), 2.0)], dim=-1)


# ---- parity with MMPose 1.3.2 ------------------------------------------------------------


def test_golden_file_records_mmpose_version(golden):
    meta = json.loads(str(golden["meta"]))
    assert meta["mmpose"] == "1.3.2"
    assert set(meta["configs"]) == set(GOLDEN_CONFIGS)
    assert tuple(golden["input_size"]) == INPUT and tuple(golden["heatmap_size"]) == HM


@pytest.mark.parametrize("name", [n for n in GOLDEN_CONFIGS if n != "dark_k7"])
def test_encode_equals_mmpose(golden, name):
    codec = HeatmapCodec(INPUT, HM, **GOLDEN_CONFIGS[name])
    xy = torch.from_numpy(golden["enc_keypoints"])  # (C, N, K, 2) input pixels
    vis = torch.from_numpy(golden["enc_visible"])  # (C, N, K)
    targets = codec.encode(xy, vis)
    np.testing.assert_allclose(targets.heatmaps.numpy(), golden[f"{name}__enc_heatmaps"],
                               rtol=0, atol=1e-6)
    # MMPose keeps one weight per person; a max-combined channel is trained if any person is
    np.testing.assert_array_equal(targets.weights.numpy(),
                                  golden[f"{name}__enc_weights"].max(axis=1))
    # the fixture really exercises the weight-zero rule and empty channels
    assert (golden[f"{name}__enc_weights"][:, 0] == 0).sum() >= 10


@pytest.mark.parametrize("name", list(GOLDEN_CONFIGS))
def test_decode_equals_mmpose(golden, name):
    codec = HeatmapCodec(INPUT, HM, **GOLDEN_CONFIGS[name])
    keypoints, scores = codec.decode(torch.from_numpy(golden["dec_heatmaps"]))
    ref = golden[f"{name}__dec_keypoints"].copy()  # (D, K, 2) MMPose input-space output
    np.testing.assert_array_equal(scores.numpy(), golden[f"{name}__dec_scores"])
    empty = scores.numpy() <= 0
    if codec.udp:
        # MMPose's UDPHeatmap.decode returns x_hm·in/(hm−1) for its "/ input_size · bbox_scale"
        # crop-to-image step; posekit returns true crop pixels x_hm·(in−1)/(hm−1). Both land on
        # the same image point; compare in posekit's space.
        ref = ref / np.array(INPUT) * (np.array(INPUT) - 1)
        # MMPose's UDP refinement reads neighbouring memory for an empty map and returns NaN
        # for an all-zero one; posekit leaves it unrefined at heatmap (−1, −1).
        assert np.isnan(ref[empty]).all() and not np.isnan(ref[~empty]).any()
        ref[empty] = codec.to_input(torch.tensor([-1.0, -1.0])).numpy()
    assert empty.sum() >= 4  # all-zero channels are part of the fixture
    # blur/log/Newton in float32 torch vs OpenCV/numpy: ~1e-5 input px apart at most
    np.testing.assert_allclose(keypoints.numpy(), ref, rtol=0, atol=1e-4)


def test_mmpose_udp_decode_scale_maps_to_same_image_point():
    """The UDP deviation above is a change of crop-space scale only: MMPose composes its
    decode with u/in·s, posekit's inverse UDP crop with u/(in−1)·s (box width s, left edge 0)."""
    codec = HeatmapCodec(INPUT, HM, udp=True)
    x_hm = torch.tensor([[0.0, 0.0], [47.0, 63.0], [13.3, 40.7]])
    s = torch.tensor([150.0, 200.0])
    ours = codec.to_input(x_hm) / (torch.tensor(INPUT) - 1) * s
    mmpose = x_hm * torch.tensor(INPUT) / (torch.tensor(HM) - 1) / torch.tensor(INPUT) * s
    torch.testing.assert_close(ours, mmpose)


# ---- the mapping ---------------------------------------------------------------------------


def test_mapping_msra_and_udp_known_answers():
    msra, udp = HeatmapCodec(INPUT, HM), HeatmapCodec(INPUT, HM, udp=True)
    corners = torch.tensor([[0.0, 0.0], [191.0, 255.0]])
    torch.testing.assert_close(msra.to_heatmap(corners), torch.tensor([[0.0, 0.0], [47.75, 63.75]]))
    # UDP maps the first and last pixel centres onto each other
    torch.testing.assert_close(udp.to_heatmap(corners), torch.tensor([[0.0, 0.0], [47.0, 63.0]]))
    xy = torch.rand(5, 2) * 200
    for c in (msra, udp):
        torch.testing.assert_close(c.to_input(c.to_heatmap(xy)), xy)


# ---- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [
    dict(refine="dark", unbiased_encoding=True),
    dict(refine="dark", udp=True),
    dict(refine="dark", udp=True, unbiased_encoding=True),
], ids=["dark", "udp", "udp+dark-encoding"])
def test_round_trip_subpixel(kwargs):
    codec = HeatmapCodec(INPUT, HM, **kwargs)
    kpts = _random_points(16, 17, 4.0, codec, seed=1)  # (16 samples, 17 keypoints)
    targets = codec.encode(kpts[:, None])  # one person per sample
    xy, scores = codec.decode(targets.heatmaps)
    err_hm = (codec.to_heatmap(xy) - codec.to_heatmap(kpts[..., :2])).abs()
    assert err_hm.max() < 0.05, err_hm.max()
    assert torch.all(scores > 0.88)  # peak of a σ = 2 Gaussian sampled ≤ 0.5 px off-centre


def test_round_trip_msra_is_exactly_the_rounding_error():
    """MSRA rounds the centre to the nearest pixel and the symmetric target makes quarter
    refinement a no-op: decode(encode(x)) = round(x) in heatmap space, error ≤ 0.5 hm px
    per axis (2 input px at stride 4)."""
    codec = HeatmapCodec(INPUT, HM)
    kpts = _random_points(16, 17, 4.0, codec, seed=2)
    xy, scores = codec.decode(codec.encode(kpts[:, None]).heatmaps)
    x_hm = codec.to_heatmap(kpts[..., :2])
    torch.testing.assert_close(codec.to_heatmap(xy), torch.trunc(x_hm + 0.5))
    err = (xy - kpts[..., :2]).abs()
    assert err.max() <= 0.5 * 4 and err.max() > 0.45 * 4  # the bound is reached
    assert torch.all(scores == 1.0)


# ---- edge cases: encoding ----------------------------------------------------------------


def _encode_one(codec, x_hm, y_hm, v=2.0):
    """Encode one keypoint given in heatmap pixels; returns (map (h, w), weight)."""
    xy = codec.to_input(torch.tensor([x_hm, y_hm], dtype=torch.float32))
    kpts = torch.cat([xy, torch.tensor([v])]).view(1, 1, 3)  # (N=1, K=1, 3)
    t = codec.encode(kpts)
    return t.heatmaps[0, 0], t.weights[0, 0]


def test_msra_gaussian_values_and_box():
    codec = HeatmapCodec(INPUT, HM, sigma=2.0)
    hm, w = _encode_one(codec, 20.0, 30.0)
    assert w == 1.0 and hm[30, 20] == 1.0
    assert hm[30, 22] == pytest.approx(math.exp(-4 / 8))  # exp(−d²/(2σ²))
    assert hm[33, 24] == pytest.approx(math.exp(-25 / 8))
    assert hm[30, 26] > 0 and hm[30, 27] == 0  # cut at 3σ = 6 px
    assert (hm > 0).sum() == 13 * 13


def test_border_points_are_drawn_and_weighted():
    codec = HeatmapCodec(INPUT, HM)
    for x_hm, y_hm in [(0, 0), (47, 63), (0, 63), (47, 0)]:
        hm, w = _encode_one(codec, x_hm, y_hm)
        assert w == 1.0 and hm[y_hm, x_hm] == 1.0
        assert (hm > 0).sum() == 7 * 7  # a quarter of the 13×13 box survives


@pytest.mark.parametrize("x_hm, weight, pixel0, columns", [
    (-6.0, 1.0, math.exp(-25 / 8), 2),  # int(−5.5) = −5: truncation moves the centre in
    (-7.0, 1.0, math.exp(-36 / 8), 1),  # centre −6: the 3σ box just reaches column 0
    (-8.0, 1.0, 0.0, 0),  # centre −7: MMPose's edge case, box ends at 0 → weight kept, map empty
    (-9.0, 0.0, 0.0, 0),
    (53.0, 1.0, None, 1),  # W + 5: the box just reaches column W − 1
    (54.0, 0.0, None, 0),  # W + 6
])
def test_outside_points_weight_rule(x_hm, weight, pixel0, columns):
    codec = HeatmapCodec(INPUT, HM)
    hm, w = _encode_one(codec, x_hm, 20.0)
    assert w == weight
    assert (hm.amax(dim=0) > 0).sum() == columns
    if pixel0 is not None:
        assert hm[20, 0].item() == pytest.approx(pixel0)
    if x_hm == 53.0:
        assert hm[20, 47].item() == pytest.approx(math.exp(-36 / 8))


def test_far_outside_point_has_weight_zero_in_every_mode():
    for kwargs in (dict(), dict(unbiased_encoding=True), dict(udp=True)):
        codec = HeatmapCodec(INPUT, HM, **kwargs)
        hm, w = _encode_one(codec, -20.0, 100.0)
        assert w == 0 and hm.abs().sum() == 0


@pytest.mark.parametrize("x_hm, centre", [(2.5, 3), (2.49, 2), (-0.5, 0), (-0.7, 0), (0.5, 1)])
def test_rounding_is_truncation_of_x_plus_half(x_hm, centre):
    """MMPose rounds with int(x + 0.5): ties go up and −0.7 goes to 0 (truncation, not floor)."""
    codec = HeatmapCodec(INPUT, HM)
    hm, w = _encode_one(codec, x_hm, 10.0)
    assert w == 1.0
    assert hm[10].argmax().item() == centre and hm[10, centre] == 1.0


def test_invisible_keypoints_weight_zero_and_empty_channel():
    codec = HeatmapCodec(INPUT, HM)
    kpts = _random_points(1, 4, 5.0, codec, seed=3)[0]  # (K=4, 3)
    kpts[1, 2] = 0.0  # unlabelled
    kpts[2, 2] = 1.0  # labelled but occluded: still trained
    t = codec.encode(kpts[None])
    torch.testing.assert_close(t.weights, torch.tensor([[1.0, 0.0, 1.0, 1.0]]))
    assert t.heatmaps[0, 1].abs().sum() == 0 and t.heatmaps[0, 2].max() > 0.8
    # an explicit visibility replaces v: < 0.5 not drawn (weight 0), otherwise value = weight
    vis = torch.tensor([[1.0, 1.0, 0.3, 0.8]])
    t = codec.encode(kpts[None], vis)
    torch.testing.assert_close(t.weights, torch.tensor([[1.0, 1.0, 0.0, 0.8]]))
    assert t.heatmaps[0, 1].max() > 0.8 and t.heatmaps[0, 2].abs().sum() == 0
    # unlabelled keypoints may carry any coordinates, NaN included
    kpts[1] = torch.tensor([float("nan"), float("nan"), 0.0])
    t = codec.encode(kpts[None])
    assert torch.isfinite(t.heatmaps).all() and t.heatmaps[0, 1].abs().sum() == 0


def test_several_people_are_max_combined():
    codec = HeatmapCodec(INPUT, HM, unbiased_encoding=True)
    kpts = _random_points(3, 5, 2.0, codec, seed=4)  # (N=3, K=5, 3), one sample
    kpts[2, 1, 2] = 0.0
    together = codec.encode(kpts)
    alone = [codec.encode(kpts[i : i + 1]) for i in range(3)]
    expected = torch.stack([a.heatmaps for a in alone]).amax(dim=0)
    torch.testing.assert_close(together.heatmaps, expected)
    torch.testing.assert_close(together.weights, torch.ones(1, 5))


def test_background_channel():
    codec = HeatmapCodec(INPUT, HM, background=True)
    kpts = _random_points(2, 6, 3.0, codec, seed=5)
    t = codec.encode(kpts)
    assert t.heatmaps.shape == (1, 7, 64, 48) and t.weights.shape == (1, 6)
    parts, bg = t.heatmaps[:, :6], t.heatmaps[:, 6]
    torch.testing.assert_close(bg + parts.amax(dim=1), torch.ones_like(bg))
    assert bg.min() == 0.0 and bg.max() == 1.0
    assert codec.out_channels(6) == 7
    # decode drops the background and gives the same answer as a codec without one
    plain = HeatmapCodec(INPUT, HM)
    for a, b in zip(codec.decode(t.heatmaps), plain.decode(t.heatmaps[:, :6]), strict=True):
        torch.testing.assert_close(a, b)


# ---- edge cases: decoding ----------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [
    dict(refine="none"), dict(refine="quarter"), dict(refine="dark"),
    dict(refine="dark", udp=True), dict(refine="quarter", udp=True),
])
def test_all_zero_channel_decodes_to_score_zero(kwargs):
    codec = HeatmapCodec(INPUT, HM, **kwargs)
    hm = torch.zeros(2, 3, 64, 48)
    hm[0, 1, 30, 20] = 1.0
    xy, scores = codec.decode(hm)
    assert torch.isfinite(xy).all()
    torch.testing.assert_close(scores, torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]))
    missing = codec.to_input(torch.tensor([-1.0, -1.0]))
    torch.testing.assert_close(xy[1], missing.expand(3, 2))


def test_quarter_refinement_known_answers():
    codec = HeatmapCodec(INPUT, HM, refine="quarter")
    hm = torch.zeros(1, 4, 64, 48)
    hm[0, 0, 20, 10], hm[0, 0, 20, 11], hm[0, 0, 19, 10] = 1.0, 0.5, 0.2  # → (+¼, −¼)
    hm[0, 1, 20, 1], hm[0, 1, 20, 2] = 1.0, 0.5  # x = 1: MMPose's bound skips it
    hm[0, 2, 5, 5] = 1.0  # symmetric: no shift
    hm[0, 3, 63, 47], hm[0, 3, 63, 46] = 1.0, 0.9  # corner: no shift
    xy, _ = codec.decode(hm)
    expected_hm = torch.tensor([[[10.25, 19.75], [1.0, 20.0], [5.0, 5.0], [47.0, 63.0]]])
    torch.testing.assert_close(codec.to_heatmap(xy), expected_hm)


def test_argmax_ties_take_the_first_maximum():
    codec = HeatmapCodec(INPUT, HM, refine="none")
    hm = torch.zeros(1, 1, 64, 48)
    hm[0, 0, 40, 3] = hm[0, 0, 10, 30] = hm[0, 0, 40, 2] = 0.7
    xy, _ = codec.decode(hm)
    torch.testing.assert_close(codec.to_heatmap(xy), torch.tensor([[[30.0, 10.0]]]))


def test_dark_recovers_an_exact_gaussian_centre():
    """log of a Gaussian is quadratic, so one Newton step lands on the centre (DARK)."""
    codec = HeatmapCodec(INPUT, HM, refine="dark")
    ys, xs = torch.meshgrid(torch.arange(64.0), torch.arange(48.0), indexing="ij")
    centres = torch.tensor([[20.3, 31.8], [7.77, 50.2], [33.5, 12.5]])
    hm = torch.exp(-((xs - centres[:, 0, None, None]) ** 2
                     + (ys - centres[:, 1, None, None]) ** 2) / (2 * 2.0**2))[None]  # (1, 3, h, w)
    xy, _ = codec.decode(hm)
    torch.testing.assert_close(codec.to_heatmap(xy)[0], centres, atol=2e-3, rtol=0)


def test_gaussian_blur_matches_opencv():
    g = np.random.default_rng(0)
    maps = g.random((2, 3, 20, 17)).astype(np.float32)
    for k in (3, 7, 9, 11, 17):
        kernel = cv2.getGaussianKernel(k, 0, ktype=cv2.CV_64F).ravel()
        np.testing.assert_allclose(opencv_gaussian_kernel(k, torch.float64).numpy(), kernel,
                                   rtol=1e-6)
        b = k // 2
        ref = np.empty_like(maps)
        for i in np.ndindex(maps.shape[:2]):
            padded = np.pad(maps[i], b)  # zero border like MMPose's DARK modulation
            blurred = cv2.GaussianBlur(padded, (k, k), 0)[b:-b, b:-b]
            ref[i] = blurred * maps[i].max() / blurred.max()
        ours = gaussian_blur(torch.from_numpy(maps), k).numpy()
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-6)


# ---- batching, dtypes, errors ----------------------------------------------------------


@pytest.mark.parametrize("kwargs", [dict(), dict(refine="dark", unbiased_encoding=True),
                                    dict(refine="dark", udp=True)])
def test_batched_equals_per_sample(kwargs):
    codec = HeatmapCodec(INPUT, HM, **kwargs)
    kpts = _random_points(4 * 2, 5, -2.0, codec, seed=6).view(4, 2, 5, 3)  # (B, N, K, 3)
    kpts[1, 1, :, 2] = 0  # padding person
    batch = codec.encode(kpts)
    hm = batch.heatmaps + 0.05 * torch.rand(batch.heatmaps.shape, generator=torch.Generator()
                                            .manual_seed(0))
    xy, sc = codec.decode(hm)
    for i in range(4):
        single = codec.encode(kpts[i])
        torch.testing.assert_close(batch.heatmaps[i : i + 1], single.heatmaps)
        torch.testing.assert_close(batch.weights[i : i + 1], single.weights)
        xy_i, sc_i = codec.decode(hm[i])
        torch.testing.assert_close(xy[i : i + 1], xy_i)
        torch.testing.assert_close(sc[i : i + 1], sc_i)


def test_output_types_and_dtypes():
    codec = HeatmapCodec(INPUT, HM)
    kpts = _random_points(2, 3, 2.0, codec, seed=7).double()
    t = codec.encode(kpts)
    assert isinstance(t, HeatmapTargets)
    assert t.heatmaps.dtype == torch.float32 and t.heatmaps.shape == (1, 3, 64, 48)
    assert t.weights.dtype == torch.float32 and t.weights.shape == (1, 3)
    xy, sc = codec.decode(t.heatmaps.half())
    assert xy.shape == (1, 3, 2) and sc.shape == (1, 3) and xy.dtype == torch.float32
    # (x, y) without v: all labelled
    t2 = codec.encode(kpts[..., :2])
    torch.testing.assert_close(t2.heatmaps, t.heatmaps)


def test_clear_errors():
    codec = HeatmapCodec(INPUT, HM)
    with pytest.raises(ValueError, match=r"\(B, N, K, 3\) or \(N, K, 3\), got \(17, 3\)"):
        codec.encode(torch.zeros(17, 3))
    with pytest.raises(ValueError, match="float tensor, got dtype torch.int64"):
        codec.encode(torch.zeros(1, 17, 3, dtype=torch.long))
    with pytest.raises(TypeError, match="torch.Tensor, got ndarray"):
        codec.encode(np.zeros((1, 17, 3)))
    with pytest.raises(ValueError, match=r"visible must be \(1, 17\).*got \(1, 16\)"):
        codec.encode(torch.zeros(1, 17, 3), torch.ones(1, 16))
    with pytest.raises(ValueError, match=r"\(B, K, 64, 48\).*got \(2, 17, 48, 64\)"):
        codec.decode(torch.zeros(2, 17, 48, 64))
    with pytest.raises(ValueError, match="float tensor, got dtype torch.uint8"):
        codec.decode(torch.zeros(2, 17, 64, 48, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"refine must be one of .*got 'argmax'"):
        HeatmapCodec(INPUT, HM, refine="argmax")
    with pytest.raises(ValueError, match="positive odd integer, got 10"):
        HeatmapCodec(INPUT, HM, blur_kernel=10)
    with pytest.raises(ValueError, match=r"heatmap_size must be two integers \(w, h\) ≥ 2"):
        HeatmapCodec(INPUT, (1, 64), udp=True)
    with pytest.raises(ValueError, match="sigma must be a positive number, got -1"):
        HeatmapCodec(INPUT, HM, sigma=-1)
    with pytest.raises(ValueError, match=r"xy must be a float tensor \(\.\.\., 2\), got \(3,\)"):
        codec.to_input(torch.zeros(3))
