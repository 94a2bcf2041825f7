"""Compiled kernels of the spectral descriptors and shared loops (the ``jit`` extra).

Most kernels are the arithmetic of one stage's one-frame (live hop) path in a single
compiled pass; the ``*_rows`` kernels loop over the frames of a whole batch (file mode)
where that beats numpy. The stages (:mod:`~fluxstream.dsp.descriptors`,
:mod:`~fluxstream.dsp.summary`, :mod:`~fluxstream.dsp.spectral`, the deltas, the
filterbank node, the pitch estimators' cumulative sums) call them when
:data:`fluxstream.dsp._jit.ENABLED` (numba installed, not switched off). The numpy paths
stay the reference: the tests hold every kernel to them.

Conventions: spectra are float32 1-D arrays (callers take the numpy path for any other
dtype); sums run in float64 (the numpy paths sum float32 pairwise, so results agree within
float32 round-off) except where noted, where a kernel repeats numpy's float32 order
exactly. Logarithms over a whole spectrum are left to numpy (one vectorised call between
two kernels): numba's scalar log is several times slower.

Kernels are ``None`` without numba; callers check :data:`~fluxstream.dsp._jit.ENABLED`.
"""

from __future__ import annotations

import math

import numpy as np

from . import _jit

#: The float32 zero the kernels start their float32 sums from (numba reads module constants
#: as compile-time constants).
_ZERO32 = np.float32(0.0)

__all__ = ["centroid", "contrast_rows", "csr_matvec", "cumsum_rows", "delta_hop", "flux_hop", "mkl_ratio_hop",
           "pairwise_sum32", "power_hop", "rolloff_rows", "summary_pass1", "summary_pass2", "zero_crossings"]


@_jit.kernel
def _block_sum32(a, lo, n):  # pragma: no cover - compiled
    """numpy's sum of ``a[lo:lo + n]`` for ``n <= 128``: sequential under 8 terms, else
    eight strided accumulators combined as a tree, then the remainder."""
    if n < 8:
        res = _ZERO32
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - n % 8:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@_jit.kernel
def pairwise_sum32(a, lo, n):  # pragma: no cover - compiled
    """numpy's sum of ``a[lo:lo + n]`` in ``a``'s dtype (``np.add.reduce`` of a contiguous
    float array): blocks of up to 128 (:func:`_block_sum32`), halves (the first a multiple
    of 8 long) above, added left + right. Same roundings, same result. The halving runs
    on an explicit stack: numba's disk cache cannot hold a recursive function."""
    if n <= 128:
        return _block_sum32(a, lo, n)
    los = np.empty(64, dtype=np.int64)  # pending ranges, and how far each has got
    ns = np.empty(64, dtype=np.int64)
    stage = np.empty(64, dtype=np.int64)
    vals = np.empty(64, dtype=a.dtype)  # finished sums, left before right
    top = 0
    los[0] = lo
    ns[0] = n
    stage[0] = 0
    nv = 0
    while top >= 0:
        m = ns[top]
        if m <= 128:
            vals[nv] = _block_sum32(a, los[top], m)
            nv += 1
            top -= 1
            continue
        m2 = m // 2
        m2 -= m2 % 8
        if stage[top] == 2:  # both halves done
            vals[nv - 2] = vals[nv - 2] + vals[nv - 1]
            nv -= 1
            top -= 1
            continue
        l0 = los[top] if stage[top] == 0 else los[top] + m2
        n0 = m2 if stage[top] == 0 else m - m2
        stage[top] += 1
        top += 1
        los[top] = l0
        ns[top] = n0
        stage[top] = 0
    return vals[0]


@_jit.kernel
def summary_pass1(x, W, amin, tiny, buf):  # pragma: no cover - compiled
    """First pass of :meth:`SummaryKernel._reductions_one` over ``x`` [shape=(K,)]: the
    total, the three linear sums ``x @ W`` (``W`` [shape=(K, 3)], float64), the peak and
    ``sum max(x**2, amin)``; fills ``buf[:K] = max(x**2, amin)`` and ``buf[K:] = max(x,
    tiny)`` for the caller's log. The two plain sums are numpy's (:func:`pairwise_sum32`),
    so the centroid, on which the higher moments hang, rounds as the numpy paths'. Returns
    ``(total, f_sum, slope_sum, dec_sum, peak, t_sum)``."""
    K = x.shape[0]
    f_sum = 0.0
    slope_sum = 0.0
    dec_sum = 0.0
    peak = x[0]
    for k in range(K):
        v = x[k]
        s = float(v)
        f_sum += s * W[k, 0]
        slope_sum += s * W[k, 1]
        dec_sum += s * W[k, 2]
        peak = max(peak, v)
        buf[k] = max(v * v, amin)
        buf[K + k] = max(v, tiny)
    total = float(pairwise_sum32(x, 0, K))
    return total, f_sum, slope_sum, dec_sum, float(peak), float(pairwise_sum32(buf, 0, K))


