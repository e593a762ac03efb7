"""Bottom-up grouping of OpenPose maps into people (talk §20–§21; Cao et al., TPAMI 2019 §3.4).

Four steps, each vectorised over candidates with NumPy:

1. Peak NMS on each (optionally Gaussian-smoothed) confidence map: a pixel above
   ``peak_threshold`` and ≥ its four neighbours; optional sub-pixel refinement by a quadratic
   fit on the smoothed map. The peak's score is the unsmoothed map value.
2. Limb scores: the line integral E = ∫ L_c(p(u)) · v du (eq. 11) taken as the mean over
   ``num_samples`` uniform samples between two candidates (rounded to pixels), plus the distance
   prior min(``distance_ratio``·H/‖d‖ − 1, 0). A pair is kept when more than ``min_fraction``
   of the samples exceed ``paf_threshold`` and the score with prior is > 0.
3. Per-limb maximum-weight bipartite matching (eq. 13–15): the paper's greedy relaxation (pairs by
   descending score, each candidate used once) or exact Hungarian matching
   (``scipy.optimize.linear_sum_assignment``).
4. Assembly along the skeleton's limb list (a spanning tree first, then redundant links): a
   connection extends the person holding one of its ends, merges two disjoint people that hold
   its two ends, and starts a new person only on a tree limb; people with fewer than
   ``min_parts`` parts or a mean score below ``min_mean_score`` are dropped.

With :meth:`GroupingConfig.cmu` the result equals pytorch-openpose's ``Body`` parser (tested
against its outputs in ``tests/grouping/``).

Speed: smoothing is exact but computed only where the smoothed map can exceed the threshold.
With numba installed (``pip install posekit[fast]``) steps 1–2 run as compiled kernels
(:mod:`posekit.grouping._numba_peaks`: a per-tile upper bound of the smoothed map, the Gaussian
only on tiles whose bound exceeds the threshold, for σ ≈ 3 as in the cmu preset; each limb
sampled until it fails), and so do steps 3–4 (:mod:`posekit.grouping._numba_assemble`: the
candidate pairs, greedy matching of all limbs and the assembly, one call each; Hungarian matching
stays with scipy); without it, NumPy/OpenCV and plain Python. Both give the same peaks and
people, scores to the bit (tested).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from posekit.skeletons import COCO17, OPENPOSE18, Skeleton, convert_keypoints
from posekit.structures import PoseInstances

try:  # the optional extra `fast`: compiled peak search, limb scores, matching and assembly
    from posekit.grouping import _numba_assemble, _numba_peaks
except ImportError:
    _numba_assemble = _numba_peaks = None
USE_NUMBA = _numba_peaks is not None  # tests switch it off to check the NumPy path

__all__ = [
    "GroupingConfig", "assemble_people", "find_peaks", "group_people", "limb_scores", "match_limb",
]

MATCHERS = ("greedy", "hungarian")


@dataclass
class GroupingConfig:
    smooth_sigma: float = 3.0  # Gaussian σ before peak NMS (pixels); 0 disables
    peak_threshold: float = 0.1
    subpixel: bool = False  # quadratic refinement of peaks on the smoothed map
    max_peaks: int = 0  # keep the best N peaks per part (0 = all); bounds untrained-model cost
    paf_threshold: float = 0.05
    num_samples: int = 10  # uniform samples on each candidate limb
    min_fraction: float = 0.8  # a limb needs > this fraction of samples above paf_threshold
    distance_ratio: float = 0.5  # distance prior min(ratio·H/‖d‖ − 1, 0); 0 disables
    matcher: str = "greedy"  # greedy (paper's relaxation) | hungarian (exact)
    min_parts: int = 4
    min_mean_score: float = 0.4  # (Σ peak scores + Σ limb scores) / parts
    tree_limbs: int = 17  # limbs [0, tree_limbs) may start a person; the rest are redundant
    output: str = "coco17"  # coco17 | openpose18

    def __post_init__(self) -> None:
        if self.matcher not in MATCHERS:
            raise ValueError(f"GroupingConfig.matcher must be one of {MATCHERS}, "
                             f"got {self.matcher!r}")
        if self.output not in ("coco17", "openpose18"):
            raise ValueError(f"GroupingConfig.output must be coco17 or openpose18, "
                             f"got {self.output!r}")
        if self.num_samples < 2:
            raise ValueError(f"GroupingConfig.num_samples must be ≥ 2, got {self.num_samples}")

    @classmethod
    def cmu(cls) -> GroupingConfig:
        """pytorch-openpose's parser: σ 3, peaks > 0.1, PAF 0.05, 10 samples, > 80 %, prior
        min(0.5·H/‖d‖ − 1, 0), ≥ 4 parts, mean score ≥ 0.4, greedy matching."""
        return cls()


def _scipy_gaussian_kernel(sigma: float, truncate: float = 4.0) -> np.ndarray:
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def smooth(maps: np.ndarray, sigma: float) -> np.ndarray:
    """scipy.ndimage.gaussian_filter(map, σ) per channel (reflect border, radius 4σ), via OpenCV
    in float32 (about 3× faster than float64; peaks equal the reference's, tested)."""
    if sigma <= 0:
        return np.asarray(maps, dtype=np.float32)
    k = _scipy_gaussian_kernel(sigma).astype(np.float32)
    out = np.empty(maps.shape, dtype=np.float32)
    for c in range(maps.shape[0]):
        out[c] = cv2.sepFilter2D(np.ascontiguousarray(maps[c], dtype=np.float32), cv2.CV_32F, k,
                                 k, borderType=cv2.BORDER_REFLECT)
    return out


_TILE = 16  # tile edge for the exact smoothing of only the maps' hot regions (pixels)
_SPARSE = 0.13  # above this fraction of needed tiles, smooth whole maps (measured crossover)


def _tile_max(maps: np.ndarray, t: int) -> np.ndarray:
    """(K, H, W) → (K, ⌈H/t⌉, ⌈W/t⌉) maximum of each t×t tile (edge tiles padded with −inf).
    Rows first, as a reduction over a middle axis of contiguous data: 5× faster than reduceat."""
    k, h, w = maps.shape
    hp, wp = -(-h // t) * t, -(-w // t) * t
    if (hp, wp) != (h, w):
        maps = np.pad(maps, ((0, 0), (0, hp - h), (0, wp - w)), constant_values=-np.inf)
    rows = maps.reshape(k, hp // t, t, wp).max(axis=2)
    return rows.reshape(k, hp // t, wp // t, t).max(axis=3)


def _nonzero3(mask: np.ndarray) -> tuple[np.ndarray, ...]:
    """np.nonzero of a 3-D mask (same row-major order), 5× faster via flatnonzero on one axis."""
    flat = np.flatnonzero(mask)
    _, h, w = mask.shape
    parts, rest = np.divmod(flat, h * w)
    ys, xs = np.divmod(rest, w)
    return parts, ys, xs


def _reflect_index(lo: int, hi: int, n: int) -> np.ndarray:
    """Indices lo … hi − 1 mapped into [0, n) by scipy's 'reflect' (d c b a | a b c d), for
    overhangs of at most n."""
    i = np.arange(lo, hi)
    i = np.where(i < 0, -1 - i, i)
    return np.where(i >= n, 2 * n - 1 - i, i)


def _smooth_above(maps: np.ndarray, sigma: float, threshold: float) -> tuple[np.ndarray, ...]:
    """The smoothed maps and the (part, y, x) indices of their pixels above ``threshold``.

    Exact, but cheaper than smoothing everything when few tiles are hot: the Gaussian is
    non-negative with Σ = 1, so a smoothed value > threshold needs a raw value > threshold within
    the kernel radius r. Only 16×16 tiles whose raw max exceeds the threshold, and their neighbour
    tiles (r + 1 ≤ 16 px, the peak test reads 4-neighbours), are smoothed; the rest of the
    returned map is 0, which no peak test ever reads. One filtering call per tile row and part
    costs Python overhead that pays only while under ``_SPARSE`` of the tiles are needed (about
    up to 5 people at 368×368); above that, one whole-map pass per part is faster.
    """
    maps = np.asarray(maps, dtype=np.float32)
    k, h, w = maps.shape
    if sigma <= 0:
        return maps, _nonzero3(maps > threshold)
    kern = _scipy_gaussian_kernel(sigma).astype(np.float32)
    r = (len(kern) - 1) // 2
    t = _TILE
    if r + 1 > t or min(h, w) < 4 * t:
        sm = smooth(maps, sigma)
        return sm, _nonzero3(sm > threshold)
    hot = _tile_max(maps, t) > threshold
    need = hot.copy()  # dilate by one tile (3×3)
    need[:, 1:] |= hot[:, :-1]
    need[:, :-1] |= hot[:, 1:]
    rows = need.copy()
    need[:, :, 1:] |= rows[:, :, :-1]
    need[:, :, :-1] |= rows[:, :, 1:]
    if need.mean() > _SPARSE:
        sm = smooth(maps, sigma)
        return sm, _nonzero3(sm > threshold)
    sm = np.zeros_like(maps)  # calloc: pages never written cost nothing
    found: list[tuple[np.ndarray, ...]] = []
    for j in np.flatnonzero(need.any(axis=(1, 2))):
        for row in np.flatnonzero(need[j].any(axis=1)):
            cols = np.flatnonzero(need[j, row])  # one span per tile row: fewer, wider calls
            y0, y1 = row * t, min(row * t + t, h)
            x0, x1 = cols[0] * t, min(cols[-1] * t + t, w)
            if y0 >= r and y1 + r <= h and x0 >= r and x1 + r <= w:  # a view, no copy
                src = maps[j, y0 - r:y1 + r, x0 - r:x1 + r]
            else:  # reflect only the window, not the whole map
                src = maps[j][np.ix_(_reflect_index(y0 - r, y1 + r, h),
                                     _reflect_index(x0 - r, x1 + r, w))]
            win = cv2.sepFilter2D(src, cv2.CV_32F, kern, kern)
            out = win[r:r + y1 - y0, r:r + x1 - x0]
            sm[j, y0:y1, x0:x1] = out
            yy, xx = np.nonzero(out > threshold)
            if len(yy):
                found.append((np.full(len(yy), j), yy + y0, xx + x0))
    if not found:
        empty = np.zeros(0, dtype=np.intp)
        return sm, (empty, empty, empty)
    parts, ys, xs = (np.concatenate(a).astype(np.intp) for a in zip(*found, strict=True))
    order = np.lexsort((xs, ys, parts))  # row-major per part, as np.nonzero on whole maps
    return sm, (parts[order], ys[order], xs[order])


@lru_cache(maxsize=8)
def _numba_kernels(sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """The float32 Gaussian taps and the per-tile-offset kernel mass bound for σ."""
    kern = _scipy_gaussian_kernel(sigma)
    return kern.astype(np.float32), _numba_peaks.tile_weights(kern, _numba_peaks.BOUND_TILE)


def _peak_pixels(
    maps: np.ndarray, sigma: float, threshold: float, neighbours: bool
) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """The (part, y, x) pixels of the smoothed maps above ``threshold`` and ≥ their 4 neighbours
    (outside the map = 0), row-major per part; and (n, 5) smoothed values at them: the pixel,
    then with ``neighbours`` the pixels up, down, left, right (clamped at the border).

    With numba installed and σ ≈ 3 (the compiled kernel's 25 taps, the cmu preset), a compiled
    kernel smooths only tiles whose bound exceeds the threshold; else :func:`_smooth_above`.
    """
    maps = np.ascontiguousarray(maps, dtype=np.float32)
    k, h, w = maps.shape
    kern, wts = _numba_kernels(float(sigma)) if USE_NUMBA and sigma > 0 else (None, None)
    if (kern is not None and len(kern) == _numba_peaks.TAPS
            and min(h, w) >= 4 * _numba_peaks.TILE + 4 * sigma):
        idx, vals = _numba_peaks.peaks_above(maps, kern, wts, np.float32(threshold), neighbours)
        return (idx[:, 0], idx[:, 1], idx[:, 2]), vals
    sm, (parts, ys, xs) = _smooth_above(maps, sigma, threshold)
    # Compare only the pixels above threshold with their 4 neighbours (outside = 0).
    v = sm[parts, ys, xs]
    keep = np.ones(len(v), dtype=bool)
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        ny, nx = ys + dy, xs + dx
        inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
        nb = np.zeros(len(v), dtype=sm.dtype)
        nb[inside] = sm[parts[inside], ny[inside], nx[inside]]
        keep &= v >= nb
    parts, ys, xs = parts[keep], ys[keep], xs[keep]
    vals = np.zeros((len(parts), 5), dtype=np.float32)
    vals[:, 0] = v[keep]
    if neighbours:
        vals[:, 1] = sm[parts, np.maximum(ys - 1, 0), xs]
        vals[:, 2] = sm[parts, np.minimum(ys + 1, h - 1), xs]
        vals[:, 3] = sm[parts, ys, np.maximum(xs - 1, 0)]
        vals[:, 4] = sm[parts, ys, np.minimum(xs + 1, w - 1)]
    return (parts, ys, xs), vals


def find_peaks(
    heatmaps: np.ndarray, config: GroupingConfig
) -> list[np.ndarray]:
    """Per part, an (n, 3) array of (x, y, score) peaks in row-major (y, then x) order."""
    heatmaps = np.asarray(heatmaps)
    k = heatmaps.shape[0]
    (parts, ys, xs), vals = _peak_pixels(heatmaps, config.smooth_sigma, config.peak_threshold,
                                         config.subpixel)
    if config.max_peaks > 0 and len(parts):
        sel = np.zeros(len(parts), dtype=bool)
        starts = np.searchsorted(parts, np.arange(k + 1))
        for j in range(k):
            lo, hi = starts[j], starts[j + 1]
            if hi - lo > config.max_peaks:
                top = np.argsort(-vals[lo:hi, 0], kind="stable")[: config.max_peaks]
                sel[lo + top] = True
            else:
                sel[lo:hi] = True
        parts, ys, xs, vals = parts[sel], ys[sel], xs[sel], vals[sel]
    scores = heatmaps[parts, ys, xs].astype(np.float64)
    fx = xs.astype(np.float64)
    fy = ys.astype(np.float64)
    if config.subpixel:
        # Quadratic fit through the peak and its neighbours (clamped at the border).
        v, up, down, left, right = vals.astype(np.float64).T
        dx_den = left - 2 * v + right
        dy_den = up - 2 * v + down
        with np.errstate(divide="ignore", invalid="ignore"):
            ox = np.where(dx_den < 0, 0.5 * (left - right) / dx_den, 0)
            oy = np.where(dy_den < 0, 0.5 * (up - down) / dy_den, 0)
        fx += np.clip(ox, -0.5, 0.5)
        fy += np.clip(oy, -0.5, 0.5)
    bounds = np.searchsorted(parts, np.arange(k + 1))
    table = np.stack([fx, fy, scores], axis=1)
    return [table[bounds[j]:bounds[j + 1]] for j in range(k)]


def limb_scores(
    cand_a: np.ndarray, cand_b: np.ndarray, paf_x: np.ndarray, paf_y: np.ndarray,
    config: GroupingConfig, image_height: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(nA, nB) limb scores with distance prior, and a boolean of pairs passing both criteria."""
    ia, ib = _all_pairs(len(cand_a), len(cand_b))
    score, ok = _pair_scores(cand_a[ia, :2], cand_b[ib, :2], np.zeros(len(ia), dtype=np.intp),
                             np.stack([paf_x, paf_y]), config, image_height, prune=False)
    return score.reshape(len(cand_a), len(cand_b)), ok.reshape(len(cand_a), len(cand_b))


def _all_pairs(n_a: int, n_b: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (i, j) of every candidate pair, row-major (the reference parser's order)."""
    return np.divmod(np.arange(n_a * n_b), max(n_b, 1))


def _pair_scores(
    a: np.ndarray, b: np.ndarray, channel: np.ndarray, pafs: np.ndarray, config: GroupingConfig,
    image_height: int, prune: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores of N candidate limbs a → b (N, 2) read from PAF channels (channel, channel + 1),
    all limbs of an image in one vectorised pass; and whether each passes both criteria.

    Most pairs join parts of different people and leave the PAF at once: a few middle samples
    are read first and, with ``prune``, a pair with more failing samples than the fraction
    criterion allows is rejected before the other samples are read (its score is then NaN).
    Surviving pairs are sampled with the same formula, so their scores and verdicts are those of
    sampling all pairs (tested). With numba, one compiled loop reads each pair's samples until
    it fails (same verdicts and kept scores, to the bit).
    """
    s = config.num_samples
    need = int(np.floor(config.min_fraction * s)) + 1  # passing samples needed: count > frac·S
    max_fail = s - need
    t = np.linspace(0.0, 1.0, s)
    order = np.argsort(np.abs(t - 0.5), kind="stable")  # middle first
    if prune and USE_NUMBA and need <= s:
        return _numba_peaks.pair_scores(a, b, channel, pafs, t, order, config.paf_threshold,
                                        need, config.distance_ratio, image_height)
    score = np.full(len(a), np.nan)
    first = order[:max(max_fail + 1, 0)]
    if prune:
        fails = (_samples(a, b, channel, pafs, t[first]) <= config.paf_threshold).sum(-1)
        alive = np.flatnonzero(fails <= max_fail)
    else:
        alive = np.arange(len(a))
    samples = _samples(a[alive], b[alive], channel[alive], pafs, t)  # (n, S)
    sc = samples.mean(-1)  # eq. 11 by uniform sampling
    if config.distance_ratio > 0:
        norm = np.maximum(np.sqrt(((b[alive] - a[alive]) ** 2).sum(-1)), 1e-3)
        sc = sc + np.minimum(config.distance_ratio * image_height / norm - 1, 0)
    score[alive] = sc
    ok = np.zeros(len(a), dtype=bool)
    ok[alive] = ((samples > config.paf_threshold).sum(-1) >= need) & (sc > 0)
    return score, ok


def _samples(
    a: np.ndarray, b: np.ndarray, channel: np.ndarray, pafs: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """(N, len(t)) PAF projections L_c(p(u))·v at the points a + t·(b − a), rounded to pixels."""
    h, w = pafs.shape[1:]
    d = b - a
    norm = np.maximum(np.sqrt((d**2).sum(-1)), 1e-3)
    v = d / norm[:, None]
    ix = np.clip(np.rint(a[:, 0, None] + d[:, 0, None] * t).astype(np.intp), 0, w - 1)  # (N, S)
    iy = np.clip(np.rint(a[:, 1, None] + d[:, 1, None] * t).astype(np.intp), 0, h - 1)
    flat = pafs.reshape(-1)  # a view of the contiguous maps
    idx = (channel[:, None] * h + iy) * w + ix  # flat index: one gather instead of three
    return flat[idx] * v[:, 0, None] + flat[idx + h * w] * v[:, 1, None]


def match_limb(score: np.ndarray, valid: np.ndarray, matcher: str) -> np.ndarray:
    """Maximum-weight bipartite matching of one limb (eq. 13–15): (m, 3) rows (i, j, score)."""
    n_a, n_b = score.shape
    if not valid.any():
        return np.zeros((0, 3))
    if matcher == "hungarian":
        cost = np.where(valid, -score, 1e9)
        rows, cols = linear_sum_assignment(cost)
        keep = valid[rows, cols]
        rows, cols = rows[keep], cols[keep]
        return np.stack([rows, cols, score[rows, cols]], axis=1).astype(np.float64)
    ii, jj = np.nonzero(valid)  # row-major, as the reference enumerates (i, j)
    s = score[ii, jj]
    order = np.argsort(-s, kind="stable")
    used_a = np.zeros(n_a, dtype=bool)
    used_b = np.zeros(n_b, dtype=bool)
    out = []
    limit = min(n_a, n_b)
    for o in order:
        i, j = ii[o], jj[o]
        if not used_a[i] and not used_b[j]:
            used_a[i] = used_b[j] = True
            out.append((i, j, s[o]))
            if len(out) >= limit:
                break
    return np.asarray(out, dtype=np.float64).reshape(-1, 3)


def _assemble(
    connections: list[np.ndarray | None], limbs: tuple[tuple[int, int], ...],
    peak_scores: np.ndarray, num_parts: int, config: GroupingConfig,
) -> np.ndarray:
    """People as rows: peak id per part (−1 = none), total score, part count.

    Plain Python: a few hundred connections per image, where per-call NumPy overhead would
    dominate. The reference scans all people for each connection; here ``holders`` maps a peak id
    to the people holding it (a peak of part a only ever sits in slot a), and people are keyed by
    creation number, which is their order in the reference's list (merges delete, news append).
    """
    ids: dict[int, list[int]] = {}  # person → peak id per part
    stats: dict[int, list[float]] = {}  # person → [total score, part count]
    holders: dict[int, set[int]] = {}  # peak id → people holding it
    scores = peak_scores.tolist()
    next_id = 0

    def put(person: int, part: int, peak: int) -> None:
        old = ids[person][part]
        if old >= 0:
            holders[old].discard(person)
        ids[person][part] = peak
        holders.setdefault(peak, set()).add(person)

    for k, conn in enumerate(connections):
        if conn is None or len(conn) == 0:
            continue
        a, b = limbs[k]
        for pa, pb, s in conn.tolist():
            pa, pb = int(pa), int(pb)
            hits = sorted(holders.get(pa, set()) | holders.get(pb, set()))[:2]
            if len(hits) == 1 or (len(hits) == 2 and any(x >= 0 and y >= 0 for x, y in zip(
                    ids[hits[0]], ids[hits[1]], strict=True))):
                # One person holds an end; or two that share a part (conflict), and the first
                # takes the end. Extend, or overwrite a conflicting end, as the parser does; with
                # one person, only if the end changes.
                j = hits[0]
                if len(hits) == 2 or ids[j][b] != pb:
                    put(j, b, pb)
                    stats[j][1] += 1
                    stats[j][0] += scores[pb] + s
            elif len(hits) == 2:  # two disjoint people hold the two ends: merge them
                j1, j2 = hits
                for part, peak in enumerate(ids[j2]):
                    if peak >= 0:
                        holders[peak].discard(j2)
                        put(j1, part, peak)
                stats[j1][0] += stats[j2][0] + s
                stats[j1][1] += stats[j2][1]
                del ids[j2], stats[j2]
            elif k < config.tree_limbs:  # a new person from a tree limb
                j = next_id
                next_id += 1
                ids[j] = [-1] * num_parts
                put(j, a, pa)
                put(j, b, pb)
                stats[j] = [scores[pa] + scores[pb] + s, 2.0]
    if not ids:
        return np.zeros((0, num_parts + 2))
    st = np.asarray(list(stats.values()), dtype=np.float64)
    keep = (st[:, 1] >= config.min_parts) & (st[:, 0] / st[:, 1] >= config.min_mean_score)
    rows = np.asarray(list(ids.values()), dtype=np.float64)
    return np.concatenate([rows[keep], st[keep]], axis=1)


def group_people(
    heatmaps: np.ndarray, pafs: np.ndarray, config: GroupingConfig | None = None,
    skeleton: Skeleton = OPENPOSE18,
) -> PoseInstances:
    """Assemble people from confidence maps and PAFs at image resolution.

    Args:
        heatmaps: (K, H, W) or (K + 1, H, W) maps (a trailing background channel is ignored).
        pafs: (2·L, H, W) PAFs in the skeleton's channel order (CMU's for OpenPose-18).
        config: grouping parameters; default :meth:`GroupingConfig.cmu`.
        skeleton: part set of the maps (OpenPose-18).

    Returns:
        COCO-17 people (or OpenPose-18 with ``config.output``) in map = image pixels; keypoint
        confidence is the peak's map value, the person score CMU's total score / part count.
    """
    config = config or GroupingConfig.cmu()
    all_peaks, people = assemble_people(heatmaps, pafs, config, skeleton)
    return people_to_instances(people, all_peaks, skeleton, config.output)


def assemble_people(
    heatmaps: np.ndarray, pafs: np.ndarray, config: GroupingConfig, skeleton: Skeleton = OPENPOSE18
) -> tuple[np.ndarray, np.ndarray]:
    """The raw result of grouping, in pytorch-openpose's layout.

    Returns ``peaks`` (P, 3): (x, y, score) of every peak, numbered part by part; and ``people``
    (N, K + 2): the peak id of each part (−1 = none), the total score, the part count.
    """
    heatmaps = np.asarray(heatmaps)
    pafs = np.ascontiguousarray(pafs)
    k = skeleton.num_keypoints
    n_limbs = len(skeleton.limbs)
    if heatmaps.ndim != 3 or heatmaps.shape[0] not in (k, k + 1):
        raise ValueError(f"group_people: heatmaps must be ({k} or {k + 1}, H, W) for "
                         f"{skeleton.name}, got {heatmaps.shape}")
    if pafs.shape != (2 * n_limbs, *heatmaps.shape[1:]):
        raise ValueError(f"group_people: pafs must be ({2 * n_limbs}, H, W) matching heatmaps "
                         f"{heatmaps.shape[1:]}, got {pafs.shape}")
    peaks = find_peaks(heatmaps[:k], config)
    offsets = np.cumsum([0] + [len(p) for p in peaks])
    all_peaks = np.concatenate(peaks) if offsets[-1] else np.zeros((0, 3))
    if USE_NUMBA:
        return all_peaks, _assemble_compiled(all_peaks, offsets, pafs, config, skeleton)
    # All candidate limbs of all limb types scored in one pass, pairs (i, j) row-major per limb.
    order = skeleton.paf_channel_order
    pa_all, pb_all, ch_all, counts = [], [], [], []
    for i, (a, b) in enumerate(skeleton.limbs):
        ia, ib = _all_pairs(len(peaks[a]), len(peaks[b]))
        pa_all.append(ia + offsets[a])
        pb_all.append(ib + offsets[b])
        ch_all.append(np.full(len(ia), 2 * order[i], dtype=np.intp))
        counts.append(len(ia))
    pa_all, pb_all = np.concatenate(pa_all), np.concatenate(pb_all)
    score, valid = _pair_scores(all_peaks[pa_all, :2], all_peaks[pb_all, :2],
                                np.concatenate(ch_all), pafs, config, heatmaps.shape[1])
    connections: list[np.ndarray | None] = []
    bounds = np.cumsum([0, *counts])
    for i, (a, b) in enumerate(skeleton.limbs):
        if counts[i] == 0:
            connections.append(None)
            continue
        shape = (len(peaks[a]), len(peaks[b]))
        lo, hi = bounds[i], bounds[i + 1]
        m = match_limb(score[lo:hi].reshape(shape), valid[lo:hi].reshape(shape), config.matcher)
        m[:, 0] += offsets[a]  # candidate index → global peak id
        m[:, 1] += offsets[b]
        connections.append(m)
    return all_peaks, _assemble(connections, skeleton.limbs, all_peaks[:, 2], k, config)


def _assemble_compiled(
    all_peaks: np.ndarray, offsets: np.ndarray, pafs: np.ndarray, config: GroupingConfig,
    skeleton: Skeleton,
) -> np.ndarray:
    """Steps 2–4 of :func:`assemble_people` with the numba kernels: the same candidate pairs,
    connections and people as the Python path, without its per-limb and per-connection loops.

    Args:
        all_peaks: (P, 3) peaks (x, y, score), numbered part by part.
        offsets: (K + 1,) first peak id of each part, then P.
    """
    limbs = np.asarray(skeleton.limbs, dtype=np.int64).reshape(-1, 2)
    limb_a, limb_b = limbs[:, 0].copy(), limbs[:, 1].copy()
    sizes = np.diff(offsets).astype(np.int64)
    n_a, n_b = sizes[limb_a], sizes[limb_b]
    off_a, off_b = offsets[limb_a].astype(np.int64), offsets[limb_b].astype(np.int64)
    channel = 2 * np.asarray(skeleton.paf_channel_order, dtype=np.int64)
    xy = np.ascontiguousarray(all_peaks[:, :2], dtype=np.float64)
    a, b, ch, bounds = _numba_assemble.limb_pairs(xy, n_a, n_b, off_a, off_b, channel)
    score, valid = _pair_scores(a, b, ch, pafs, config, pafs.shape[1])
    if config.matcher == "greedy":
        conn = _numba_assemble.greedy_match(np.asarray(score, dtype=np.float64), valid, bounds,
                                            n_a, n_b, off_a, off_b)
    else:  # scipy's Hungarian matching per limb, as the Python path
        connections: list[np.ndarray | None] = []
        for i in range(len(limbs)):
            lo, hi = bounds[i], bounds[i + 1]
            m = match_limb(score[lo:hi].reshape(n_a[i], n_b[i]),
                           valid[lo:hi].reshape(n_a[i], n_b[i]), config.matcher)
            connections.append(m + [off_a[i], off_b[i], 0])  # candidate index → global peak id
        conn = _flat_connections(connections)
    return _numba_assemble.assemble(*conn, limb_a, limb_b, np.ascontiguousarray(all_peaks[:, 2]),
                                    len(offsets) - 1, int(config.tree_limbs),
                                    int(config.min_parts), float(config.min_mean_score))


def _flat_connections(
    connections: list[np.ndarray | None],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-limb (m, 3) connections (pa, pb, score) as the compiled assembly takes them: peak ids
    pa, pb (int64), scores (float64) of all limbs concatenated, and each limb's [lo, hi) rows."""
    rows = np.cumsum([0] + [0 if c is None else len(c) for c in connections]).astype(np.int64)
    parts = [c for c in connections if c is not None and len(c)]
    flat = np.concatenate(parts).astype(np.float64) if parts else np.zeros((0, 3))
    return (flat[:, 0].astype(np.int64), flat[:, 1].astype(np.int64),
            np.ascontiguousarray(flat[:, 2]), rows)


def people_to_instances(
    people: np.ndarray, all_peaks: np.ndarray, skeleton: Skeleton, output: str = "coco17"
) -> PoseInstances:
    """Rows of (peak id per part, total score, part count) → PoseInstances."""
    k = skeleton.num_keypoints
    kpts = np.zeros((len(people), k, 3), dtype=np.float32)
    ids = people[:, :k].astype(np.int64)
    has = ids >= 0
    kpts[has] = all_peaks[ids[has]]
    scores = people[:, k] / np.maximum(people[:, k + 1], 1) if len(people) else np.zeros(0)
    if output == "coco17" and skeleton is OPENPOSE18:
        kpts = convert_keypoints(kpts, OPENPOSE18, COCO17)
    if len(kpts) == 0:
        return PoseInstances.empty(kpts.shape[1])
    return PoseInstances.from_keypoints(torch.from_numpy(kpts),
                                        torch.from_numpy(scores.astype(np.float32)))
