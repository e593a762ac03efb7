"""Numba kernels of :mod:`posekit.grouping.paf_grouping` (the optional extra ``fast``).

Peak search, one compiled pass per part: 4×4 tile maxima of the raw map, an exact upper bound of
the smoothed map per tile, the separable Gaussian (σ = 3, 25 taps) only on the 8×8 tiles where a
bound exceeds the threshold, and the 4-neighbour NMS (a peak's neighbour in a skipped tile is
smoothed on its own). Limb scores: each candidate pair sampled until it fails, the first samples
of the pair 16 ahead prefetched. Both give the NumPy path's results
(tests/grouping/test_peak_search.py).
Importing this module needs numba.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

__all__ = ["BOUND_TILE", "TAPS", "TILE", "pair_scores", "peaks_above", "tile_weights"]


def _host_lanes() -> int:
    """float32 lanes of the host's vectors (numba compiles for the host): 16 with AVX-512, else
    8. Runs are rounded up to whole vectors: no scalar tails, and no more padding than that."""
    try:
        import llvmlite.binding as llvm

        features = llvm.get_host_cpu_features().flatten().split(",")
    except (ImportError, RuntimeError):  # a host llvmlite cannot describe
        return 8
    return 16 if "+avx512f" in features else 8


_LANES = _host_lanes()


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


@numba.njit(cache=True, inline="always")
def _span(c: int, c1: int, t: int, wd: int) -> tuple[int, int, int]:
    # tile columns [c, c1) → first pixel column, width, and width rounded up to whole vectors
    xa = c * t
    n = min(c1 * t, wd) - xa
    return xa, n, (n + _LANES - 1) // _LANES * _LANES


@numba.njit(cache=True, inline="always")
def _mirror_tiles(lo: int, t: int, n: int) -> tuple[int, int]:
    # the first and last map tiles holding the reflections of pixels lo … lo + t − 1 (outside)
    a, b = _reflect(lo, n), _reflect(lo + t - 1, n)
    return min(a, b) // t, max(a, b) // t


@numba.njit(cache=True)
def _tile_maxima(m, t, d, out):  # pragma: no cover - compiled
    """out (⌈h/t⌉ + 2d, ⌈w/t⌉ + 2d): max(raw, 0) of each t×t tile of ``m`` and of the d tiles
    past each border of its reflect extension (a tile there takes the max of the map tiles that
    hold its reflected pixels: a bound, exact when t divides the map). Returns the largest."""
    h, wd = m.shape
    th, tw = (h + t - 1) // t, (wd + t - 1) // t
    full = wd // t  # tiles wholly inside the map's columns
    buf = np.empty(wd, dtype=np.float32)
    acc = np.zeros(tw, dtype=np.float32)  # per tile column, the largest so far (vectorised)
    for ty in range(th):  # a partial last tile also holds the reflected pixels past the border
        for x in range(wd):
            buf[x] = m[ty * t, x]
        for y in range(ty * t + 1, ty * t + t):
            yy = _reflect(y, h)
            for x in range(wd):  # np.maximum, not a select: only this form vectorises (vmaxps)
                buf[x] = np.maximum(buf[x], m[yy, x])
        if t == 4:  # the bound's tile (BOUND_TILE), unrolled: 4× faster than the loop below
            for c in range(full):
                x = 4 * c
                out[d + ty, d + c] = np.maximum(
                    np.maximum(np.maximum(buf[x], buf[x + 1]), np.maximum(buf[x + 2], buf[x + 3])),
                    np.float32(0.0))
        else:
            for c in range(full):
                best = np.float32(0.0)
                for x in range(c * t, c * t + t):
                    best = np.maximum(best, buf[x])
                out[d + ty, d + c] = best
        for c in range(full, tw):  # a partial last tile column: reflected pixels per pixel
            best = np.float32(0.0)
            for x in range(c * t, c * t + t):
                best = np.maximum(best, buf[_reflect(x, wd)])
            out[d + ty, d + c] = best
        for c in range(tw):
            acc[c] = np.maximum(acc[c], out[d + ty, d + c])
    for e in range(d):  # rows past the top and bottom: the map tile rows their reflection spans
        for side in range(2):
            a, b = _mirror_tiles((e - d) * t if side == 0 else (th + e) * t, t, h)
            row = e if side == 0 else d + th + e
            for c in range(tw):
                best = 0.0
                for ty in range(a, b + 1):
                    best = max(best, out[d + ty, d + c])
                out[row, d + c] = best
    for e in range(d):  # then columns past the left and right, over all (extended) rows
        for side in range(2):
            a, b = _mirror_tiles((e - d) * t if side == 0 else (tw + e) * t, t, wd)
            col = e if side == 0 else d + tw + e
            for r in range(out.shape[0]):
                best = 0.0
                for c in range(a, b + 1):
                    best = max(best, out[r, d + c])
                out[r, col] = best
    return acc.max()

TAPS = 25  # the compiled smoothing's tap count: σ = 3 truncated at 4σ, as scipy (the cmu preset)
TILE = 8  # tile edge of the smoothing passes (pixels)
BOUND_TILE = 4  # tile edge of the bound: 4 px leaves 42% fewer 8-px tiles to smooth at 20 people
_R = (TAPS - 1) // 2


# Constants, not arguments: LLVM unrolls the taps, vectorises over pixels and divides by shifts
# (a runtime tap count, even a literal-dispatched one, measured 3–5× slower). Module-level, not a
# closure per σ: numba's disk cache misses on closures that call other closures (≈ 20 s compile
# in every new process). Each smoothed value is k_r·x_0 + Σ_i k_i·(x_−(r−i) + x_(r−i)): the
# kernel's symmetry halves the products. Indices are unsigned: numba wraps negative signed
# indices, and that check keeps LLVM from vectorising over x (5× slower).
@numba.njit(cache=True)
def _row_run(src, y, kern, out, oy, xa, nv):  # pragma: no cover - compiled
    # out[oy, xa … xa + nv − 1] from src[y, xa − r … xa + nv + r − 1] (xa ≥ r)
    ys, oys = np.uint64(y), np.uint64(oy)
    for x in range(np.uint64(xa), np.uint64(xa + nv)):
        s = kern[_R] * src[ys, x]
        for i in range(_R):
            s += kern[i] * (src[ys, x - np.uint64(_R - i)] + src[ys, x + np.uint64(_R - i)])
        out[oys, x] = s


@numba.njit(cache=True)
def _column_block(src, base, kern, out, y0, y1, xa, n, nv):  # pragma: no cover - compiled
    # out rows y0 … y1 − 1 from rows base … base + y1 − y0 + 2r − 1 of src (read in place:
    # gathered rows would not vectorise); returns the block's largest value
    for y in range(np.uint64(y0), np.uint64(y1)):
        o = np.uint64(base) + (y - np.uint64(y0))
        for x in range(np.uint64(xa), np.uint64(xa + nv)):  # past n: scratch, or a later run
            s = kern[_R] * src[o + np.uint64(_R), x]
            for i in range(_R):
                s += kern[i] * (src[o + np.uint64(i), x] + src[o + np.uint64(TAPS - 1 - i), x])
            out[y, x] = s
    top = np.float32(-np.inf)
    for y in range(y0, y1):
        for x in range(xa, xa + n):
            v = out[y, x]
            top = v if v > top else top
    return top


_DY = (-1, 1, 0, 0)  # the 4 neighbours in out_v's order: up, down, left, right
_DX = (0, 0, -1, 1)


@numba.njit(cache=True)
def _smooth_at(m, y, x, kern):  # pragma: no cover - compiled
    # the smoothed value at one pixel, by the passes themselves on its TAPS×TAPS reflected
    # window (so bit-identical to the tiled result): the row pass at the window's centre column
    # of each row, then the column pass on those TAPS values
    h, wd = m.shape
    win = np.empty((TAPS, TAPS), dtype=np.float32)
    for j in range(TAPS):
        for i in range(TAPS):
            win[j, i] = m[_reflect(y - _R + j, h), _reflect(x - _R + i, wd)]
    rows = np.empty((TAPS, TAPS), dtype=np.float32)
    for j in range(TAPS):
        _row_run(win, j, kern, rows, j, _R, 1)
    out = np.empty((1, TAPS), dtype=np.float32)
    _column_block(rows, 0, kern, out, 0, 1, _R, 1, 1)
    return out[0, _R]


@numba.njit(cache=True)
def peaks_above(maps, kern, w, threshold, neighbours):  # pragma: no cover - compiled
    """(n, 3) (part, y, x) peaks above ``threshold`` and ≥ their 4 neighbours, row-major per
    part; (n, 5) their smoothed values: self, then (with ``neighbours``) up, down, left, right.

    Smoothing (float32, rows then columns, reflect border; ``kern`` of ``TAPS`` taps) runs
    only on the TILE×TILE tiles holding a BOUND_TILE×BOUND_TILE tile whose bound (tile-offset
    weights ``w``) exceeds the threshold less a float32 rounding margin; a pixel outside them
    is below the threshold, so it never beats a candidate. A peak's neighbour in a skipped tile
    is smoothed on its own (:func:`_smooth_at`, the same value to the bit).
    """
    k_parts, h, wd = maps.shape
    r, t, tb = _R, TILE, BOUND_TILE
    d_max = (w.shape[0] - 1) // 2
    th, tw = (h + t - 1) // t, (wd + t - 1) // t
    bh, bw = (h + tb - 1) // tb, (wd + tb - 1) // tb  # the bound's (finer) tiles
    sm = np.empty((h, wd + _LANES), dtype=np.float32)  # one part at a time; + whole vectors
    hbuf = np.empty((h, wd + _LANES), dtype=np.float32)
    tmax = np.empty((bh + 2 * d_max, bw + 2 * d_max), dtype=np.float32)
    bx = np.empty((bh + 2 * d_max, bw), dtype=np.float64)
    bnd = np.empty(bw, dtype=np.float64)
    cols = np.empty(tw, dtype=np.intp)
    runs = np.empty((tw, 2), dtype=np.intp)  # [c, c1) runs of a row's needed tile columns
    blk = np.empty((t + 2 * r, wd + _LANES), dtype=np.float32)
    need = np.zeros((th, tw), dtype=np.bool_)
    hot = np.zeros((th, tw), dtype=np.bool_)  # in a computed run with a value > threshold
    serve = np.zeros(tw, dtype=np.bool_)  # tile columns whose needed tiles read this row
    buf = np.zeros((1, wd + 2 * r + t + _LANES), dtype=np.float32)
    rowtmp = np.empty((1, wd + 2 * r + t + _LANES), dtype=np.float32)
    cap = 1024
    out_i = np.empty((cap, 3), dtype=np.intp)  # part, y, x
    out_v = np.zeros((cap, 5), dtype=np.float32)  # smoothed: self, up, down, left, right
    count = 0
    for k in range(k_parts):
        m = maps[k]  # one view per part
        top = _tile_maxima(m, tb, d_max, tmax)
        # float32 smoothing errs by < 25 ulp of the largest value: skip tiles clearly below.
        margin = 1e-5 * max(top, 1e-2)
        # Separable bound on the fine tiles: columns, then rows (loops ordered to vectorise over
        # tile columns); a smoothing tile is needed when one of its fine tiles' bound exceeds.
        for e in range(bh + 2 * d_max):
            for c in range(bw):
                bx[e, c] = 0.0
            for d in range(2 * d_max + 1):
                wdd = w[d]
                for c in range(bw):
                    bx[e, c] += wdd * tmax[e, c + d]
        need[:, :] = False
        anyneed = False
        for ty in range(bh):
            for c in range(bw):
                bnd[c] = 0.0
            for d in range(2 * d_max + 1):
                wdd = w[d]
                for c in range(bw):
                    bnd[c] += wdd * bx[ty + d, c]
            for c in range(bw):
                if bnd[c] > threshold - margin:
                    need[ty * tb // t, c * tb // t] = True
                    anyneed = True
        if not anyneed:
            continue
        # Row pass on runs of needed tile columns, whole vectors (no scalar tails).
        nruns = 0
        for y in range(h):
            # Tile row ty reads rows ty·t − r … ty·t + t + r − 1 (the reflected ones are among
            # them): the tile columns row y serves change only where such a span starts or ends.
            if y == 0 or y % t == (t - r % t) % t or y % t == r % t:
                lo, hi = max((y - t - r) // t + 1, 0), min((y + r) // t, th - 1)
                for c in range(tw):
                    v = False
                    for ty in range(lo, hi + 1):
                        v |= need[ty, c]
                    serve[c] = v
                nruns = 0
                c, c1 = _next_run(serve, 0, tw)
                while c < tw:
                    runs[nruns, 0], runs[nruns, 1] = c, c1
                    nruns += 1
                    c, c1 = _next_run(serve, c1, tw)
            for j in range(nruns):
                xa, n, nv = _span(runs[j, 0], runs[j, 1], t, wd)
                if xa >= r and xa + nv + r <= wd:  # interior: read in place
                    _row_run(m, y, kern, hbuf, y, xa, nv)
                else:  # the reflected row segment, then the same sums
                    for i in range(n + 2 * r):
                        buf[0, i] = m[y, _reflect(xa - r + i, wd)]
                    _row_run(buf, 0, kern, rowtmp, 0, r, nv)  # past n + 2r: stale, unused
                    hbuf[y, xa:xa + nv] = rowtmp[0, r:r + nv]
        # Column pass on runs of needed tiles, one tile row at a time.
        for ty in range(th):
            c, c1 = _next_run(need[ty], 0, tw)
            while c < tw:
                xa, n, nv = _span(c, c1, t, wd)
                y0, y1 = ty * t, min(ty * t + t, h)
                src, base = hbuf, y0 - r
                if y0 < r or y1 + r > h:  # a border tile row: gather its reflected rows
                    for i in range(y1 - y0 + 2 * r):
                        blk[i, xa:xa + nv] = hbuf[_reflect(y0 - r + i, h), xa:xa + nv]
                    src, base = blk, 0
                top = _column_block(src, base, kern, sm, y0, y1, xa, n, nv)
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
                        if neighbours:  # clamped at the border, as the sub-pixel fit reads them
                            for j in range(4):
                                ny = min(max(y + _DY[j], 0), h - 1)
                                nx = min(max(x + _DX[j], 0), wd - 1)
                                if need[ny // t, nx // t]:
                                    out_v[count, 1 + j] = sm[ny, nx]
                                else:  # in a skipped tile: the same sums, at that pixel only
                                    out_v[count, 1 + j] = _smooth_at(m, ny, nx, kern)
                        count += 1
    return out_i[:count].copy(), out_v[:count].copy()


@numba.njit(cache=True)
def _grow(a, cap):  # pragma: no cover - compiled
    b = np.zeros((cap, a.shape[1]), dtype=a.dtype)
    b[:a.shape[0]] = a
    return b


@intrinsic
def _prefetch(typingctx, arr, i0, i1, i2):
    """Hint the cache to load arr[i0, i1, i2] (llvm.prefetch; no effect on results)."""
    sig = types.void(arr, i0, i1, i2)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        idx = [context.cast(builder, v, t, types.intp)
               for v, t in zip(args[1:], signature.args[1:], strict=True)]
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, idx, wraparound=False)
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        # typed-pointer name: LLVM 14 takes it as is, later versions remangle it (tested on 22)
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])  # read, keep, data
        return context.get_dummy_value()

    return sig, codegen


@numba.njit(cache=True, inline="always")
def _sample_px(ax, ay, dx, dy, ti, w, h):  # pragma: no cover - compiled
    # the PAF pixel (x, y) of the sample at fraction ti along a → a + d, clamped to the map
    ix = min(max(int(np.rint(ax + dx * ti)), 0), w - 1)
    iy = min(max(int(np.rint(ay + dy * ti)), 0), h - 1)
    return ix, iy


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
    # Pairs of different people leave the PAF within 2 samples, each a cache miss in a 20 MB
    # map: prefetching the 2 first samples of the pair 16 ahead halves the time at 20 people.
    ahead = 16
    for p in range(n):
        if p + ahead < n:
            pa = p + ahead
            for q in range(min(2, s)):
                ix, iy = _sample_px(a[pa, 0], a[pa, 1], b[pa, 0] - a[pa, 0], b[pa, 1] - a[pa, 1],
                                    t[order[q]], w, h)
                _prefetch(pafs, channel[pa], iy, ix)
                _prefetch(pafs, channel[pa] + 1, iy, ix)
        ax, ay = a[p, 0], a[p, 1]
        dx, dy = b[p, 0] - ax, b[p, 1] - ay
        norm = max(np.sqrt(dx * dx + dy * dy), 1e-3)
        vx, vy = dx / norm, dy / norm
        c = channel[p]
        fails = 0
        for q in range(s):
            i = order[q]
            ix, iy = _sample_px(ax, ay, dx, dy, t[i], w, h)
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
