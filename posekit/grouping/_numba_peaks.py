"""Numba kernels of :mod:`posekit.grouping.paf_grouping` (the optional extra ``fast``).

Peak search, one compiled pass per part: tile maxima of the raw map, an exact upper bound of the
smoothed map per tile, the separable Gaussian only on tiles whose bound exceeds the threshold,
and the 4-neighbour NMS. Limb scores: each candidate pair sampled until it fails. Both give the
NumPy path's results (tests/grouping/test_peak_search.py). Importing this module needs numba.
"""

from __future__ import annotations

from functools import lru_cache

import numba
import numpy as np

__all__ = ["pair_scores", "peaks_kernel", "tile_weights"]

_LANES = 16  # run lengths are rounded up to whole AVX-512 float32 vectors


def tile_weights(kern: np.ndarray, t: int) -> np.ndarray:
    """(2D + 1,) w[d]: the most kernel mass that t×t tile offset d can give one pixel of a tile.

    The smoothed value at p is Σ k(q)·raw(p − q) ≤ Σ_tiles mass(tile)·max(tile, 0), and the 2-D
    kernel's mass in a tile offset (dy, dx) is at most w[dy]·w[dx] (separable), for any p in it.
    """
    r = (len(kern) - 1) // 2
    d_max = -(-r // t)
    w = np.zeros(2 * d_max + 1)
    for d in range(-d_max, d_max + 1):
        for p in range(t):
            s = np.arange(d * t, d * t + t) - p  # source offsets from p
            s = s[np.abs(s) <= r]
            w[d + d_max] = max(w[d + d_max], kern[s + r].sum())
    return w


@numba.njit(cache=True, inline="always")
def _reflect(i: int, n: int) -> int:
    # scipy's 'reflect' / OpenCV's BORDER_REFLECT: d c b a | a b c d | d c b a
    if i < 0:
        return -1 - i
    if i >= n:
        return 2 * n - 1 - i
    return i


@numba.njit(cache=True, inline="always")
def _next_run(mask, c: int, n: int) -> tuple[int, int]:
    # [start, end) of the first run of True in mask[c:n]; start = n when there is none
    while c < n and not mask[c]:
        c += 1
    end = c
    while end < n and mask[end]:
        end += 1
    return c, end


@lru_cache(maxsize=8)
def peaks_kernel(taps: int):
    """The compiled :func:`peaks_above` for a kernel of ``taps`` taps: a constant tap count lets
    LLVM unroll the taps and vectorise over pixels (4–7× faster; same sums, in tap order)."""

    # The passes' inner loops live in small functions: LLVM vectorises them there (about 2×
    # faster than the same loops inlined in peaks_above).
    @numba.njit(cache=True)
    def _row_run(seg, kern, hbuf, y, xa, nv):  # pragma: no cover - compiled
        for x in range(nv):  # taps unrolled, x vectorised; Σ in tap order
            s = np.float32(0.0)
            for j in range(taps):
                s += kern[j] * seg[x + j]
            hbuf[y, xa + x] = s  # past the run: scratch, or a later run's columns

    @numba.njit(cache=True)
    def _gather_rows(hbuf, blk, y0, xa, nv, rows):  # pragma: no cover - compiled
        h = hbuf.shape[0]
        r = (taps - 1) // 2
        for i in range(rows + 2 * r):  # the (reflected) rows a run of tiles reads
            yy = _reflect(y0 - r + i, h)
            for x in range(nv):
                blk[i, x] = hbuf[yy, xa + x]

    @numba.njit(cache=True)
    def _column_run(blk, acc, out, kern, y0, xa, n, nv, rows):  # pragma: no cover - compiled
        top = -np.inf  # the run's largest smoothed value: runs without a peak are not scanned
        for yi in range(rows):
            for x in range(nv):
                s = np.float32(0.0)
                for i in range(taps):
                    s += kern[i] * blk[yi + i, x]
                acc[x] = s
            for x in range(n):
                a = acc[x]
                out[y0 + yi, xa + x] = a
                top = a if a > top else top
        return top

    @numba.njit(cache=True)
    def peaks_above(maps, kern, w, threshold, t, dilate):  # pragma: no cover - compiled
        """(n, 3) (part, y, x) peaks above ``threshold`` and ≥ their 4 neighbours, row-major per
        part; (n, 5) their smoothed values: self, then (with ``dilate``) up, down, left, right.

        Smoothing (float32, rows then columns, reflect border) runs only on tiles whose bound
        exceeds the threshold less a float32 rounding margin; a pixel outside them is below the
        threshold, so it never beats a candidate. ``dilate`` adds one tile around each
        computed tile, so the 4 neighbours of every peak are smoothed too.
        """
        k_parts, h, wd = maps.shape
        r = (taps - 1) // 2
        d_max = (w.shape[0] - 1) // 2
        th, tw = (h + t - 1) // t, (wd + t - 1) // t
        the, twe = th + 2 * d_max, tw + 2 * d_max
        sm = np.empty((h, wd), dtype=np.float32)  # one part at a time: no page faults per part
        hbuf = np.empty((h, wd + _LANES), dtype=np.float32)  # + scratch for whole vectors
        rowmax = np.empty((the, wd), dtype=np.float32)
        tmax = np.empty((the, twe), dtype=np.float64)
        bx = np.empty((the, tw), dtype=np.float64)
        bnd = np.empty(tw, dtype=np.float64)
        cols = np.empty(tw, dtype=np.intp)
        need = np.zeros((th, tw), dtype=np.bool_)
        need2 = np.zeros((th, tw), dtype=np.bool_)
        hot = np.zeros((th, tw), dtype=np.bool_)  # in a computed run with a value > threshold
        hrow = np.zeros((h, tw), dtype=np.bool_)
        buf = np.empty(wd + 2 * r + t + _LANES, dtype=np.float32)
        acc = np.empty(wd + t + _LANES, dtype=np.float32)
        blk = np.empty((t + 2 * r, wd + t + _LANES), dtype=np.float32)
        cap = 1024
        out_i = np.empty((cap, 3), dtype=np.intp)  # part, y, x
        out_v = np.zeros((cap, 5), dtype=np.float32)  # smoothed: self, up, down, left, right
        count = 0
        for k in range(k_parts):
            m = maps[k]  # one view per part
            # Tile maxima over the reflect-extended map, tiles −d_max … th + d_max − 1: rows, then
            # columns (a select, not max(), so that the row loop vectorises).
            for e in range(the):
                dst = rowmax[e]
                src = m[_reflect((e - d_max) * t, h)]
                for x in range(wd):
                    dst[x] = src[x]
                for y in range((e - d_max) * t + 1, (e - d_max + 1) * t):
                    src = m[_reflect(y, h)]
                    for x in range(wd):
                        a, b = src[x], dst[x]
                        dst[x] = a if a > b else b
                for f in range(twe):
                    x0 = (f - d_max) * t
                    best = -np.inf
                    if x0 >= 0 and x0 + t <= wd:
                        for x in range(t):
                            a = dst[x0 + x]
                            best = a if a > best else best
                    else:
                        for x in range(x0, x0 + t):
                            a = dst[_reflect(x, wd)]
                            best = a if a > best else best
                    tmax[e, f] = max(best, 0.0)
            # float32 smoothing errs by < 25 ulp of the largest value: skip tiles clearly below.
            margin = 1e-5 * max(tmax.max(), 1e-2)
            # Separable bound: columns, then rows (loops ordered to vectorise over tile columns).
            for e in range(the):
                for c in range(tw):
                    bx[e, c] = 0.0
                for d in range(2 * d_max + 1):
                    wdd = w[d]
                    for c in range(tw):
                        bx[e, c] += wdd * tmax[e, c + d]
            anyneed = False
            for ty in range(th):
                for c in range(tw):
                    bnd[c] = 0.0
                for d in range(2 * d_max + 1):
                    wdd = w[d]
                    for c in range(tw):
                        bnd[c] += wdd * bx[ty + d, c]
                for c in range(tw):
                    need[ty, c] = bnd[c] > threshold - margin
                    anyneed |= need[ty, c]
            if not anyneed:
                continue
            if dilate:
                for ty in range(th):
                    for c in range(tw):
                        v = False
                        for a in range(max(ty - 1, 0), min(ty + 2, th)):
                            for b in range(max(c - 1, 0), min(c + 2, tw)):
                                v |= need[a, b]
                        need2[ty, c] = v
                need[:, :] = need2
            # Rows of the row-pass each needed tile reads (reflected rows are real rows).
            hrow[:, :] = False
            for ty in range(th):
                for c in range(tw):
                    if need[ty, c]:
                        for y in range(ty * t - r, min(ty * t + t, h) + r):
                            hrow[_reflect(y, h), c] = True
            # Row pass on runs of needed tile columns, whole vectors (no scalar tails).
            for y in range(h):
                c, c1 = _next_run(hrow[y], 0, tw)
                while c < tw:
                    xa, xb = c * t, min(c1 * t, wd)
                    n = xb - xa
                    nv = (n + _LANES - 1) // _LANES * _LANES  # whole vectors, no scalar tail
                    if xa >= r and xa + nv + r <= wd:
                        seg = m[y, xa - r:xa + nv + r]  # interior: read in place
                    else:
                        for i in range(n + 2 * r):
                            buf[i] = m[y, _reflect(xa - r + i, wd)]
                        for i in range(n + 2 * r, nv + 2 * r):
                            buf[i] = 0.0
                        seg = buf
                    _row_run(seg, kern, hbuf, y, xa, nv)
                    c, c1 = _next_run(hrow[y], c1, tw)
            # Column pass on runs of needed tiles.
            for ty in range(th):
                c, c1 = _next_run(need[ty], 0, tw)
                while c < tw:
                    xa, xb = c * t, min(c1 * t, wd)
                    n = xb - xa
                    nv = (n + _LANES - 1) // _LANES * _LANES
                    y0 = ty * t
                    _gather_rows(hbuf, blk, y0, xa, nv, min(t, h - y0))
                    top = _column_run(blk, acc, sm, kern, y0, xa, n, nv, min(t, h - y0))
                    for cc in range(c, c1):
                        hot[ty, cc] = top > threshold
                    c, c1 = _next_run(need[ty], c1, tw)
            # Peaks in row-major order: above threshold and ≥ the 4 neighbours (outside = 0; a
            # neighbour in a skipped tile is ≤ threshold < v).
            for ty in range(th):
                nc = 0
                for c in range(tw):
                    if need[ty, c] and hot[ty, c]:
                        cols[nc] = c
                        nc += 1
                for y in range(ty * t, min(ty * t + t, h)):
                    for ci in range(nc):
                        c = cols[ci]
                        for x in range(c * t, min(c * t + t, wd)):
                            v = sm[y, x]
                            if not v > threshold:
                                continue
                            if y > 0 and need[(y - 1) // t, c] and sm[y - 1, x] > v:
                                continue
                            if y + 1 < h and need[(y + 1) // t, c] and sm[y + 1, x] > v:
                                continue
                            if x > 0 and need[ty, (x - 1) // t] and sm[y, x - 1] > v:
                                continue
                            if x + 1 < wd and need[ty, (x + 1) // t] and sm[y, x + 1] > v:
                                continue
                            if count == cap:
                                cap *= 2
                                out_i = _grow(out_i, cap)
                                out_v = _grow(out_v, cap)
                            out_i[count, 0] = k
                            out_i[count, 1] = y
                            out_i[count, 2] = x
                            out_v[count, 0] = v
                            if dilate:  # clamped at the border, as the sub-pixel fit reads them
                                out_v[count, 1] = sm[max(y - 1, 0), x]
                                out_v[count, 2] = sm[min(y + 1, h - 1), x]
                                out_v[count, 3] = sm[y, max(x - 1, 0)]
                                out_v[count, 4] = sm[y, min(x + 1, wd - 1)]
                            count += 1
        return out_i[:count].copy(), out_v[:count].copy()

    return peaks_above


@numba.njit(cache=True)
def _grow(a, cap):  # pragma: no cover - compiled
    b = np.zeros((cap, a.shape[1]), dtype=a.dtype)
    b[:a.shape[0]] = a
    return b


@numba.njit(cache=True)
def pair_scores(a, b, channel, pafs, t, order, threshold, need, ratio, height):  # pragma: no cover
    """Limb scores of N candidate pairs a → b (N, 2) on PAF channels (channel, channel + 1) and
    whether each passes both criteria; samples are read in ``order`` (middle first) and a pair
    is rejected (score NaN) as soon as more fail than the fraction criterion allows. Kept scores
    equal the NumPy path's to the bit (same formulas, same summation order)."""
    n, s = a.shape[0], t.shape[0]
    h, w = pafs.shape[1], pafs.shape[2]
    max_fail = s - need
    score = np.full(n, np.nan)
    ok = np.zeros(n, dtype=np.bool_)
    vals = np.empty(s)
    for p in range(n):
        ax, ay = a[p, 0], a[p, 1]
        dx, dy = b[p, 0] - ax, b[p, 1] - ay
        norm = max(np.sqrt(dx * dx + dy * dy), 1e-3)
        vx, vy = dx / norm, dy / norm
        c = channel[p]
        fails = 0
        for q in range(s):
            i = order[q]
            ix = min(max(int(np.rint(ax + dx * t[i])), 0), w - 1)
            iy = min(max(int(np.rint(ay + dy * t[i])), 0), h - 1)
            v = np.float64(pafs[c, iy, ix]) * vx + np.float64(pafs[c + 1, iy, ix]) * vy
            vals[i] = v
            if not v > threshold:
                fails += 1
                if fails > max_fail:
                    break
        if fails > max_fail:
            continue
        total = _numpy_sum(vals) / s
        if ratio > 0:
            total += min(ratio * height / norm - 1, 0.0)
        score[p] = total
        ok[p] = total > 0
    return score, ok


@numba.njit(cache=True)
def _numpy_sum(a):  # pragma: no cover - compiled
    """Σ a in NumPy's pairwise order for a contiguous row (8 partial sums, then the tail)."""
    n = a.shape[0]
    if n > 128:  # NumPy recurses on halves here; limbs are never sampled this finely
        return np.sum(a)
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[i]
        return res
    r = a[:8].copy()
    i = 8
    while i < n - n % 8:
        for j in range(8):
            r[j] += a[i + j]
        i += 8
    res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    while i < n:
        res += a[i]
        i += 1
    return res
