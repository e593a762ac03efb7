"""The compiled kernels (numba, optional) find the NumPy path's peaks and people."""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from posekit.grouping import GroupingConfig, assemble_people, find_peaks, paf_grouping
from posekit.grouping.scenes import random_people, render_maps

pytest.importorskip("numba")


def _scene(n: int, size: tuple[int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rendered maps (w, h = size) with smooth noise, as benchmarks/bench_grouping.py makes."""
    rng = np.random.default_rng(seed)
    people = random_people(n, size, rng, missing=0.2)
    hm, paf = render_maps(people, size, sigma=3.0, limb_width=2.0)
    noise = gaussian_filter(rng.normal(0, 0.03, hm.shape), (0, 2, 2))
    return (hm * 0.9 + noise).astype(np.float32), paf


def _both(monkeypatch, fn):
    monkeypatch.setattr(paf_grouping, "USE_NUMBA", False)
    a = fn()
    monkeypatch.setattr(paf_grouping, "USE_NUMBA", True)
    return a, fn()


@pytest.mark.parametrize("n,size", [(1, (368, 368)), (5, (368, 368)), (20, (368, 368)),
                                    (50, (368, 368)), (6, (211, 150)), (12, (97, 130))])
def test_same_peaks_and_people_as_numpy_path(n, size, monkeypatch):
    hm, paf = _scene(n, size, seed=n)
    for cfg in (GroupingConfig.cmu(), GroupingConfig(max_peaks=n // 2 + 1)):
        (pk, pp), (nk, nq) = _both(monkeypatch, lambda cfg=cfg: assemble_people(hm, paf, cfg))
        np.testing.assert_array_equal(nk, pk)
        np.testing.assert_array_equal(nq, pp)  # same parts, order and scores (to the bit)
    # Sub-pixel offsets read the smoothed neighbours: float32 sums in another order.
    cfg = GroupingConfig(subpixel=True)
    ref, got = _both(monkeypatch, lambda: find_peaks(hm[:18], cfg))
    for a, b in zip(ref, got, strict=True):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-4)


@pytest.mark.parametrize("h,w", [(77, 103), (73, 97), (80, 65)])
def test_peaks_on_borders_and_plateau_edges(h, w, monkeypatch):
    """Blobs cut by every border and corner, on sizes that are not multiples of the tile (73:
    a last tile of one row, its other rows reflected from the tile above), and values just
    around the threshold: same peaks as the NumPy path, smoothed values at them equal to
    scipy's (float32 precision)."""
    rng = np.random.default_rng(2)
    maps = (rng.random((6, h, w)) * 0.04).astype(np.float32)
    spots = [(0, 0), (h - 1, w - 1), (0, w - 1), (h - 1, 0), (h // 2, 0), (5, w // 2)]
    for j, (y, x) in enumerate(spots):
        maps[j, max(y - 2, 0):y + 3, max(x - 2, 0):x + 3] = 0.5 + 0.1 * j
        maps[j, h // 3, w // 3] = 5.66  # a lone pixel that smooths to ≈ 0.1
    cfg = GroupingConfig.cmu()
    ref, got = _both(monkeypatch, lambda: find_peaks(maps, cfg))
    for a, b in zip(ref, got, strict=True):
        np.testing.assert_array_equal(b, a)
    full = gaussian_filter(maps.astype(np.float64), (0, 3, 3), mode="reflect", truncate=4.0)
    (parts, ys, xs), vals = paf_grouping._peak_pixels(maps, 3.0, 0.1, True)
    assert len(parts) >= 6
    nbs = [(ys, xs), (np.maximum(ys - 1, 0), xs), (np.minimum(ys + 1, h - 1), xs),
           (ys, np.maximum(xs - 1, 0)), (ys, np.minimum(xs + 1, w - 1))]
    for i, (y, x) in enumerate(nbs):  # the peak, then its neighbours up, down, left, right
        np.testing.assert_allclose(vals[:, i], full[parts, y, x], rtol=0, atol=1e-6)


@pytest.mark.parametrize("h,w", [(77, 59), (64, 96)])
def test_one_pixel_smoothing_equals_the_tiled_passes(h, w):
    """A peak's neighbour in a skipped tile is smoothed on its own: to the bit the value the
    tiled row and column passes give (here every tile is computed: threshold below 0)."""
    from posekit.grouping._numba_peaks import _smooth_at, peaks_above

    rng = np.random.default_rng(5)
    maps = gaussian_filter(rng.random((2, h, w)), (0, 1.5, 1.5)).astype(np.float32)
    kern, wts = paf_grouping._numba_kernels(3.0)
    idx, vals = peaks_above(maps, kern, wts, np.float32(-1.0), True)
    assert len(idx) >= 4
    for (k, y, x), v in zip(idx, vals, strict=True):
        nbs = [(y, x), (max(y - 1, 0), x), (min(y + 1, h - 1), x), (y, max(x - 1, 0)),
               (y, min(x + 1, w - 1))]
        got = [_smooth_at(maps[k], ny, nx, kern) for ny, nx in nbs]
        np.testing.assert_array_equal(np.float32(got), v)
    corners = [(0, 0), (h - 1, w - 1), (0, w - 1), (h - 1, 0)]  # the reflected rows and columns
    full = gaussian_filter(maps[0].astype(np.float64), 3.0, mode="reflect", truncate=4.0)
    for y, x in corners:
        assert abs(_smooth_at(maps[0], y, x, kern) - full[y, x]) < 1e-6


def test_neighbours_in_skipped_tiles_are_smoothed_exactly():
    """Sub-pixel fits read a peak's 4 neighbours; one in a tile the bound skipped is smoothed on
    its own. Forced here: a 'bound' that sees only each tile's own pixels skips the tiles next
    to lone pixels on tile edges."""
    from posekit.grouping._numba_peaks import TILE, peaks_above

    h, w = 72, 88
    maps = np.zeros((2, h, w), dtype=np.float32)
    spots = [(15, 24), (7, 47), (40, 63), (64, 79), (47, 8), (0, 40), (71, 87)]
    for i, (y, x) in enumerate(spots):  # lone pixels on tile edges, ≥ 16 px apart
        maps[i % 2, y, x] = 2.0 + 0.25 * i
    kern, wts = paf_grouping._numba_kernels(3.0)
    narrow = np.zeros_like(wts)
    narrow[len(wts) // 2] = 1.0  # not a bound: a tile is computed only if its own pixels > 0.02
    idx, vals = peaks_above(maps, kern, narrow, np.float32(0.02), True)
    assert sorted(map(tuple, idx[:, 1:])) == sorted(spots)
    full = gaussian_filter(maps.astype(np.float64), (0, 3, 3), mode="reflect", truncate=4.0)
    computed = maps.reshape(2, h // TILE, TILE, w // TILE, TILE).max(axis=(2, 4)) > 0.02
    k, y, x = idx.T
    nbs = [(y, x), (np.maximum(y - 1, 0), x), (np.minimum(y + 1, h - 1), x),
           (y, np.maximum(x - 1, 0)), (y, np.minimum(x + 1, w - 1))]
    skipped = 0
    for i, (ny, nx) in enumerate(nbs):
        np.testing.assert_allclose(vals[:, i], full[k, ny, nx], rtol=0, atol=1e-6)
        skipped += int((~computed[k, ny // TILE, nx // TILE]).sum())
    assert skipped >= 8


@pytest.mark.parametrize("t,d", [(8, 2), (4, 3)])
@pytest.mark.parametrize("h,w", [(64, 48), (73, 97), (77, 59)])
def test_tile_maxima_of_the_reflected_map(h, w, t, d):
    """max(raw, 0) per tile of the reflect-extended map, two tiles past each border: equal to a
    brute force where the tile divides the map, else a bound (≥) that is exact inside."""
    from posekit.grouping._numba_peaks import _tile_maxima

    rng = np.random.default_rng(h)
    raw = (rng.normal(0, 1, (h, w)) * (rng.random((h, w)) > 0.97)).astype(np.float32)
    th, tw = -(-h // t), -(-w // t)
    got = np.full((th + 2 * d, tw + 2 * d), np.nan, dtype=np.float32)
    _tile_maxima(raw, t, d, got)
    ext = np.pad(raw, ((d * t, (th + d) * t - h), (d * t, (tw + d) * t - w)), mode="symmetric")
    want = np.maximum(ext.reshape(th + 2 * d, t, tw + 2 * d, t).max(axis=(1, 3)), 0)
    assert np.all(got >= want)
    if h % t == 0 and w % t == 0:
        np.testing.assert_array_equal(got, want)
    inner = (slice(d, d + h // t), slice(d, d + w // t))  # whole tiles inside the map
    np.testing.assert_array_equal(got[inner], want[inner])


@pytest.mark.parametrize("t", [4, 8])
def test_tile_bound_covers_the_smoothed_map(t):
    """Σ w[dy]·w[dx]·max(tile, 0) over tile offsets is ≥ the smoothed value at every pixel."""
    from posekit.grouping._numba_peaks import tile_weights

    sigma = 3.0
    kern = paf_grouping._scipy_gaussian_kernel(sigma)
    w = tile_weights(kern, t)
    rng = np.random.default_rng(4)
    raw = rng.normal(0, 0.3, (64, 64)) * (rng.random((64, 64)) > 0.9)
    sm = gaussian_filter(raw, sigma, mode="constant", truncate=4.0)  # zeros outside
    d, n = (len(w) - 1) // 2, 64 // t
    tiles = np.maximum(raw.reshape(n, t, n, t).max(axis=(1, 3)), 0)
    tiles = np.pad(tiles, d)
    bound = np.zeros((n, n))
    for dy in range(-d, d + 1):
        for dx in range(-d, d + 1):
            bound += w[dy + d] * w[dx + d] * tiles[d + dy:d + dy + n, d + dx:d + dx + n]
    assert np.all(np.repeat(np.repeat(bound, t, 0), t, 1) >= sm - 1e-12)
    assert w[d] <= 1 and np.all(np.diff(w[d:]) <= 0)


def test_sample_sum_in_numpys_order():
    """Limb scores are means of samples: the compiled sum adds in NumPy's pairwise order, so
    kept scores equal the NumPy path's to the bit."""
    from posekit.grouping._numba_peaks import _numpy_sum

    rng = np.random.default_rng(0)
    for n in [*range(1, 40), 127, 128]:
        x = rng.normal(size=(20, n)) * 10.0 ** rng.uniform(-5, 5, (20, n))
        got = [_numpy_sum(np.ascontiguousarray(row)) for row in x]
        np.testing.assert_array_equal(got, x.sum(-1))