@_jit.kernel
def summary_pass2(x, f, logs, r1, consts, out):  # pragma: no cover - compiled
    """Second pass and the final formulas of :class:`~fluxstream.dsp.summary.SummaryKernel`
    for one frame: with the first pass's ``r1 = (total, f_sum, slope_sum, dec_sum, peak,
    t_sum)``, the centroid ``c``, the central sums ``sum x d**k`` (``d = f - c``, k = 2, 3,
    4), ``sum logs[:K]`` (log power, numpy's sum) and ``sum x logs[K:]`` (``x log x``);
    then :meth:`~fluxstream.dsp.summary.SummaryKernel._finish_frame`'s formulas (``consts
    = (harmonic, zero_spread, inv_log_k, tiny)``) into ``out`` [shape=(9,)]."""
    total, f_sum, slope_sum, dec_sum, peak, t_sum = r1
    harmonic, zero_spread, inv_log_k, tiny = consts
    K = x.shape[0]
    c = f_sum / max(total, tiny)
    w2 = 0.0
    w3 = 0.0
    w4 = 0.0
    slogs = 0.0
    for k in range(K):
        s = float(x[k])
        d = f[k] - c
        w = s * (d * d)
        w2 += w
        w3 += w * d
        w4 += w * (d * d)
        slogs += float(x[k] * logs[K + k])
    log_t = float(pairwise_sum32(logs, 0, K))
    sigma = skew = kurt = slope = ent = 0.0
    if total >= tiny:
        inv = 1.0 / total
        c = f_sum * inv
        sigma = math.sqrt(max(w2 * inv, 0.0))
        if sigma > zero_spread:
            skew = w3 * inv / sigma ** 3
            kurt = w4 * inv / sigma ** 4
        slope = slope_sum * inv
        if K >= 2:
            ent = min(max((math.log(total) - slogs * inv) * inv_log_k, 0.0), 1.0)
    else:
        c = 0.0
    s0 = float(x[0])
    den = total - s0
    dec = (dec_sum - s0 * harmonic) / den if den >= tiny else 0.0
    mean = total / K
    crest = peak / mean if mean >= tiny else 1.0
    flat = min(math.exp(log_t / K) / (t_sum / K), 1.0)
    out[0] = c
    out[1] = sigma
    out[2] = skew
    out[3] = kurt
    out[4] = slope
    out[5] = dec
    out[6] = crest
    out[7] = flat
    out[8] = ent


@_jit.kernel
def rolloff_rows(X, roll_percent, cum, out):  # pragma: no cover - compiled
    """Roll-off bin of each row of ``X`` [shape=(n, K)] into ``out[i]``: the number of
    bins whose cumulative sum lies below ``roll_percent`` of the row's total (the first bin
    that reaches it), capped at ``K - 1``. The cumulative sum runs in ``X``'s dtype in
    ``np.cumsum``'s order (into ``cum``, length K) and the count is ``count_nonzero``'s, so
    every bin, NaN and inf cases included, equals the numpy path's."""
    K = X.shape[1]
    for r in range(X.shape[0]):
        run = _ZERO32
        for k in range(K):
            run += X[r, k]
            cum[k] = run
        thresh = run * roll_percent
        m = 0
        for k in range(K):
            if cum[k] < thresh:
                m += 1
        out[r] = min(m, K - 1)


@_jit.kernel
def centroid(x, f):  # pragma: no cover - compiled
    """``(sum f x, sum x)``: the centroid's numerator [Hz] and denominator."""
    num = 0.0
    den = 0.0
    for k in range(x.shape[0]):
        s = float(x[k])
        num += s * f[k]
        den += s
    return num, den


