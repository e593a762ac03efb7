"""Numba kernels of steps 3–4 of :mod:`posekit.grouping.paf_grouping` (the extra ``fast``).

Candidate pairs of all limbs, greedy matching of all limbs, and the assembly of people, each as
one compiled call instead of a Python loop per limb and per connection. They return the Python
path's connections and people exactly: same order, float64 sums in the same order, so the
scores are equal to the bit (tests/grouping/test_numba_assemble.py). Importing this module needs
numba.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["assemble", "greedy_match", "limb_pairs"]


@numba.njit(cache=True)
def limb_pairs(xy, n_a, n_b, off_a, off_b, channel):  # pragma: no cover - compiled
    """Every candidate pair (i, j) of every limb, row-major per limb, limbs concatenated.

    ``xy`` (P, 2): peak positions by global peak id; per limb, ``n_a``, ``n_b``: its
    candidates, ``off_a``, ``off_b``: their first peak id, ``channel``: its PAF x channel.
    Returns the (N, 2) positions of both ends (``xy[pa]``, ``xy[pb]`` without NumPy's slow 2-D
    gather), the channel of each pair and each limb's [lo, hi) bounds (L + 1,).
    """
    n_limbs = n_a.shape[0]
    bounds = np.zeros(n_limbs + 1, dtype=np.int64)
    for k in range(n_limbs):
        bounds[k + 1] = bounds[k] + n_a[k] * n_b[k]
    a = np.empty((bounds[n_limbs], 2))
    b = np.empty((bounds[n_limbs], 2))
    ch = np.empty(bounds[n_limbs], dtype=np.int64)
    for k in range(n_limbs):
        p = bounds[k]
        for i in range(n_a[k]):
            ax, ay = xy[off_a[k] + i, 0], xy[off_a[k] + i, 1]
            for j in range(n_b[k]):
                a[p, 0] = ax
                a[p, 1] = ay
                b[p, 0] = xy[off_b[k] + j, 0]
                b[p, 1] = xy[off_b[k] + j, 1]
                ch[p] = channel[k]
                p += 1
    return a, b, ch, bounds


@numba.njit(cache=True)
def greedy_match(score, valid, bounds, n_a, n_b, off_a, off_b):  # pragma: no cover - compiled
    """``match_limb(..., "greedy")`` of all limbs in one call.

    Per limb k, pairs [bounds[k], bounds[k + 1]) of ``score``/``valid`` are its (n_a, n_b)
    matrix, row-major. Its valid pairs in row-major order, stable-sorted by descending score
    (ties keep row-major order, as ``np.argsort(-s, kind="stable")``), each candidate used once,
    at most min(n_a, n_b) connections. Returns the connections' global peak ids (pa, pb), their
    scores, and each limb's [lo, hi) rows in them (L + 1,).
    """
    n_limbs = n_a.shape[0]
    cap = 0
    most_a, most_b, most_pairs = 1, 1, 1
    for k in range(n_limbs):
        cap += min(n_a[k], n_b[k])
        most_a, most_b = max(most_a, n_a[k]), max(most_b, n_b[k])
        most_pairs = max(most_pairs, bounds[k + 1] - bounds[k])
    out_a = np.empty(cap, dtype=np.int64)
    out_b = np.empty(cap, dtype=np.int64)
    out_s = np.empty(cap, dtype=np.float64)
    limb_rows = np.zeros(n_limbs + 1, dtype=np.int64)
    idx = np.empty(most_pairs, dtype=np.int64)
    neg = np.empty(most_pairs, dtype=np.float64)
    used_a = np.zeros(most_a, dtype=np.bool_)
    used_b = np.zeros(most_b, dtype=np.bool_)
    c = 0
    for k in range(n_limbs):
        lo, hi, nb = bounds[k], bounds[k + 1], n_b[k]
        m = 0
        for p in range(lo, hi):
            if valid[p]:
                idx[m] = p
                neg[m] = -score[p]
                m += 1
        if m > 0:
            order = np.argsort(neg[:m], kind="mergesort")  # numba's mergesort is stable
            used_a[:n_a[k]] = False
            used_b[:nb] = False
            limit = c + min(n_a[k], nb)
            for o in order:
                i = (idx[o] - lo) // nb
                j = (idx[o] - lo) % nb
                if not used_a[i] and not used_b[j]:
                    used_a[i] = True
                    used_b[j] = True
                    out_a[c] = off_a[k] + i
                    out_b[c] = off_b[k] + j
                    out_s[c] = score[idx[o]]
                    c += 1
                    if c >= limit:
                        break
        limb_rows[k + 1] = c
    return out_a[:c], out_b[:c], out_s[:c], limb_rows


@numba.njit(cache=True)
def _grow_people(ids, stats, alive, cap):  # pragma: no cover - compiled
    new_ids = np.full((cap, ids.shape[1]), -1, dtype=np.int64)
    new_ids[:ids.shape[0]] = ids
    new_stats = np.zeros((cap, 2))
    new_stats[:stats.shape[0]] = stats
    new_alive = np.zeros(cap, dtype=np.bool_)
    new_alive[:alive.shape[0]] = alive
    return new_ids, new_stats, new_alive


@numba.njit(cache=True)
def assemble(conn_a, conn_b, conn_s, limb_rows, limb_a, limb_b, peak_scores, num_parts,
             tree_limbs, min_parts, min_mean_score):  # pragma: no cover - compiled
    """``paf_grouping._assemble`` on connections given as arrays: limb k's connections are rows
    [limb_rows[k], limb_rows[k + 1]) of (conn_a, conn_b, conn_s), global peak ids and scores.

    The reference parser's loop with people as rows of fixed-capacity arrays (doubled when
    full): a merged person is flagged dead instead of deleted, so scanning rows in order is
    scanning people in creation order. A peak id belongs to one part and so only ever sits in
    that part's slot: the people holding an end of limb (a, b) are those with pa in slot a or
    pb in slot b. Returns (N, K + 2) float64 rows as ``_assemble``.
    """
    cap = 64
    ids = np.full((cap, num_parts), -1, dtype=np.int64)  # peak id per part
    stats = np.zeros((cap, 2))  # total score, part count
    alive = np.zeros(cap, dtype=np.bool_)
    n = 0
    for k in range(limb_a.shape[0]):
        a, b = limb_a[k], limb_b[k]
        for c in range(limb_rows[k], limb_rows[k + 1]):
            pa, pb, s = conn_a[c], conn_b[c], conn_s[c]
            j1, j2 = -1, -1  # the first two people holding an end
            for p in range(n):
                if alive[p] and (ids[p, a] == pa or ids[p, b] == pb):
                    if j1 < 0:
                        j1 = p
                    else:
                        j2 = p
                        break
            if j2 >= 0:
                shared = False
                for q in range(num_parts):
                    if ids[j1, q] >= 0 and ids[j2, q] >= 0:
                        shared = True
                        break
                if shared:  # conflict: the first takes the end, always overwritten
                    ids[j1, b] = pb
                    stats[j1, 1] += 1
                    stats[j1, 0] += peak_scores[pb] + s
                else:  # two disjoint people hold the two ends: merge them
                    for q in range(num_parts):
                        if ids[j2, q] >= 0:
                            ids[j1, q] = ids[j2, q]
                    stats[j1, 0] += stats[j2, 0] + s
                    stats[j1, 1] += stats[j2, 1]
                    alive[j2] = False
            elif j1 >= 0:
                if ids[j1, b] != pb:
                    ids[j1, b] = pb
                    stats[j1, 1] += 1
                    stats[j1, 0] += peak_scores[pb] + s
            elif k < tree_limbs:  # a new person from a tree limb
                if n == cap:
                    cap *= 2
                    ids, stats, alive = _grow_people(ids, stats, alive, cap)
                ids[n, a] = pa
                ids[n, b] = pb
                stats[n, 0] = peak_scores[pa] + peak_scores[pb] + s
                stats[n, 1] = 2.0
                alive[n] = True
                n += 1
    keep = np.zeros(n, dtype=np.bool_)
    m = 0
    for p in range(n):
        if alive[p] and stats[p, 1] >= min_parts and stats[p, 0] / stats[p, 1] >= min_mean_score:
            keep[p] = True
            m += 1
    out = np.empty((m, num_parts + 2))
    r = 0
    for p in range(n):
        if keep[p]:
            for q in range(num_parts):
                out[r, q] = ids[p, q]
            out[r, num_parts] = stats[p, 0]
            out[r, num_parts + 1] = stats[p, 1]
            r += 1
    return out
