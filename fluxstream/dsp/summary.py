"""One-pass spectral summary: nine shape descriptors of a magnitude spectrum at once.

The descriptors in :mod:`~fluxstream.dsp.descriptors` are each a few numpy calls over the
spectrum; on one frame (a live hop) their cost is almost all per-call overhead, so asking
for nine of them cost nine times that overhead plus nine validations of the same frequency
axis. :class:`SummaryKernel` prepares the frequency axis and the linear weights once, then
computes all nine from shared intermediates: the total, one matrix product for every
linear descriptor, the deviations from the centroid, and the logarithms.

Columns (:data:`SUMMARY_COLUMNS`), each equal to its own kernel in ``descriptors`` (same
formula, same silence value; the tests check it):

==========  ==========================================  =======
centroid    :func:`~fluxstream.dsp.spectral.spectral_centroid`  Hz
spread      :func:`~fluxstream.dsp.descriptors.spectral_spread` Hz
skewness    :func:`~fluxstream.dsp.descriptors.spectral_skewness`
kurtosis    :func:`~fluxstream.dsp.descriptors.spectral_kurtosis`
slope       :func:`~fluxstream.dsp.descriptors.spectral_slope`  1/Hz
decrease    :func:`~fluxstream.dsp.descriptors.spectral_decrease`
crest       :func:`~fluxstream.dsp.descriptors.spectral_crest`
flatness    :func:`~fluxstream.dsp.descriptors.spectral_flatness` (power 2, amin 1e-10)
entropy     :func:`~fluxstream.dsp.descriptors.spectral_entropy`
==========  ==========================================  =======
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError
from . import _jit, frame_kernels
from .descriptors import _TINY32, _ZERO_SPREAD

__all__ = ["SUMMARY_COLUMNS", "SummaryKernel", "spectral_summary"]

#: Frames up to which the final formulas run on Python floats (see ``__call__``).
_SCALAR_FRAMES = 4


#: Column order of :class:`SummaryKernel`'s output.
SUMMARY_COLUMNS = ("centroid", "spread", "skewness", "kurtosis", "slope", "decrease", "crest",
                   "flatness", "entropy")


class SummaryKernel:
    """The nine :data:`SUMMARY_COLUMNS` of magnitude spectra on a fixed frequency axis.

    Parameters
    ----------
    freqs_hz : ndarray [shape=(n_bins,)] [Hz]
        Frequency of each bin (any scale's band centres; ascending).
    amin : float > 0
        Floor on the power in the flatness (as :func:`spectral_flatness`).

    Examples
    --------
    >>> import numpy as np
    >>> k = SummaryKernel(np.array([0.0, 100.0, 200.0, 300.0]))
    >>> S = np.array([[0.0, 1.0, 1.0, 0.0]], dtype=np.float32)
    >>> dict(zip(SUMMARY_COLUMNS, k(S)[0].round(3).tolist()))["centroid"]
    150.0

    Real-time notes
    ---------------
    Pure: no state. Weights are prepared in ``__init__``; a call allocates temporaries the
    size of its input and returns a new array ``(..., 9)`` in the input's float dtype.
    """

    def __init__(self, freqs_hz: np.ndarray, amin: float = 1e-10):
        f64 = np.asarray(freqs_hz, dtype=np.float64)
        if f64.ndim != 1 or f64.shape[0] < 1 or not np.all(np.isfinite(f64)):
            raise ConfigError(f"freqs_hz must be a non-empty 1-D array of finite frequencies (Hz); "
                              f"got shape {f64.shape}")
        if not (isinstance(amin, (int, float)) and amin > 0):
            raise ConfigError(f"amin={amin!r} must be a number > 0")
        K = f64.shape[0]
        self.n_bins = K
        fc = f64 - f64.mean()
        var = float(fc @ fc)
        inv_k = np.zeros(K)
        inv_k[1:] = 1.0 / np.arange(1, K)
        # One product gives the three linear descriptors' numerators: sum f S (centroid),
        # sum (f - mean f) S / var (slope; centred in float64 first, which keeps the
        # regression exact for large f) and sum_{k>=1} S_k / k (decrease).
        W = np.stack([f64, fc / var if var > 0 else np.zeros(K), inv_k], axis=1)
        self._W64 = W
        self._f = {np.dtype(np.float32): f64.astype(np.float32), np.dtype(np.float64): f64}
        self._harmonic = float(inv_k.sum())
        self._zero_spread = _ZERO_SPREAD * float(np.max(np.abs(f64)))
        self._inv_log_k = 1.0 / math.log(K) if K >= 2 else 0.0
        self._amin = float(amin)
        self._amin32 = np.float32(amin)
        self._logs_one = np.empty(2 * K, dtype=np.float32)  # the compiled path's log buffer
        self._consts = (self._harmonic, self._zero_spread, self._inv_log_k, float(_TINY32))

    def __call__(self, S: np.ndarray) -> np.ndarray:
        """Summary of ``S`` [shape=(..., n_bins)], non-negative -> ``(..., 9)``."""
        S = np.asarray(S)
        if S.shape[-1:] != (self.n_bins,):
            raise ConfigError(f"spectrum shape {S.shape} does not match the {self.n_bins} frequencies")
        if S.dtype not in self._f:
            S = S.astype(np.float32 if S.dtype.kind in "iub" or S.dtype == np.float16 else np.float64)
        lead = S.shape[:-1]
        if S.size == self.n_bins:  # one frame: a live hop
            x = S.reshape(-1)
            out = self._compiled_one(x) if _jit.ENABLED and x.dtype == np.float32 and x.flags.c_contiguous else None
            if out is None:
                out = np.array(self._finish_frame(*self._reductions_one(x)), dtype=S.dtype)
            return out.reshape(lead + (len(SUMMARY_COLUMNS),))
        X = S.reshape(-1, self.n_bins)
        R = self._reductions(X)
        # A live hop is one frame: its final formulas on a dozen numbers cost less as Python
        # floats than as a dozen numpy calls on length-1 arrays. Both paths are tested
        # against the individual descriptor kernels.
        if X.shape[0] <= _SCALAR_FRAMES:
            out = np.array([self._finish_frame(*r) for r in R.tolist()], dtype=X.dtype)
            out = out.reshape(X.shape[0], len(SUMMARY_COLUMNS))
        else:
            out = self._finish(R, X.dtype.type)
        return out.reshape(lead + (len(SUMMARY_COLUMNS),))

    def _reductions(self, X: np.ndarray) -> np.ndarray:
        """Per frame: total, the three linear sums, S_0, max, the three central sums,
        sum log T, sum T, sum S log S -> ``(n, 12)`` float64."""
        dt = X.dtype.type
        R = np.empty((X.shape[0], 12))
        total = X.sum(axis=-1)
        R[:, 0] = total
        # In float64: a float32 product's rounding depends on the BLAS kernel, which
        # differs between one frame (a live hop) and many (a file).
        lin = X.astype(np.float64) @ self._W64
        R[:, 1:4] = lin
        R[:, 4] = X[:, 0]
        R[:, 5] = X.max(axis=-1)
        # Two passes (deviations from each frame's centroid), not raw moments: raw fourth
        # moments of frequency cancel catastrophically for narrow high spectra.
        # Silent frames (total < tiny) get a finite, meaningless centroid here; the final
        # formulas zero everything that depends on it.
        c = lin[:, 0] / np.maximum(total, dt(_TINY32))
        d = self._f[X.dtype] - c[:, None]
        d2 = d * d
        w = X * d2
        R[:, 6] = w.sum(axis=-1)
        R[:, 7] = np.vecdot(w, d)
        R[:, 8] = np.vecdot(w, d2)
        T = X * X
        np.maximum(T, dt(self._amin), out=T)
        R[:, 9] = np.log(T).sum(axis=-1)
        R[:, 10] = T.sum(axis=-1)
        np.maximum(X, dt(_TINY32), out=w)
        np.log(w, out=w)
        R[:, 11] = np.vecdot(X, w)
        return R

    def _reductions_one(self, x: np.ndarray) -> list:
        """:meth:`_reductions` of one frame ``x`` [shape=(n_bins,)] as Python floats, by
        1-D dot products: numpy's batched reductions cost several times more per call on one
        row. Sums taken in another order: equal within float32 round-off."""
        dt = x.dtype.type
        total = float(np.add.reduce(x))
        x64 = x.astype(np.float64)
        f_sum, slope_sum, dec_sum = (x64 @ self._W64).tolist()
        d = self._f[np.dtype(np.float64)] - f_sum / max(total, _TINY32)
        d2 = d * d
        w = x64 * d2
        T = x * x
        np.maximum(T, dt(self._amin), out=T)
        t_sum = float(np.add.reduce(T))
        np.log(T, out=T)
        lx = np.maximum(x, dt(_TINY32))
        np.log(lx, out=lx)
        return [total, f_sum, slope_sum, dec_sum, float(x[0]), float(np.maximum.reduce(x)),
                float(np.add.reduce(w)), float(w.dot(d)), float(w.dot(d2)), float(np.add.reduce(T)),
                t_sum, float(x.dot(lx))]

    def _compiled_one(self, x: np.ndarray) -> np.ndarray | None:
        """The nine values of one float32 frame by the compiled kernels (the jit extra):
        two passes around one numpy log, sums in float64, :meth:`_finish_frame`'s formulas.
        None for a frame with NaN or inf, which the numpy path handles."""
        buf = self._logs_one
        r1 = frame_kernels.summary_pass1(x, self._W64, self._amin32, _TINY32, buf)  # (a float32)
        if not math.isfinite(r1[0]):
            return None
        np.log(buf, out=buf)
        out = np.empty(len(SUMMARY_COLUMNS), dtype=np.float32)
        frame_kernels.summary_pass2(x, self._f[np.dtype(np.float64)], buf, r1, self._consts, out)
        return out

    def _finish_frame(self, total, f_sum, slope_sum, dec_sum, s0, peak, w2, w3, w4, log_t, t_sum, slogs):
        """The nine values of one frame from its reductions (Python floats)."""
        K = self.n_bins
        if total >= _TINY32:
            inv = 1.0 / total
            c = f_sum * inv
            sigma = math.sqrt(max(w2 * inv, 0.0))
            if sigma > self._zero_spread:
                skew = w3 * inv / sigma ** 3
                kurt = w4 * inv / sigma ** 4
            else:
                skew = kurt = 0.0
            slope = slope_sum * inv
            ent = 0.0
            if K >= 2:
                ent = min(max((math.log(total) - slogs * inv) * self._inv_log_k, 0.0), 1.0)
        else:
            c = sigma = skew = kurt = slope = ent = 0.0
        den = total - s0
        dec = (dec_sum - s0 * self._harmonic) / den if den >= _TINY32 else 0.0
        mean = total / K
        crest = peak / mean if mean >= _TINY32 else 1.0
        flat = min(math.exp(log_t / K) / (t_sum / K), 1.0)
        return c, sigma, skew, kurt, slope, dec, crest, flat, ent

    def _finish(self, R: np.ndarray, dt) -> np.ndarray:
        """:meth:`_finish_frame` over many frames at once (numpy)."""
        K = self.n_bins
        total = R[:, 0]
        ok = total >= _TINY32
        inv = 1.0 / np.where(ok, total, 1.0)
        out = np.empty((R.shape[0], len(SUMMARY_COLUMNS)))
        out[:, 0] = R[:, 1] * inv
        sigma = np.sqrt(np.maximum(R[:, 6] * inv, 0.0))
        ok_sigma = ok & (sigma > self._zero_spread)
        safe = np.where(ok_sigma, sigma, 1.0)
        out[:, 1] = sigma
        out[:, 2] = np.where(ok_sigma, R[:, 7] * inv / safe ** 3, 0.0)
        out[:, 3] = np.where(ok_sigma, R[:, 8] * inv / safe ** 4, 0.0)
        out[:, 4] = R[:, 2] * inv
        ent = (np.log(np.where(ok, total, 1.0)) - R[:, 11] * inv) * self._inv_log_k
        out[:, 8] = np.clip(ent, 0.0, 1.0) if K >= 2 else 0.0
        out[~ok, :5] = 0.0
        out[~ok, 8] = 0.0
        den = total - R[:, 4]
        ok_dec = den >= _TINY32
        out[:, 5] = np.where(ok_dec, (R[:, 3] - R[:, 4] * self._harmonic) / np.where(ok_dec, den, 1.0), 0.0)
        mean = total / K
        ok_mean = mean >= _TINY32
        out[:, 6] = np.where(ok_mean, R[:, 5] / np.where(ok_mean, mean, 1.0), 1.0)
        out[:, 7] = np.minimum(np.exp(R[:, 9] / K) / (R[:, 10] / K), 1.0)
        return out.astype(dt)


def spectral_summary(S: np.ndarray, freqs_hz: np.ndarray, amin: float = 1e-10) -> np.ndarray:
    """The nine :data:`SUMMARY_COLUMNS` of ``S`` [shape=(..., n_bins)] in one pass.

    Parameters
    ----------
    S : ndarray [shape=(..., n_bins)], non-negative (magnitude spectrum)
    freqs_hz : ndarray [shape=(n_bins,)] [Hz]
    amin : float > 0
        Power floor of the flatness.

    Returns
    -------
    summary : ndarray [shape=(..., 9)]
        Columns as :data:`SUMMARY_COLUMNS` (units: Hz, Hz, -, -, 1/Hz, -, -, -, -).
    """
    return SummaryKernel(freqs_hz, amin)(S)