@_jit.kernel
def zero_crossings(x, thr):  # pragma: no cover - compiled
    """Sign changes between neighbours of ``x``, a value below ``-thr`` counting as
    negative (as :func:`~fluxstream.dsp.descriptors.zero_crossing_rate`)."""
    n = 0
    prev = x[0] < -thr
    for j in range(1, x.shape[0]):
        neg = x[j] < -thr
        if neg != prev:
            n += 1
        prev = neg
    return n


@_jit.kernel
def contrast_rows(X, starts, ends, qs, linear, amin, low, high, out):  # pragma: no cover - compiled
    """Spectral contrast of each row of ``X`` [shape=(n, K)] over bands ``[starts[b],
    ends[b])``: the mean of the ``qs[b]`` largest values minus the mean of the ``qs[b]``
    smallest, in dB (``10 log10 max(v, amin)``, float32) unless ``linear``, into ``out[i,
    b]``. The ``q`` extremes are kept sorted in ``low`` and ``high`` (length >= max q) by
    insertion: on one frame far cheaper than numpy's sort for the small ``q`` of contrast's
    quantile, on a whole file about as fast (falling spectra make insertion O(n q)), and
    live and file mode then run the same arithmetic. Each mean sums its values ascending,
    as numpy sums a sorted slice. Returns False, leaving ``out``
    unfinished, when a band holds a NaN (the numpy path's sort decides where NaN goes)."""
    ten = np.float32(10.0)
    for r in range(X.shape[0]):
        x = X[r]
        for b in range(starts.shape[0]):
            a = starts[b]
            e = ends[b]
            q = qs[b]
            if q == 1:
                lo = x[a]
                hi = x[a]
                if lo != lo:
                    return False
                for k in range(a + 1, e):
                    v = x[k]
                    if v != v:
                        return False
                    lo = min(lo, v)
                    hi = max(hi, v)
                valley = lo
                peak = hi
            else:
                # low[:m] ascending: the m smallest so far; high[:m] ascending: the m largest.
                m = 0
                for k in range(a, e):
                    v = x[k]
                    if v != v:
                        return False
                    if m < q:
                        i = m
                        while i > 0 and low[i - 1] > v:
                            low[i] = low[i - 1]
                            i -= 1
                        low[i] = v
                        i = m
                        while i > 0 and high[i - 1] > v:
                            high[i] = high[i - 1]
                            i -= 1
                        high[i] = v
                        m += 1
                        continue
                    if v < low[q - 1]:
                        i = q - 1
                        while i > 0 and low[i - 1] > v:
                            low[i] = low[i - 1]
                            i -= 1
                        low[i] = v
                    if v > high[0]:
                        i = 0
                        while i + 1 < q and high[i + 1] < v:
                            high[i] = high[i + 1]
                            i += 1
                        high[i] = v
                scale = np.float32(q)
                valley = pairwise_sum32(low, 0, q) / scale
                peak = pairwise_sum32(high, 0, q) / scale
            if linear:
                out[r, b] = peak - valley
            else:
                out[r, b] = ten * math.log10(max(peak, amin)) - ten * math.log10(max(valley, amin))
    return True


@_jit.kernel
def flux_hop(x, last, rectify, squares, scratch):  # pragma: no cover - compiled
    """Spectral flux of frame ``x`` against ``last`` (then ``last = x``): the rectified
    (``rectify``) or absolute differences, squared when ``squares``, summed as numpy sums
    (:func:`pairwise_sum32`). A NaN difference stays NaN, as in numpy."""
    K = x.shape[0]
    zero = _ZERO32
    for k in range(K):
        d = x[k] - last[k]
        if rectify:
            if d <= zero:  # (NaN is kept: not <= 0)
                d = zero
        else:
            d = abs(d)
        scratch[k] = d * d if squares else d
        last[k] = x[k]
    return pairwise_sum32(scratch, 0, K)


@_jit.kernel
def mkl_ratio_hop(x, last, eps, out):  # pragma: no cover - compiled
    """``out = x / (last + eps)`` (in ``x``'s dtype, for the caller's ``log1p``), then
    ``last = x``: the modified Kullback-Leibler distance's ratios."""
    for k in range(x.shape[0]):
        out[k] = x[k] / (last[k] + eps)
        last[k] = x[k]


