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
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from posekit.skeletons import COCO17, OPENPOSE18, Skeleton, convert_keypoints
from posekit.structures import PoseInstances

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


def find_peaks(
    heatmaps: np.ndarray, config: GroupingConfig
) -> list[np.ndarray]:
    """Per part, an (n, 3) array of (x, y, score) peaks in row-major (y, then x) order."""
    sm = smooth(heatmaps, config.smooth_sigma)
    k, h, w = sm.shape
    # Threshold first, then compare only those pixels with their 4 neighbours (outside = 0).
    parts, ys, xs = np.nonzero(sm > config.peak_threshold)
    v = sm[parts, ys, xs]
    keep = np.ones(len(v), dtype=bool)
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        ny, nx = ys + dy, xs + dx
        inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
        nb = np.zeros(len(v), dtype=sm.dtype)
        nb[inside] = sm[parts[inside], ny[inside], nx[inside]]
        keep &= v >= nb
    parts, ys, xs = parts[keep], ys[keep], xs[keep]
    if config.max_peaks > 0 and len(parts):
        vals = v[keep]
        sel = np.zeros(len(parts), dtype=bool)
        starts = np.searchsorted(parts, np.arange(k + 1))
        for j in range(k):
            lo, hi = starts[j], starts[j + 1]
            if hi - lo > config.max_peaks:
                top = np.argsort(-vals[lo:hi], kind="stable")[: config.max_peaks]
                sel[lo + top] = True
            else:
                sel[lo:hi] = True
        parts, ys, xs = parts[sel], ys[sel], xs[sel]
    scores = np.asarray(heatmaps)[parts, ys, xs].astype(np.float64)
    fx = xs.astype(np.float64)
    fy = ys.astype(np.float64)
    if config.subpixel:
        # Quadratic fit through the peak and its neighbours (clamped at the border).
        xl, xr = np.maximum(xs - 1, 0), np.minimum(xs + 1, w - 1)
        yu, yd = np.maximum(ys - 1, 0), np.minimum(ys + 1, h - 1)
        v = sm[parts, ys, xs].astype(np.float64)
        left, right = sm[parts, ys, xl].astype(np.float64), sm[parts, ys, xr].astype(np.float64)
        up, down = sm[parts, yu, xs].astype(np.float64), sm[parts, yd, xs].astype(np.float64)
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
    h, w = paf_x.shape
    d = cand_b[None, :, :2] - cand_a[:, None, :2]  # (nA, nB, 2)
    norm = np.maximum(np.sqrt((d**2).sum(-1)), 1e-3)
    v = d / norm[..., None]
    t = np.linspace(0.0, 1.0, config.num_samples)
    px = cand_a[:, None, None, 0] + d[..., None, 0] * t  # (nA, nB, S)
    py = cand_a[:, None, None, 1] + d[..., None, 1] * t
    ix = np.clip(np.rint(px).astype(np.intp), 0, w - 1)
    iy = np.clip(np.rint(py).astype(np.intp), 0, h - 1)
    samples = paf_x[iy, ix] * v[..., None, 0] + paf_y[iy, ix] * v[..., None, 1]  # L_c(p(u))·v
    score = samples.mean(-1)  # eq. 11 by uniform sampling
    if config.distance_ratio > 0:
        score = score + np.minimum(config.distance_ratio * image_height / norm - 1, 0)
    frac_ok = (samples > config.paf_threshold).sum(-1) > config.min_fraction * config.num_samples
    return score, frac_ok & (score > 0)


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
    """People as rows: peak id per part (−1 = none), total score, part count."""
    rows: list[np.ndarray] = []
    ids = np.full((0, num_parts), -1, dtype=np.int64)  # mirror of rows[:, :K] for searching
    for k, conn in enumerate(connections):
        if conn is None or len(conn) == 0:
            continue
        a, b = limbs[k]
        for pa, pb, s in conn:
            pa, pb = int(pa), int(pb)
            hits = np.flatnonzero((ids[:, a] == pa) | (ids[:, b] == pb))[:2]
            if len(hits) == 1:
                j = hits[0]
                if ids[j, b] != pb:  # extend (or overwrite a conflicting end, as the parser)
                    ids[j, b] = pb
                    rows[j][1] += 1
                    rows[j][0] += peak_scores[pb] + s
            elif len(hits) == 2 and ((ids[hits[0]] >= 0) & (ids[hits[1]] >= 0)).any():
                j = hits[0]  # conflict: the two people share a part; the first takes the end
                ids[j, b] = pb
                rows[j][1] += 1
                rows[j][0] += peak_scores[pb] + s
            elif len(hits) == 2:  # two disjoint people hold the two ends: merge them
                j1, j2 = hits
                ids[j1] = np.where(ids[j1] >= 0, ids[j1], ids[j2])
                rows[j1][0] += rows[j2][0] + s
                rows[j1][1] += rows[j2][1]
                ids = np.delete(ids, j2, axis=0)
                del rows[j2]
            elif k < config.tree_limbs:  # a new person from a tree limb
                row_ids = np.full((1, num_parts), -1, dtype=np.int64)
                row_ids[0, a], row_ids[0, b] = pa, pb
                ids = np.concatenate([ids, row_ids])
                rows.append(np.array([peak_scores[pa] + peak_scores[pb] + s, 2.0]))
    if not rows:
        return np.zeros((0, num_parts + 2))
    stats = np.stack(rows)
    keep = (stats[:, 1] >= config.min_parts) & (stats[:, 0] / stats[:, 1] >= config.min_mean_score)
    return np.concatenate([ids[keep].astype(np.float64), stats[keep]], axis=1)


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
    pafs = np.asarray(pafs)
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
    order = skeleton.paf_channel_order
    connections: list[np.ndarray | None] = []
    for i, (a, b) in enumerate(skeleton.limbs):
        cand_a, cand_b = peaks[a], peaks[b]
        if len(cand_a) == 0 or len(cand_b) == 0:
            connections.append(None)
            continue
        c = order[i]
        score, valid = limb_scores(cand_a, cand_b, pafs[2 * c], pafs[2 * c + 1], config,
                                   heatmaps.shape[1])
        m = match_limb(score, valid, config.matcher)
        m[:, 0] += offsets[a]  # candidate index → global peak id
        m[:, 1] += offsets[b]
        connections.append(m)
    return all_peaks, _assemble(connections, skeleton.limbs, all_peaks[:, 2], k, config)


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
