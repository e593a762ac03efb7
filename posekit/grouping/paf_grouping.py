"""Bottom-up grouping of OpenPose maps into people (talk §20–§21; Cao et al., TPAMI 2019 §3.4).

Four steps, vectorised over candidates with NumPy/OpenCV where there are many:

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


def _gaussian_kernel(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """scipy.ndimage.gaussian_filter's 1-D taps: radius ⌊truncate·σ + 0.5⌋, normalised to Σ = 1."""
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _smooth_near(maps: np.ndarray, sigma: float, threshold: float) -> np.ndarray:
    """scipy.ndimage.gaussian_filter(map, σ) per channel (reflect border, radius r = 4σ), via
    OpenCV in float32, computed only where a value can exceed ``threshold`` or neighbour one
    that does; 0 elsewhere.

    The Gaussian is non-negative with Σ = 1, so a smoothed value > threshold needs a raw value
    > threshold within r. Per part, each band of rows holding such values is filtered on the
    rectangle within r + 1 of them (the peak test reads 4-neighbours), read with r pixels of
    context: a crop edge inside the map is then ≥ r from every kept pixel, and one on the map's
    border reflects as the whole map would.
    """
    kern = _gaussian_kernel(sigma).astype(np.float32)
    r = len(kern) // 2
    k, h, w = maps.shape
    out = np.zeros_like(maps)
    hot = maps > threshold
    for j in np.flatnonzero(hot.any(axis=(1, 2))):
        rows = np.flatnonzero(hot[j].any(axis=1))
        for band in np.split(rows, np.flatnonzero(np.diff(rows) > 2 * r + 2) + 1):
            cols = np.flatnonzero(hot[j, band[0]:band[-1] + 1].any(axis=0))
            y0, y1 = max(band[0] - r - 1, 0), min(band[-1] + r + 2, h)  # the kept rectangle
            x0, x1 = max(cols[0] - r - 1, 0), min(cols[-1] + r + 2, w)
            ya, xa = max(y0 - r, 0), max(x0 - r, 0)  # the crop: the rectangle with context
            crop = maps[j, ya:min(y1 + r, h), xa:min(x1 + r, w)]
            sm = cv2.sepFilter2D(crop, cv2.CV_32F, kern, kern, borderType=cv2.BORDER_REFLECT)
            out[j, y0:y1, x0:x1] = sm[y0 - ya:y1 - ya, x0 - xa:x1 - xa]
    return out


def _peak_pixels(
    maps: np.ndarray, sigma: float, threshold: float
) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """The (part, y, x) pixels of the smoothed maps above ``threshold`` and ≥ their 4 neighbours
    (outside the map = 0), row-major per part; and the (K, H, W) smoothed maps (exact wherever
    the peak test or the sub-pixel fit reads them)."""
    maps = np.ascontiguousarray(maps, dtype=np.float32)
    k, h, w = maps.shape
    sm = _smooth_near(maps, sigma, threshold) if sigma > 0 else maps
    # flatnonzero + unravel: np.nonzero on a 3-D mask is ~10× slower
    parts, ys, xs = np.unravel_index(np.flatnonzero(sm > threshold), sm.shape)
    v = sm[parts, ys, xs]
    keep = np.ones(len(v), dtype=bool)
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        ny, nx = ys + dy, xs + dx
        inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
        nb = np.zeros(len(v), dtype=sm.dtype)
        nb[inside] = sm[parts[inside], ny[inside], nx[inside]]
        keep &= v >= nb
    return (parts[keep], ys[keep], xs[keep]), sm


def find_peaks(
    heatmaps: np.ndarray, config: GroupingConfig
) -> list[np.ndarray]:
    """Per part, an (n, 3) array of (x, y, score) peaks in row-major (y, then x) order."""
    heatmaps = np.asarray(heatmaps)
    k, h, w = heatmaps.shape
    (parts, ys, xs), sm = _peak_pixels(heatmaps, config.smooth_sigma, config.peak_threshold)
    if config.max_peaks > 0 and len(parts):
        v = sm[parts, ys, xs]
        sel = np.zeros(len(parts), dtype=bool)
        starts = np.searchsorted(parts, np.arange(k + 1))
        for j in range(k):
            lo, hi = starts[j], starts[j + 1]
            if hi - lo > config.max_peaks:
                top = np.argsort(-v[lo:hi], kind="stable")[: config.max_peaks]
                sel[lo + top] = True
            else:
                sel[lo:hi] = True
        parts, ys, xs = parts[sel], ys[sel], xs[sel]
    scores = heatmaps[parts, ys, xs].astype(np.float64)
    fx = xs.astype(np.float64)
    fy = ys.astype(np.float64)
    if config.subpixel:
        # Quadratic fit through the peak and its neighbours (clamped at the border).
        def at(y: np.ndarray, x: np.ndarray) -> np.ndarray:
            return sm[parts, np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)].astype(np.float64)

        v, up, down = at(ys, xs), at(ys - 1, xs), at(ys + 1, xs)
        left, right = at(ys, xs - 1), at(ys, xs + 1)
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
                             np.stack([paf_x, paf_y]), config, image_height)
    return score.reshape(len(cand_a), len(cand_b)), ok.reshape(len(cand_a), len(cand_b))


def _all_pairs(n_a: int, n_b: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (i, j) of every candidate pair, row-major (the reference parser's order)."""
    return np.divmod(np.arange(n_a * n_b), max(n_b, 1))


def _pair_scores(
    a: np.ndarray, b: np.ndarray, channel: np.ndarray, pafs: np.ndarray, config: GroupingConfig,
    image_height: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores of N candidate limbs a → b (N, 2) read from PAF channels (channel, channel + 1),
    all limbs of an image in one vectorised pass; and whether each passes both criteria."""
    samples = _samples(a, b, channel, pafs, np.linspace(0.0, 1.0, config.num_samples))  # (N, S)
    score = samples.mean(-1)  # eq. 11 by uniform sampling
    if config.distance_ratio > 0:
        norm = np.maximum(np.sqrt(((b - a) ** 2).sum(-1)), 1e-3)
        score = score + np.minimum(config.distance_ratio * image_height / norm - 1, 0)
    passing = (samples > config.paf_threshold).sum(-1)
    return score, (passing > config.min_fraction * config.num_samples) & (score > 0)


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
