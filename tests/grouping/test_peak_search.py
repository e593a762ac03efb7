"""Peak search equals the parser's rule on whole maps smoothed by scipy in float64."""

import numpy as np
import pytest
from make_pytorch_openpose_fixtures import parser_scene
from scipy.ndimage import binary_dilation, gaussian_filter

from posekit.grouping import GroupingConfig, find_peaks
from posekit.grouping.paf_grouping import _smooth_near


def _scipy_smooth(maps: np.ndarray) -> np.ndarray:
    """pytorch-openpose's smoothing: gaussian_filter(map, σ = 3) per map, in float64."""
    return gaussian_filter(maps.astype(np.float64), (0, 3, 3), mode="reflect", truncate=4.0)


def _parser_peaks(maps: np.ndarray, threshold: float = 0.1) -> list[np.ndarray]:
    """Per part, (x, y) of the smoothed pixels > threshold and ≥ their 4 neighbours (outside 0)."""
    sm = np.pad(_scipy_smooth(maps), ((0, 0), (1, 1), (1, 1)))
    c = sm[:, 1:-1, 1:-1]
    peak = ((c > threshold) & (c >= sm[:, :-2, 1:-1]) & (c >= sm[:, 2:, 1:-1])
            & (c >= sm[:, 1:-1, :-2]) & (c >= sm[:, 1:-1, 2:]))
    return [np.stack(np.nonzero(p)[::-1], axis=1) for p in peak]


@pytest.mark.parametrize("h,w,seed", [(77, 103, 0), (73, 97, 1), (150, 211, 2), (368, 368, 3)])
def test_smoothed_where_peaks_are_tested(h, w, seed):
    """Every smoothed value above the threshold, and its 4 neighbours, equals scipy's (float32
    precision): lone pixels (one so strong that pixels r + 1 away are tested), blobs on borders
    and corners, and hot rows just close enough or just too far apart to share a band."""
    rng = np.random.default_rng(seed)
    maps = (rng.random((5, h, w)) * 0.05).astype(np.float32)
    for j in range(5):
        for _ in range(12):
            y, x = rng.integers(0, h), rng.integers(0, w)
            maps[j, max(y - 2, 0):y + 3, max(x - 2, 0):x + 3] = rng.uniform(0.3, 1.0)
    maps[0, 0, 0] = maps[0, h - 1, w - 1] = maps[1, 0, w - 1] = maps[1, h - 1, 0] = 3.0
    r = 12  # kernel radius at σ = 3
    # hot rows 2r + 2 apart (their bands of kept rows touch) and 2r + 3 apart (they do not)
    maps[2, 5, w // 2] = maps[2, 5 + 2 * r + 2, w // 3] = maps[2, 5 + 4 * r + 5, w // 4] = 6.0
    maps[3, h // 2, w // 2] = 2e4  # smooths to > 0.1 up to r px away: its ring's neighbours
    full = _scipy_smooth(maps)
    tested = binary_dilation(full > 0.1, np.array([[[0, 1, 0], [1, 1, 1], [0, 1, 0]]]))
    assert tested.any(axis=(1, 2)).all() and not tested.all()
    got = _smooth_near(maps, 3.0, 0.1)
    np.testing.assert_allclose(got[tested], full[tested], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("h,w", [(77, 103), (73, 97), (80, 65)])
def test_peaks_on_borders_and_near_the_threshold(h, w):
    """Blobs cut by every border and corner, and a lone pixel that smooths to ≈ 0.1."""
    rng = np.random.default_rng(2)
    maps = (rng.random((6, h, w)) * 0.04).astype(np.float32)
    spots = [(0, 0), (h - 1, w - 1), (0, w - 1), (h - 1, 0), (h // 2, 0), (5, w // 2)]
    for j, (y, x) in enumerate(spots):
        maps[j, max(y - 2, 0):y + 3, max(x - 2, 0):x + 3] = 0.5 + 0.1 * j
        maps[j, h // 3, w // 3] = 5.66
    got = find_peaks(maps, GroupingConfig.cmu())
    want = _parser_peaks(maps)
    assert sum(len(p) for p in want) >= 12
    for g, p in zip(got, want, strict=True):
        np.testing.assert_array_equal(g[:, :2], p)


@pytest.mark.parametrize("n,size", [(50, (368, 368)), (6, (211, 150)), (12, (97, 130))])
def test_peaks_of_crowded_and_odd_sized_scenes(n, size):
    """Rendered people with smooth noise (as the parser fixtures): 50 people fill the map, so
    bands of filtered rows merge; small maps put people on every border."""
    hm, _ = parser_scene(n, seed=n, size=size)
    got = find_peaks(hm[:18], GroupingConfig.cmu())
    want = _parser_peaks(hm[:18])
    assert sum(len(p) for p in want) >= n * 10
    for j, (g, p) in enumerate(zip(got, want, strict=True)):
        np.testing.assert_array_equal(g[:, :2], p)
        np.testing.assert_array_equal(g[:, 2], hm[j, p[:, 1], p[:, 0]])  # the unsmoothed value