@_jit.kernel
def delta_hop(buf, x, w, out):  # pragma: no cover - compiled
    """One live hop of a Savitzky-Golay delta: ``x`` [shape=(C, 1, dim)] becomes the last
    frame of the window ``buf`` [shape=(C, width, dim)], float64; ``out`` [shape=(C, 1,
    dim)], float64, gets ``sum_k w[k] buf[:, k]`` (each product rounded, then added in window order,
    as :func:`~fluxstream.dsp.deltas._interior`); then the window moves on by a frame."""
    C, W, dim = buf.shape
    for c in range(C):
        for d in range(dim):
            buf[c, W - 1, d] = x[c, 0, d]
            acc = w[0] * buf[c, 0, d]
            for k in range(1, W):
                acc += w[k] * buf[c, k, d]
            out[c, 0, d] = acc
            for k in range(W - 1):
                buf[c, k, d] = buf[c, k + 1, d]


@_jit.kernel
def power_hop(X, out):  # pragma: no cover - compiled
    """``out = re**2 + im**2`` of the complex spectrum ``X`` (each square rounded, then the
    sum, as :func:`~fluxstream.dsp.spectral.power`)."""
    for k in range(X.shape[0]):
        re = X[k].real
        im = X[k].imag
        out[k] = re * re + im * im


@_jit.kernel
def csr_matvec(data, indices, indptr, x, out):  # pragma: no cover - compiled
    """``out = A @ x`` for the CSR matrix ``A`` (``data``, ``indices``, ``indptr``): each
    row's products summed in index order from 0, in ``out``'s dtype, as scipy's CSR
    product sums them."""
    for i in range(indptr.shape[0] - 1):
        acc = _ZERO32
        for jj in range(indptr[i], indptr[i + 1]):
            acc += data[jj] * x[indices[jj]]
        out[i] = acc


@_jit.kernel
def cumsum_rows(X, out):  # pragma: no cover - compiled
    """``out[i] = np.cumsum(X[i])`` for every row of ``X`` [shape=(n, K)], in ``out``'s
    dtype and numpy's sequential order (the same sums, bit for bit), several times faster
    than numpy's cumulative sum along the last axis."""
    for r in range(X.shape[0]):
        acc = _ZERO32
        for k in range(X.shape[1]):
            acc += X[r, k]
            out[r, k] = acc


def warm() -> None:
    """Compile (or load from the disk cache) every kernel for float32 spectra now, not on
    the first live hop. No-op without numba."""
    if not _jit.AVAILABLE:
        return
    x = np.linspace(0.0, 1.0, 16, dtype=np.float32)
    W = np.zeros((16, 3))
    buf = np.empty(32, dtype=np.float32)
    summary_pass1(x, W, np.float32(1e-10), np.float32(1e-38), buf)
    summary_pass2(x, np.arange(16.0), buf, (1.0, 1.0, 1.0, 1.0, 1.0, 1.0), (1.0, 1e-5, 0.5, 1e-38),
                  np.empty(9, np.float32))
    rolloff_rows(x.reshape(1, -1), np.float32(0.85), np.empty(16, np.float32), np.empty(1, np.int64))
    centroid(x, np.arange(16.0, dtype=np.float32))
    zero_crossings(x, np.float32(0.0))
    i = np.array([0, 4], dtype=np.int64)
    contrast_rows(x.reshape(1, -1), i, i + 8, np.array([1, 3], dtype=np.int64), False, np.float32(1e-10),
                  np.empty(3, np.float32), np.empty(3, np.float32), np.empty((1, 2), np.float32))
    last = np.zeros(16, dtype=np.float32)
    flux_hop(x, last, True, False, buf)
    mkl_ratio_hop(x, last, np.float32(1e-10), buf)
    power_hop(np.ones(4, dtype=np.complex64), np.empty(4, np.float32))
    rows = np.zeros((2, 9), dtype=np.float32)
    cumsum_rows(rows, np.empty((2, 9), np.float32))  # contiguous rows, and a view's:
    cumsum_rows(rows[:, 1:], np.empty((2, 8), np.float32))
    csr_matvec(np.ones(2, np.float32), np.zeros(2, np.int64), np.array([0, 1, 2], np.int64), x, np.empty(2, np.float32))
    w = np.ones(9)
    w.flags.writeable = False  # as the delta's cached weights
    delta_hop(np.zeros((1, 9, 4)), np.zeros((1, 1, 4), dtype=np.float32), w, np.empty((1, 1, 4)))
