"""The compiled matching and assembly (numba, optional) give the Python path's people exactly."""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from test_peak_search import _both, _scene

from posekit.grouping import GroupingConfig, assemble_people, match_limb, paf_grouping
from posekit.grouping.scenes import random_people, render_maps
from posekit.skeletons import OPENPOSE18

pytest.importorskip("numba")
from posekit.grouping import _numba_assemble  # noqa: E402  (needs numba)

CONFIGS = {
    "cmu": GroupingConfig.cmu(),
    "keep_all": GroupingConfig(min_parts=0, min_mean_score=0.0),
    "strict": GroupingConfig(min_parts=8, min_mean_score=0.7),
    "tree_12": GroupingConfig(tree_limbs=12),  # limbs from 12 on only extend or merge
    "tree_all": GroupingConfig(tree_limbs=19, min_parts=2),
    "hungarian": GroupingConfig(matcher="hungarian"),
    "hungarian_keep_all": GroupingConfig(matcher="hungarian", min_parts=0, min_mean_score=0.0),
}


def _maps(n: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Rendered maps of n people at 368×368 (each test renders one: it costs seconds).

    "grid": apart, 20 % of limb ends missing. "crossing": half of them on a grid, the other half
    copies of the first people shifted by about half a body width, so that limbs of the two cross
    and their maps overlap, 30 % of limb ends missing.
    """
    if kind == "grid":
        return _scene(n, (368, 368), seed=n)
    rng = np.random.default_rng(n)
    m = n - n // 2
    people = random_people(m, (368, 368), rng, missing=0.3)
    twins = random_people(m, (368, 368), rng, missing=0.3)[: n // 2]
    twins[..., 0] += 9.0 + rng.normal(0, 2, (len(twins), 1))
    twins[..., 1] += 14.0 + rng.normal(0, 2, (len(twins), 1))
    hm, paf = render_maps(np.concatenate([people, twins]), (368, 368), sigma=3.0, limb_width=2.0)
    noise = gaussian_filter(rng.normal(0, 0.03, hm.shape), (0, 2, 2))
    return (hm * 0.9 + noise).astype(np.float32), paf


@pytest.mark.parametrize("kind", ["grid", "crossing"])
@pytest.mark.parametrize("n", [1, 5, 20, 50])
def test_same_people_as_python_path(n, kind, monkeypatch):
    hm, paf = _maps(n, kind)
    for cfg in CONFIGS.values():
        (pk, pp), (nk, nq) = _both(monkeypatch, lambda cfg=cfg: assemble_people(hm, paf, cfg))
        np.testing.assert_array_equal(nk, pk)
        np.testing.assert_array_equal(nq, pp)  # same parts, order and scores (to the bit)


def test_no_peaks_and_no_pairs(monkeypatch):
    """Empty maps, and maps with one part only (no limb has both ends)."""
    hm = np.zeros((19, 64, 64), dtype=np.float32)
    paf = np.zeros((38, 64, 64), dtype=np.float32)
    hm[3, 30, 30] = 1.0
    for maps in (np.zeros_like(hm), hm):
        (pk, pp), (nk, nq) = _both(monkeypatch, lambda maps=maps: assemble_people(
            maps, paf, GroupingConfig(smooth_sigma=0)))
        np.testing.assert_array_equal(nk, pk)
        np.testing.assert_array_equal(nq, pp)
        assert nq.shape == (0, 20)


def _compiled_match(scores: list[np.ndarray], valids: list[np.ndarray], offsets_a: list[int],
                    offsets_b: list[int]) -> list[np.ndarray]:
    """Per-limb (m, 3) connections of :func:`_numba_assemble.greedy_match` on flattened limbs."""
    n_a = np.array([s.shape[0] for s in scores], dtype=np.int64)
    n_b = np.array([s.shape[1] for s in scores], dtype=np.int64)
    bounds = np.cumsum([0, *(n_a * n_b)]).astype(np.int64)
    flat_s = np.concatenate([s.ravel() for s in scores]).astype(np.float64)
    flat_v = np.concatenate([v.ravel() for v in valids])
    pa, pb, s, rows = _numba_assemble.greedy_match(
        flat_s, flat_v, bounds, n_a, n_b, np.asarray(offsets_a, dtype=np.int64),
        np.asarray(offsets_b, dtype=np.int64))
    conn = np.stack([pa, pb, s], axis=1)
    return [conn[rows[k]:rows[k + 1]] for k in range(len(scores))]


def test_greedy_match_ties_and_shapes():
    """Scores from a few values (many ties: row-major order decides), random valid masks, more
    candidates on either side, all valid (stops after min(nA, nB)), none valid, empty limbs."""
    rng = np.random.default_rng(0)
    shapes = [(5, 7), (7, 5), (6, 6), (1, 9), (9, 1), (0, 4), (4, 0), (0, 0), (12, 11), (3, 3)]
    scores, valids = [], []
    for k, shape in enumerate(shapes):
        scores.append(rng.choice([0.25, 0.5, 0.75, 1.0], size=shape))
        if k == 2:
            valids.append(np.ones(shape, dtype=bool))
        elif k == 9:
            valids.append(np.zeros(shape, dtype=bool))
        else:
            valids.append(rng.random(shape) < 0.6)
    scores[4][:] = 0.5  # one tie of all pairs
    off_a = [int(x) for x in rng.integers(0, 100, len(shapes))]
    off_b = [int(x) for x in rng.integers(0, 100, len(shapes))]
    got = _compiled_match(scores, valids, off_a, off_b)
    ties = 0
    for k in range(len(shapes)):
        ref = match_limb(scores[k], valids[k], "greedy")
        ref[:, 0] += off_a[k]
        ref[:, 1] += off_b[k]
        np.testing.assert_array_equal(got[k], ref)
        ties += len(ref) - len(np.unique(ref[:, 2]))
    assert ties > 10
    assert len(got[2]) == 6 and len(got[9]) == 0 and len(got[7]) == 0


def _both_assemblies(connections, limbs, peak_scores, num_parts, cfg):
    ref = paf_grouping._assemble(connections, limbs, peak_scores, num_parts, cfg)
    arr = np.asarray(limbs, dtype=np.int64).reshape(-1, 2)
    got = _numba_assemble.assemble(*paf_grouping._flat_connections(connections),
                                   arr[:, 0].copy(), arr[:, 1].copy(), peak_scores, num_parts,
                                   cfg.tree_limbs, cfg.min_parts, float(cfg.min_mean_score))
    np.testing.assert_array_equal(got, ref)
    return got


def test_assembly_branches_by_hand():
    """Five parts with peaks 3p, 3p + 1, 3p + 2; tree limbs 0–3, then redundant (0, 2), (2, 4).
    Each branch of the parser, in this order: new people, extend, an end already held (no
    change), merge of two disjoint people, conflict (two people that share parts: the first
    overwrites), a redundant limb held by nobody (skipped), more than two holders (the first
    two in creation order), one holder with another peak in the slot (overwritten)."""
    limbs = ((0, 1), (1, 2), (2, 3), (3, 4), (0, 2), (2, 4))
    peak_scores = 0.5 + np.arange(15) / 64  # exact in binary: sums have no rounding to hide
    c = [
        [(0, 3, 0.25), (1, 4, 0.375)],  # new P0 {0, 3}, new P1 {1, 4}
        [(3, 6, 0.5), (5, 7, 0.625), (3, 6, 0.75)],  # P0 + 6; new P2 {5, 7}; P0 holds 6
        [(8, 9, 0.125)],  # new P3 {8, 9}
        [(9, 12, 0.875)],  # P3 + 12
        [(1, 8, 0.25), (0, 7, 0.5), (2, 6, 0.5)],  # merge P3 into P1; P0 ∩ P2 → P0 slot 2 = 7;
        [(7, 12, 0.375), (8, 13, 0.625)],  # 7 in P0, P2, 12 in P1 → P0 + 12; P1 12 → 13
    ]
    connections = [np.asarray(x, dtype=np.float64) for x in c]
    cfg = GroupingConfig(tree_limbs=4, min_parts=0, min_mean_score=0.0)
    got = _both_assemblies(connections, limbs, peak_scores, 5, cfg)
    np.testing.assert_array_equal(got[:, :5], [[0, 3, 7, -1, 12], [1, 4, 8, 9, 13],
                                               [-1, 5, 7, -1, -1]])
    np.testing.assert_array_equal(got[:, 6], [5, 6, 2])
    s = peak_scores
    p1 = (s[1] + s[4] + 0.375) + ((s[8] + s[9] + 0.125) + (s[12] + 0.875) + 0.25) + (s[13] + 0.625)
    assert got[1, 5] == pytest.approx(p1, abs=1e-12)
    # The filters: parts, then mean score; a person dropped only after all connections.
    for min_parts, min_mean in [(3, 0.0), (6, 0.0), (0, got[0, 5] / 5), (0, 10.0)]:
        cfg = GroupingConfig(tree_limbs=4, min_parts=min_parts, min_mean_score=min_mean)
        _both_assemblies(connections, limbs, peak_scores, 5, cfg)
    # No connections at all, and limbs without any.
    _both_assemblies([None] * 6, limbs, peak_scores, 5, cfg)
    _both_assemblies([None, connections[0], np.zeros((0, 3))] + [None] * 3, limbs, peak_scores, 5,
                     GroupingConfig(min_parts=0))


@pytest.mark.parametrize("seed", range(6))
def test_assembly_random_connections(seed):
    """Random connections on OpenPose-18 limbs (ends reused within and across limbs, so merges,
    conflicts and 3+ holders are common; over 64 people, so the compiled arrays grow) under
    several filters and tree sizes: same rows as the Python assembly, to the bit."""
    rng = np.random.default_rng(seed)
    per_part = rng.integers(0, 40 if seed % 2 else 150, 18)
    offsets = np.concatenate([[0], np.cumsum(per_part)])
    peak_scores = rng.random(offsets[-1])
    connections: list[np.ndarray | None] = []
    for a, b in OPENPOSE18.limbs:
        if per_part[a] == 0 or per_part[b] == 0 or rng.random() < 0.1:
            connections.append(None)
            continue
        m = int(rng.integers(0, min(per_part[a], per_part[b]) + 3))
        pa = offsets[a] + rng.integers(0, per_part[a], m)
        pb = offsets[b] + rng.integers(0, per_part[b], m)
        connections.append(np.stack([pa, pb, rng.random(m)], axis=1).astype(np.float64))
    for tree, min_parts, min_mean in [(17, 4, 0.4), (19, 0, 0.0), (10, 3, 0.6), (0, 0, 0.0)]:
        cfg = GroupingConfig(tree_limbs=tree, min_parts=min_parts, min_mean_score=min_mean)
        _both_assemblies(connections, OPENPOSE18.limbs, peak_scores, 18, cfg)
