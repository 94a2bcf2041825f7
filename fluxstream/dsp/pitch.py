"""Frame-wise fundamental frequency (f0) estimators and pitch helpers.

Every estimator takes unwindowed time-domain frames ``(channels, n_frames, frame_length)``
(the engine's centred framing: frame ``k`` is centred on sample ``k * hop``) and returns
``(channels, n_frames, 3)`` float32 rows ``[f0_hz, confidence, voiced]``: ``f0_hz`` is
exactly 0.0 on an unvoiced frame, ``confidence`` lies in 0..1, ``voiced`` is 1.0 or 0.0.
All are stateless (``latency_samples = 0`` relative to the frame, ``hop = 1`` frame): the
class carries the parameters, the FFT plans and the precomputed tables; the maths is in the
module-level kernels, pure functions over frame matrices of any leading shape.

Map
---
time-domain kernels     :func:`yin_difference`, :func:`cumulative_mean_normalized`,
                        :func:`trough_mask`, :func:`first_trough_below`,
                        :func:`parabolic_interpolation`, :func:`parabolic_vertex_values`,
                        :func:`nsdf`, :func:`mpm_key_maximum`, :func:`periodicity_at`
spectral kernels        :func:`window_autocorrelation`, :func:`yinfft_difference`,
                        :func:`a_weighting`, :func:`real_cepstrum`,
                        :func:`harmonic_product_spectrum`, :func:`subharmonic_summation`,
                        :func:`refine_by_harmonics`
estimators              :class:`Yin` (de Cheveigné & Kawahara 2002), :class:`YinFFT`
                        (after Brossier 2006), :class:`Mpm` (McLeod & Wyvill 2005),
                        :class:`CepstrumPitch` (Noll 1967), :class:`Hps` (Schroeder 1968;
                        Noll 1969), :class:`Shs` (Hermes 1988)
pitch helpers           :func:`hz_to_midi`, :func:`midi_to_hz`, :func:`cents_deviation`

The probabilistic YIN tracker (:class:`~fluxstream.dsp.pyin.PYin`) and the stateful pitch
post-processors (median smoothing, tuning) live in :mod:`fluxstream.dsp.pyin`.

Which estimator
---------------
Measured on synthetic tones (sines; stacks of 5 partials; second partial 12 dB above the
fundamental; partials 2-6 only) at 16, 44.1 and 48 kHz with 2048-sample frames, f0 70 Hz to
2 kHz; the tests hold each to 10 cents in the domain stated here.

- :class:`Yin`, :class:`Mpm`: time domain, within 2 cents everywhere at 44.1/48 kHz,
  missing fundamental included; robust to DC and clipping; need two periods of ``fmin_hz``
  per frame. Limit: rich tones with periods under ~16 samples (above 1 kHz at 16 kHz).
- :class:`Hps`, :class:`Shs`: magnitude spectrum with the f0 refined from the harmonic
  peaks; within 7 cents on every tone above, octave traps included, at all three rates.
- :class:`YinFFT`: the Hann window costs accuracy at low f0: within 10 cents from about five
  periods per frame (117 Hz at 48 kHz with 2048 samples; use 4096 for bass).
- :class:`CepstrumPitch`: needs several resolved partials (voice, brass, strings); a pure
  sine is reported unvoiced.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft

from ..errors import ConfigError
from . import _jit, frame_kernels
from ._checks import check_int as _check_int
from ._checks import check_positive as _check_positive
from ._checks import check_real as _check_real
from .fft import MAX_BATCH, RealFFT
from .windows import make_window

__all__ = [
    "yin_difference",
    "cumulative_mean_normalized",
    "trough_mask",
    "parabolic_vertex_values",
    "first_trough_below",
    "parabolic_interpolation",
    "nsdf",
    "mpm_key_maximum",
    "periodicity_at",
    "window_autocorrelation",
    "yinfft_difference",
    "a_weighting",
    "real_cepstrum",
    "harmonic_product_spectrum",
    "subharmonic_summation",
    "refine_by_harmonics",
    "Yin",
    "YinFFT",
    "Mpm",
    "CepstrumPitch",
    "Hps",
    "Shs",
    "hz_to_midi",
    "midi_to_hz",
    "cents_deviation",
]

_TINY32 = float(np.finfo(np.float32).tiny)
_TINY32_F = np.float32(_TINY32)
#: Frames (times channels) per internal block of :meth:`_FramePitch.process`.
_BLOCK_FRAMES = 64
#: Harmonics :class:`CepstrumPitch` refines its f0 from.
_CEPSTRUM_REFINE_HARMONICS = 8
#: :class:`CepstrumPitch`'s analysis band: bins within this many dB of the maximum ...
_CEPSTRUM_BAND_DB = 50.0
#: ... and at least this many bins.
_CEPSTRUM_MIN_BAND = 64
#: Columns of an estimator's output rows.
F0, CONFIDENCE, VOICED = 0, 1, 2


# -- validation ------------------------------------------------------------------------

def _check_open_unit(name: str, value, what: str) -> float:
    v = _check_real(name, value, what)
    if not 0.0 < v <= 1.0:
        raise ConfigError(f"{name}={value!r} must be in (0, 1] ({what})")
    return v


def _check_pitch_range(sample_rate, frame_length, fmin_hz, fmax_hz) -> tuple[float, int, float, float]:
    """The parameters every estimator shares, validated in a fixed order."""
    sr = _check_positive("sample_rate", sample_rate, "Hz")
    N = _check_int("frame_length", frame_length, 4, "samples")
    fmin = _check_positive("fmin_hz", fmin_hz, "Hz")
    fmax = _check_positive("fmax_hz", fmax_hz, "Hz")
    if not fmin < fmax:
        raise ConfigError(f"fmin_hz={fmin_hz!r} must be < fmax_hz={fmax_hz!r} (Hz)")
    if fmax > sr / 2:
        raise ConfigError(f"fmax_hz={fmax_hz!r} must be <= sample_rate/2 = {sr / 2:g} "
                          f"(the Nyquist frequency at sample_rate={sample_rate!r}) (Hz)")
    return sr, N, fmin, fmax


def _too_short(cls: str, N: int, need: int, sr: float, fmin: float, periods: str,
               max_period: float) -> ConfigError:
    """The error for a frame too short for ``fmin_hz``; ``max_period`` [samples] is the
    longest period the frame allows, so ``sample_rate / max_period`` is the lowest fmin."""
    return ConfigError(
        f"frame_length={N} is too short for fmin_hz={fmin:g} at sample_rate={sr:g}: {cls} "
        f"needs {periods}, i.e. frame_length >= {need} (samples); raise frame_length, or "
        f"fmin_hz to >= {math.ceil(100.0 * sr / max_period) / 100.0:g} (Hz)"
    )


# -- time-domain kernels ---------------------------------------------------------------

def _pow2_at_least(n: int) -> int:
    """Smallest power of two >= n: the estimators' padded FFT length (FFTW plans powers of
    two in milliseconds; a length such as 2800 = 2**4 5**2 7 took seconds to measure)."""
    return 1 << (int(n) - 1).bit_length()


def _as_float32(frames) -> np.ndarray:
    x = np.asarray(frames)
    return x if x.dtype == np.float32 else x.astype(np.float32)


def _single_plan(fft: RealFFT | None, rows: int, inverse: bool):
    """The plan that transforms ``rows`` frames in one call (a power of two up to
    :data:`~fluxstream.dsp.fft.MAX_BATCH`), or None: then :meth:`RealFFT.frames` splits."""
    if fft is None or not 0 < rows <= MAX_BATCH or rows & (rows - 1):
        return None
    return fft.plan((1, rows), inverse=inverse)


def _rfft(x: np.ndarray, n_fft: int, fft: RealFFT | None) -> np.ndarray:
    """Spectra of ``x`` [shape=(..., m <= n_fft)] zero-padded to ``n_fft``: complex64,
    a new array or (through ``fft``) a plan buffer valid until the next call of its size."""
    m = x.shape[-1]
    if fft is None:
        return scipy.fft.rfft(x, n=n_fft, axis=-1)
    if fft.n_fft != n_fft:
        raise ValueError(f"fft.n_fft={fft.n_fft} does not match the transform length {n_fft}")
    lead = x.shape[:-1]
    rows = math.prod(lead)
    plan = _single_plan(fft, rows, False)
    if plan is not None:  # write straight into the plan's input: no intermediate copy
        buf = plan.input.reshape(lead + (n_fft,))
        buf[..., :m] = x
        if m < n_fft:
            buf[..., m:] = 0.0
        return plan().reshape(lead + (n_fft // 2 + 1,))
    if m == n_fft:
        flat = x.reshape(1, -1, n_fft)
    else:
        flat = np.zeros((1, rows, n_fft), dtype=np.float32)
        flat[0, :, :m] = x.reshape(-1, m)
    return fft.frames(flat).reshape(lead + (n_fft // 2 + 1,))


def _irfft(X: np.ndarray, n_fft: int, fft: RealFFT | None) -> np.ndarray:
    if fft is None:
        return scipy.fft.irfft(X, n=n_fft, axis=-1).astype(np.float32, copy=False)
    lead = X.shape[:-1]
    plan = _single_plan(fft, math.prod(lead), True)
    if plan is not None:
        plan.input.reshape(X.shape)[...] = X
        return plan().reshape(lead + (n_fft,))
    return fft.frames(X.reshape(1, -1, X.shape[-1]), inverse=True).reshape(lead + (n_fft,))


def yin_difference(frames: np.ndarray, max_lag: int, win_length: int | None = None,
                   fft: RealFFT | None = None) -> np.ndarray:
    """YIN's difference function ``d(tau)`` for lags ``0..max_lag``, by FFT.

    Two conventions:

    ``win_length=W`` (de Cheveigné & Kawahara 2002, eq. 6; librosa < 0.11)
        ``d(tau) = sum_{j=0}^{W-1} (x_j - x_{j+tau})**2 = e(0) + e(tau) - 2 r(tau)`` with
        the cross-correlation ``r(tau) = sum_{j<W} x_j x_{j+tau}`` (one ``frame_length``
        FFT of the frame and one of its first ``W`` samples: no lag wraps around because
        ``W + max_lag <= frame_length``) and the window energies ``e(tau) = sum_{j=tau}^
        {tau+W-1} x_j**2`` (cumulative sums). Unbiased: a periodic frame has ``d(T) = 0``.
        Needs ``W + max_lag <= frame_length``.
    ``win_length=None`` (librosa >= 0.11, ``librosa.yin``/``pyin``)
        ``d(tau) = 2 r(0) - 2 r(tau) - sum_{j<tau} x_j**2`` with the full autocorrelation
        ``r(tau) = sum_j x_j x_{j+tau}``: the difference over the whole frame with zeros
        after its end, ``sum_{j=0}^{N-1} (x_j - x_{j+tau})**2``, which adds the energy of the
        frame's last ``tau`` samples. That term grows with the lag and pulls minima to
        shorter lags (sharp f0: measured 33 cents at 65 Hz with 2048 samples at 48 kHz).
        Needs ``max_lag <= frame_length - 1``; FFT length ``>= frame_length + max_lag``.

    Parameters
    ----------
    frames : ndarray [shape=(..., frame_length)]
    max_lag : int >= 1 [samples]
    win_length : int >= 1 or None [samples]
    fft : RealFFT, optional
        Plans to use: length ``frame_length`` (windowed) or ``>= frame_length + max_lag``
        (full). Default: scipy, minimal lengths.

    Returns
    -------
    d : ndarray [shape=(..., max_lag + 1), dtype=float32]
        ``d[..., 0] = 0``; clipped at 0 (round-off can make a perfect match slightly negative).
    """
    x = _as_float32(frames)
    N = x.shape[-1]
    max_lag = int(max_lag)
    if win_length is None:
        if not 1 <= max_lag <= N - 1:
            raise ValueError(f"max_lag={max_lag} must be in 1..frame_length-1={N - 1}")
        L = fft.n_fft if fft is not None else scipy.fft.next_fast_len(N + max_lag, real=True)
        if L < N + max_lag:
            raise ValueError(f"FFT length {L} < frame_length + max_lag = {N + max_lag}: lags would wrap")
        X = _rfft(x, L, fft)
        P = X.real * X.real
        P += X.imag * X.imag
        r = _irfft(P.astype(np.complex64), L, fft)[..., : max_lag + 1]
        head = _cumsum_last(x[..., :max_lag] * x[..., :max_lag])  # (x is float32)
        d = np.empty(x.shape[:-1] + (max_lag + 1,), dtype=np.float32)
        d[..., 0] = 0.0
        np.subtract(r[..., :1], r[..., 1:], out=d[..., 1:])
        d[..., 1:] *= 2.0
        d[..., 1:] -= head
    else:
        W = int(win_length)
        if W < 1 or W + max_lag > N:
            raise ValueError(f"win_length={W} + max_lag={max_lag} must be <= frame_length={N}")
        if fft is not None and fft.n_fft != N:
            raise ValueError(f"fft.n_fft={fft.n_fft} must equal frame_length={N}")
        lead = x.shape[:-1]
        # The frame and its first W samples, transformed in one batch.
        plan = _single_plan(fft, 2 * math.prod(lead), False)
        both = np.empty((2,) + lead + (N,), dtype=np.float32) if plan is None \
            else plan.input.reshape((2,) + lead + (N,))
        both[0] = x
        both[1, ..., :W] = x[..., :W]
        both[1, ..., W:] = 0.0
        S = _rfft(both, N, fft) if plan is None else plan().reshape((2,) + lead + (N // 2 + 1,))
        # conj(A) X: the correlation of the first W samples with the whole frame.
        P = np.conj(S[1])
        P *= S[0]
        r = _irfft(P, N, fft)[..., : max_lag + 1]
        # e(tau) - e(0) = sum_{j<tau} (x_{j+W}**2 - x_j**2): a cumulative sum over max_lag
        # samples instead of the whole frame (cumsum is sequential, ~4.5 ns a sample).
        grow = x[..., W : W + max_lag] * x[..., W : W + max_lag]
        grow -= x[..., :max_lag] * x[..., :max_lag]
        d = np.empty(lead + (max_lag + 1,), dtype=np.float32)
        d[..., 0] = 0.0
        # d(tau) = e(0) + e(tau) - 2 r(tau) = 2 (r(0) - r(tau)) + (e(tau) - e(0)), r(0) = e(0)
        np.subtract(r[..., :1], r[..., 1:], out=d[..., 1:])
        d[..., 1:] *= 2.0
        d[..., 1:] += _cumsum_last(grow)
    return np.maximum(d, 0.0, out=d)


def _cumsum_last(x: np.ndarray) -> np.ndarray:
    """``np.cumsum(x, axis=-1)``, a new array: the same float32 sums by a compiled kernel
    (the jit extra), which runs several times faster over many rows."""
    if _jit.ENABLED and x.dtype == np.float32 and x.ndim and x.size:
        out = np.empty(x.shape, dtype=np.float32)
        frame_kernels.cumsum_rows(x.reshape(-1, x.shape[-1]), out.reshape(-1, x.shape[-1]))
        return out
    return np.cumsum(x, axis=-1)


def cumulative_mean_normalized(d: np.ndarray) -> np.ndarray:
    """YIN's cumulative-mean-normalized difference ``d'(tau)`` (eq. 8).

    ``d'(0) = 1`` and ``d'(tau) = d(tau) / ((1/tau) sum_{j=1}^{tau} d(j))``. Where the
    cumulative sum is below float32's ``tiny`` (a silent frame, or a frame that is exactly
    periodic from lag 1, i.e. constant) ``d'`` is 1: "no evidence of periodicity".

    Parameters
    ----------
    d : ndarray [shape=(..., n_lags)], n_lags >= 1, non-negative

    Returns
    -------
    cmnd : ndarray [shape=(..., n_lags)] (dimensionless), d's floating dtype
    """
    d = np.asarray(d)
    d = d if d.dtype.kind == "f" else d.astype(np.float64)
    if d.shape[-1] < 2:
        return np.ones_like(d)
    cs = _cumsum_last(d[..., 1:])
    tau = np.arange(1, d.shape[-1], dtype=d.dtype)
    # d >= 0, so each row's cumulative sum is smallest at lag 1: when that is above tiny
    # everywhere (every frame but silence), no mask is needed (the same quotients).
    if cs.size and cs[..., 0].min() >= _TINY32:
        out = np.empty_like(d)
        out[..., 0] = 1.0
        np.multiply(d[..., 1:], tau, out=out[..., 1:])
        np.divide(out[..., 1:], cs, out=out[..., 1:])
        return out
    out = np.ones_like(d)
    num = d[..., 1:] * tau
    np.divide(num, cs, out=out[..., 1:], where=cs >= _TINY32)
    return out


def trough_mask(y: np.ndarray) -> np.ndarray:
    """Troughs of ``y`` along the last axis (librosa's rule for ``yin``/``pyin``).

    An interior ``i`` with ``y[i] < y[i-1]`` and ``y[i] <= y[i+1]`` (the first index of a
    flat bottom), the first index when ``y[0] < y[1]`` and the last when ``y[-1] < y[-2]``
    (the curve still falls at the range's edge).

    Parameters
    ----------
    y : ndarray [shape=(..., n)]

    Returns
    -------
    mask : ndarray [shape=(..., n), dtype=bool]
    """
    y = np.asarray(y)
    n = y.shape[-1]
    trough = np.zeros(y.shape, dtype=bool)
    if n >= 2:
        np.less(y[..., 1:-1], y[..., :-2], out=trough[..., 1:-1])
        trough[..., 1:-1] &= y[..., 1:-1] <= y[..., 2:]
        trough[..., 0] = y[..., 0] < y[..., 1]
        trough[..., -1] = y[..., -1] < y[..., -2]
    return trough


def parabolic_vertex_values(y: np.ndarray) -> np.ndarray:
    """Ordinate of the parabola's vertex through each point and its two neighbours.

    ``v[i] = y[i] - (y[i-1] - y[i+1])**2 / (8 (y[i-1] - 2 y[i] + y[i+1]))``: the value
    :func:`parabolic_interpolation` returns at ``i``, for every index at once; ``v[i] =
    y[i]`` where that function's ``delta`` is 0 (edges, vertex a step or more away).
    YIN's step 5 uses this ordinate of each interpolated minimum in the dip selection.

    Parameters
    ----------
    y : ndarray [shape=(..., n)]

    Returns
    -------
    v : ndarray [shape=(..., n)], y's floating dtype
    """
    y = np.asarray(y)
    v = y.astype(np.result_type(y.dtype, np.float32), copy=True)
    if y.shape[-1] < 3:
        return v
    a, b, c = y[..., :-2], y[..., 1:-1], y[..., 2:]
    den = a + c
    den -= b
    den -= b
    hd = a - c
    hd *= 0.5
    ok = np.abs(hd) < np.abs(den)
    corr = hd * hd
    np.divide(corr, den, out=corr, where=ok)
    corr[~ok] = 0.0
    corr *= 0.5
    v[..., 1:-1] -= corr
    return v


def _trough_values(y: np.ndarray, interpolate: bool) -> np.ndarray:
    """``y`` at its troughs (:func:`trough_mask`; with ``interpolate`` the interpolated
    ordinate of :func:`parabolic_vertex_values` at interior troughs), ``inf`` elsewhere.

    One pass over the first differences: at an interior trough ``y[i-1] - y[i] > 0`` and
    ``y[i+1] - y[i] >= 0``, so the parabola's curvature is positive and its vertex less than
    a step away; the vertex is ``y[i] - (y[i+1] - y[i-1])**2 / (8 (y[i+1] - 2 y[i] +
    y[i-1]))``. Computed for every lag (not only at the troughs: a noise frame has hundreds,
    and a bounded cost per frame matters more in real time)."""
    y = np.asarray(y)
    n = y.shape[-1]
    tv = np.full(y.shape, np.inf, dtype=np.result_type(y.dtype, np.float32))
    if n < 2:
        return tv
    d1 = np.diff(y, axis=-1)  # d1[i] = y[i+1] - y[i]
    tv[..., 0] = np.where(d1[..., 0] > 0, y[..., 0], np.inf)
    tv[..., -1] = np.where(d1[..., -1] < 0, y[..., -1], np.inf)
    if n < 3:
        return tv
    left, right = d1[..., :-1], d1[..., 1:]  # y[i] - y[i-1], y[i+1] - y[i] for i = 1..n-2
    trough = left < 0
    trough &= right >= 0
    mid = y[..., 1:-1]
    if not interpolate:
        tv[..., 1:-1] = np.where(trough, mid, np.inf)
        return tv
    # y[i+1] - 2 y[i] + y[i-1]: > 0 at a trough, where (y[i+1] - y[i-1])**2 <= den**2 keeps
    # the quotient finite; elsewhere it may be 0 (inf, nan), and the select below drops it.
    den = (right - left).astype(tv.dtype, copy=False)
    s = right + left  # y[i+1] - y[i-1]
    s *= s
    with np.errstate(divide="ignore", invalid="ignore"):
        s /= den
    s *= -0.125
    s += mid
    # (Unmasked arithmetic, one select at the end: masked ufuncs and copyto(where=) ran
    # slower on noise frames, whose trough masks are random.)
    tv[..., 1:-1] = np.where(trough, s, np.inf)
    return tv


def first_trough_below(y: np.ndarray, threshold: float,
                       values: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Index of the first trough of ``y`` (:func:`trough_mask`, along the last axis) whose
    value is below ``threshold``: YIN's absolute threshold (step 4).

    Parameters
    ----------
    y : ndarray [shape=(..., n)], n >= 2
    threshold : float
    values : ndarray [shape=(..., n)], optional
        The values compared with the threshold (default ``y``); e.g. the interpolated
        ordinates of :func:`parabolic_vertex_values`.

    Returns
    -------
    index : ndarray [shape=(...), dtype=int64]
        0 where none is found.
    found : ndarray [shape=(...), dtype=bool]
    """
    y = np.asarray(y)
    n = y.shape[-1]
    v = y if values is None else np.asarray(values)
    below = v < v.dtype.type(threshold)
    below &= trough_mask(y)
    idx = np.argmax(below, axis=-1)
    found = below.reshape(-1)[np.arange(0, below.size, max(n, 1)) + idx.reshape(-1)].reshape(idx.shape)
    return idx, found


def parabolic_interpolation(y: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertex of the parabola through ``y[i-1], y[i], y[i+1]`` at ``i = index``.

    For ``a, b, c = y[i-1], y[i], y[i+1]`` the vertex lies at ``i + delta`` with ``delta =
    (a - c) / (2 (a - 2b + c))`` and has the value ``b - (a - c) delta / 4``. When the
    vertex would be a whole step or more away (``|delta| >= 1``, which includes a straight
    line) or ``i`` is the first or last index, ``delta = 0`` and the value is ``b``
    (librosa's rule for ``yin``/``pyin``).

    Parameters
    ----------
    y : ndarray [shape=(..., n)]
    index : ndarray of int [shape=(...)]

    Returns
    -------
    delta : ndarray [shape=(...)] [steps of the last axis], in (-1, 1)
    value : ndarray [shape=(...)]
    """
    y = np.asarray(y)
    index = np.asarray(index)
    n = y.shape[-1]
    i = index.reshape(-1)
    base = np.arange(0, y.size, max(n, 1))
    flat = y.reshape(-1)
    dtype = np.result_type(y.dtype, np.float32)
    inner = (i > 0) & (i < n - 1)
    if n < 3:
        return np.zeros(index.shape, dtype=dtype), flat[base + i].reshape(index.shape)
    at = base + np.where(inner, i, 1)  # an interior index everywhere; edges masked below
    a, b, c = flat[at - 1], flat[at], flat[at + 1]
    den = a + c
    den -= b + b
    half_diff = a - c
    half_diff *= 0.5
    ok = np.abs(half_diff) < np.abs(den)
    ok &= inner
    delta = np.zeros(i.shape, dtype=dtype)
    np.divide(half_diff, den, out=delta, where=ok)
    value = b - 0.5 * half_diff * delta
    if not inner.all():
        value[~inner] = flat[base + i][~inner]
    return delta.reshape(index.shape), value.reshape(index.shape)


def _parabolic_offsets_at(y: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """:func:`parabolic_interpolation`'s ``delta`` at scattered points ``y[rows, cols]`` of
    a 2-D array (flat gathers; no row copies)."""
    n = y.shape[-1]
    flat = y.reshape(-1)
    inner = (cols > 0) & (cols < n - 1)
    at = rows * n + np.where(inner, cols, 1) if n >= 3 else rows * n + cols
    delta = np.zeros(at.shape, dtype=np.result_type(y.dtype, np.float32))
    if n < 3:
        return delta
    a, b, c = flat[at - 1], flat[at], flat[at + 1]
    den = a + c
    den -= b + b
    half_diff = a - c
    half_diff *= 0.5
    ok = (np.abs(half_diff) < np.abs(den)) & inner
    np.divide(half_diff, den, out=delta, where=ok)
    return delta


def nsdf(frames: np.ndarray, max_lag: int, fft: RealFFT | None = None) -> np.ndarray:
    """McLeod's normalized square difference function ``n'(tau)`` for lags ``0..max_lag``.

    ``n'(tau) = 2 r(tau) / m(tau)`` with ``r(tau) = sum_{j=0}^{N-1-tau} x_j x_{j+tau}``
    and ``m(tau) = sum_{j=0}^{N-1-tau} (x_j**2 + x_{j+tau}**2)`` (McLeod & Wyvill 2005,
    eq. 6), in -1..1: 1 at ``tau = 0`` and at the period of a periodic frame. ``r`` by
    FFT (length ``>= N + max_lag``: no wrap-around), ``m`` by cumulative sums. Where ``m``
    is below float32's ``tiny`` (silence) ``n'`` is 0.

    Parameters
    ----------
    frames : ndarray [shape=(..., N)]
    max_lag : int in 1..N-1 [samples]
    fft : RealFFT, optional
        Length ``>= N + max_lag``.

    Returns
    -------
    nsdf : ndarray [shape=(..., max_lag + 1), dtype=float32]
    """
    x = _as_float32(frames)
    N = x.shape[-1]
    L = fft.n_fft if fft is not None else scipy.fft.next_fast_len(N + max_lag, real=True)
    if not 1 <= max_lag <= N - 1 or L < N + max_lag:
        raise ValueError(f"max_lag={max_lag} must be in 1..{N - 1} with FFT length >= {N + max_lag}")
    X = _rfft(x, L, fft)
    P = X.real * X.real
    P += X.imag * X.imag
    r = _irfft(P.astype(np.complex64), L, fft)[..., : max_lag + 1]
    c = _cumsum_last(x * x)  # (x is float32)
    total = c[..., -1:]
    # m(tau) = (energy of x_0..x_{N-1-tau}) + (energy of x_tau..x_{N-1})
    m = np.empty_like(r)
    m[..., 0] = 2.0 * total[..., 0]
    m[..., 1:] = c[..., N - 2 : N - 2 - max_lag : -1] if max_lag < N - 1 else c[..., N - 2 :: -1]
    m[..., 1:] += total - c[..., : max_lag]
    out = np.zeros_like(r)
    np.divide(2.0 * r, m, out=out, where=m >= _TINY32)
    return np.clip(out, -1.0, 1.0, out=out)


def mpm_key_maximum(n: np.ndarray, cutoff: float, min_lag: int = 0,
                    heights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MPM's peak picking: the first key maximum at least ``cutoff`` times the highest.

    Key maxima (McLeod & Wyvill 2005, sec. 5) are the highest points of the positive lobes
    of ``n'`` between a positive-going zero crossing and the next negative-going one. The
    lobe around lag 0 is not one (it is before the first positive-going crossing). Only
    lags ``>= min_lag`` take part. The chosen key maximum is the first whose height
    reaches ``cutoff * max(key maxima)``.

    Parameters
    ----------
    n : ndarray [shape=(..., n_lags)]
        NSDF values for lags ``0..n_lags-1``.
    cutoff : float in (0, 1]
    min_lag : int >= 0
    heights : ndarray [shape=(..., n_lags)], optional
        The heights compared (default ``n``); e.g. :func:`parabolic_vertex_values` of ``n``,
        the interpolated peak heights, so that a sharp peak falling between two lags (short
        periods with strong upper partials) is not undervalued against its multiples.

    Returns
    -------
    lag : ndarray [shape=(...), dtype=int64]
        Integer lag of the chosen key maximum (0 when there is none).
    found : ndarray [shape=(...), dtype=bool]
    """
    n = np.asarray(n)
    hgt = n if heights is None else np.asarray(heights)
    pos = n > 0
    # Lobe number: positive-going zero crossings so far. Lobe 0 is the one at lag 0.
    up = np.zeros(n.shape, dtype=np.int32)
    up[..., 1:] = pos[..., 1:] & ~pos[..., :-1]
    lobe = np.cumsum(up, axis=-1, dtype=np.int32)
    valid = pos & (lobe > 0)
    valid[..., :min_lag] = False
    vals = np.where(valid, hgt, -np.inf)
    best = vals.max(axis=-1, initial=-np.inf)
    found = np.isfinite(best)
    # The first lag reaching the cutoff lies in the chosen key maximum's lobe; that lobe's
    # highest point is the key maximum (it is >= the crossing value, so it also qualifies).
    reach = vals >= (cutoff * np.where(found, best, 0.0))[..., None]
    first = np.argmax(reach & valid, axis=-1)
    which = np.take_along_axis(lobe, first[..., None], axis=-1)
    in_lobe = np.where(valid & (lobe == which), hgt, -np.inf)
    lag = np.argmax(in_lobe, axis=-1)
    return np.where(found, lag, 0), found


def periodicity_at(frames: np.ndarray, period: np.ndarray) -> np.ndarray:
    """Periodicity of each frame at a given period: the NSDF peak near it, 0..1.

    ``max(0, n'(tau))`` (:func:`nsdf`) evaluated at the integer lags ``round(period) - 1
    .. round(period) + 1`` around the period, refined by :func:`parabolic_interpolation`
    at the highest of the three; the frame's mean is removed first, so DC counts as nothing.
    Near 1 for a periodic frame at its period (or a multiple), near 0 for noise (standard
    deviation about ``1/sqrt(N - period)``). Direct sums over the frame, no FFT.

    Parameters
    ----------
    frames : ndarray [shape=(..., N)]
    period : ndarray [shape=(...)] [samples]
        Lags in ``1..N-2``; 0 (or anything outside) gives 0.

    Returns
    -------
    periodicity : ndarray [shape=(...), dtype=float32] (0..1)
    """
    x = _as_float32(frames)
    N = x.shape[-1]
    lead = x.shape[:-1]
    x2 = x.reshape(-1, N)
    rows = x2.shape[0]
    xp = np.zeros((rows, 2 * N), dtype=np.float32)  # zeros after the frame: no wrap, no mask
    np.subtract(x2, x2.mean(axis=-1, keepdims=True), out=xp[:, :N])
    xm = xp[:, :N]
    period = np.asarray(period, dtype=np.float64).reshape(-1)
    ok = (period >= 2.0) & (period <= N - 2.0)
    t0 = np.where(ok, np.rint(period), 2).astype(np.intp)
    lags = t0[:, None] + np.arange(-1, 2)  # (rows, 3)
    s0, s1 = xp.strides  # windows[r, k] = xp[r, k : k + N] (a view built directly: cheaper)
    windows = np.ndarray((rows, N + 1, N), np.float32, xp, 0, (s0, s1, s1))
    shifted = windows[np.arange(rows)[:, None], lags]  # (rows, 3, N): x_{j + tau}, zero past the end
    r = np.einsum("rn,rkn->rk", xm, shifted)
    # m(tau) = sum_{j < N - tau} x_j**2 + sum_{j >= tau} x_j**2, from one cumulative sum
    c = np.cumsum(xm * xm, axis=-1, dtype=np.float64)
    total = c[:, -1:]
    m = c[np.arange(rows)[:, None], N - 1 - lags] + total - c[np.arange(rows)[:, None], lags - 1]
    n = np.zeros(r.shape)
    np.divide(2.0 * r, m, out=n, where=m >= _TINY32)
    _, val = parabolic_interpolation(n, np.argmax(n, axis=-1))
    val = np.where(ok, np.minimum(np.maximum(val, 0.0), 1.0), 0.0)
    return val.astype(np.float32).reshape(lead)


# -- spectral kernels ------------------------------------------------------------------

def a_weighting(freqs_hz: np.ndarray) -> np.ndarray:
    """IEC 61672 A-weighting as a power gain (1 at 1 kHz, 0 at DC).

    ``R_A(f) = 12194**2 f**4 / ((f**2 + 20.6**2) sqrt((f**2 + 107.7**2)(f**2 + 737.9**2))
    (f**2 + 12194**2))``, returned as ``(R_A(f) / R_A(1000))**2``.

    Parameters
    ----------
    freqs_hz : ndarray [Hz]

    Returns
    -------
    gain : ndarray (float64), same shape
    """
    f2 = np.asarray(freqs_hz, dtype=np.float64) ** 2

    def ra(f2_):
        return (12194.0 ** 2 * f2_ ** 2) / ((f2_ + 20.6 ** 2) * np.sqrt((f2_ + 107.7 ** 2) * (f2_ + 737.9 ** 2))
                                           * (f2_ + 12194.0 ** 2))

    return (ra(f2) / ra(1000.0 ** 2)) ** 2


def window_autocorrelation(window: np.ndarray, max_lag: int) -> np.ndarray:
    """Normalized autocorrelation of a window, ``rho_w(tau) = sum_n w_n w_{n+tau} /
    sum_n w_n**2`` for ``tau = 0..max_lag`` (direct sums; float64).

    Parameters
    ----------
    window : ndarray [shape=(N,)]
    max_lag : int in 0..N-1 [samples]

    Returns
    -------
    rho : ndarray [shape=(max_lag + 1,), dtype=float64], ``rho[0] = 1``
    """
    w = np.asarray(window, dtype=np.float64)
    full = np.correlate(w, w, mode="full")[w.size - 1 : w.size + max_lag]
    return full / full[0]


def yinfft_difference(weighted_power: np.ndarray, n_fft: int, max_lag: int,
                      window_acf: np.ndarray | None = None, fft: RealFFT | None = None) -> np.ndarray:
    """Spectral-domain YIN difference from a (weighted) power spectrum (Brossier 2006).

    ``d(tau) = 2 (r(0) - r(tau) / rho_w(tau))`` with ``r = irfft(P)`` the autocorrelation
    of the windowed (and weighted) frame and ``rho_w`` the window's normalized
    autocorrelation (:func:`window_autocorrelation`; 1 when ``window_acf`` is None, which is
    Brossier's form). Dividing by ``rho_w`` (Boersma 1993) undoes the window's taper of
    ``r``, which otherwise pulls the minimum towards short lags (sharp f0, hundreds of cents
    at 70 Hz in 2048 samples at 48 kHz) and keeps ``d`` at the period well above 0. With
    ``n_fft >= frame_length + max_lag`` the autocorrelation is linear (no wrap-around).

    Parameters
    ----------
    weighted_power : ndarray [shape=(..., n_fft//2 + 1)], >= 0
    n_fft : int [samples]
    max_lag : int in 1..n_fft-1 [samples]
    window_acf : ndarray [shape=(>= max_lag + 1,)], optional
    fft : RealFFT, optional
        Length ``n_fft``.

    Returns
    -------
    d : ndarray [shape=(..., max_lag + 1), dtype=float32], >= 0
    """
    P = np.asarray(weighted_power, dtype=np.float32)
    r = _irfft(P.astype(np.complex64), n_fft, fft)[..., : max_lag + 1]
    if window_acf is not None:
        r = r / np.asarray(window_acf[: max_lag + 1], dtype=np.float32)
    d = r[..., :1] - r
    d *= 2.0
    return np.maximum(d, 0.0, out=d)


def real_cepstrum(log_power: np.ndarray, n_fft: int, fft: RealFFT | None = None) -> np.ndarray:
    """Real cepstrum: the inverse FFT of a log power spectrum.

    ``c(q) = irfft(log P)(q)``, quefrency ``q`` in samples (``q / sample_rate`` seconds).
    A tone with period ``T`` samples and many partials has a ripple of period
    ``sample_rate / T`` Hz in ``log P``, hence a peak at ``q = T``.

    Parameters
    ----------
    log_power : ndarray [shape=(..., n_fft//2 + 1)] [nepers of power]
    n_fft : int
    fft : RealFFT, optional

    Returns
    -------
    cepstrum : ndarray [shape=(..., n_fft), dtype=float32]
    """
    L = np.asarray(log_power, dtype=np.float32)
    return np.array(_irfft(L.astype(np.complex64), n_fft, fft), dtype=np.float32, copy=True)


def harmonic_product_spectrum(log_mag: np.ndarray, n_harmonics: int, k_lo: int, k_hi: int, *,
                              floor: np.ndarray | float | None = None, work: tuple | None = None) -> np.ndarray:
    """Log harmonic product spectrum of the spectral peaks, over candidate bins
    ``k_lo..k_hi``.

    ``H(k) = sum_{h=1}^{n_harmonics} D_h(L_peak)(h k)``: the log magnitude ``L`` keeps its
    value at local maxima and drops to its minimum (the floor the caller put on ``L``)
    elsewhere (``L_peak``), then harmonic ``h`` reads it through a running maximum of
    half-width ``(h + 2) // 2`` bins (``D_h``), the most by which ``h k`` can miss the
    ``h``-th partial of a fundamental that lies within half a bin of ``k``. Bins beyond the
    spectrum count as the floor. This is ``log prod_h |X(h f)|`` (Schroeder 1968) in the
    log domain (no underflow), on peaks only: the flanks of a main lobe wider than the
    partial spacing (low f0, short frames) would otherwise feed sub-multiples of f0.

    Parameters
    ----------
    log_mag : ndarray [shape=(..., n_bins)]
        Log magnitude spectrum, floored.
    n_harmonics : int >= 1
    k_lo, k_hi : int, 1 <= k_lo <= k_hi
        Candidate fundamental bins.
    floor : float or ndarray [shape=(..., 1)], optional
        The floor; by default ``log_mag``'s minimum. A caller that passes only the bins the
        harmonics reach gives the whole spectrum's minimum here.
    work : three ndarrays [shape=(..., max(n_bins, n_harmonics k_hi + (n_harmonics + 2) // 2 + 2))], optional
        Buffers to compute in (a live hop keeps them between calls); new arrays by default.

    Returns
    -------
    hps : ndarray [shape=(..., k_hi - k_lo + 1)]
    """
    L = np.asarray(log_mag)
    K = L.shape[-1]
    if floor is None:
        floor = L.min(axis=-1, keepdims=True)
    if work is None:
        need = max(n_harmonics * k_hi + (n_harmonics + 2) // 2 + 2, K)
        work = tuple(np.empty(L.shape[:-1] + (need,), dtype=L.dtype) for _ in range(3))
    Lp, A, B = work
    Lp[...] = floor  # bins past the spectrum count as the floor
    mid = L[..., 1:-1]
    peak = mid > L[..., :-2]
    peak &= mid >= L[..., 2:]
    np.copyto(Lp[..., 1 : K - 1], mid, where=peak)
    out = np.zeros(L.shape[:-1] + (k_hi - k_lo + 1,), dtype=L.dtype)
    D, radius = Lp, 0
    for h in range(1, n_harmonics + 1):
        while radius < (h + 2) // 2:  # widen the running maximum by one bin each side
            dst = A if D is not A else B
            np.maximum(D[..., 1:], D[..., :-1], out=dst[..., 1:])
            dst[..., 0] = D[..., 0]
            np.maximum(dst[..., :-1], D[..., 1:], out=dst[..., :-1])
            D, radius = dst, radius + 1
        out += D[..., h * k_lo : h * k_hi + 1 : h]  # D(h k), k = k_lo..k_hi
    return out


def subharmonic_summation(grid_mag: np.ndarray, bins_per_octave: int, n_harmonics: int,
                          compression: float, n_candidates: int) -> np.ndarray:
    """Subharmonic summation on a log-frequency grid (Hermes 1988).

    ``H(j) = sum_{h=1}^{n_harmonics} compression**(h-1) A(j + round(bins_per_octave
    log2 h))``: on a log-frequency axis the harmonic ``h f`` of grid point ``j`` is a fixed
    shift, so the sum is over shifted copies of the spectrum. Grid points beyond ``A``
    count as 0.

    Parameters
    ----------
    grid_mag : ndarray [shape=(..., n_grid)], >= 0
        Magnitude spectrum sampled on the grid ``f_j = f_0 2**(j / bins_per_octave)``.
    bins_per_octave : int >= 1
    n_harmonics : int >= 1
    compression : float in (0, 1]
        Hermes' ``h_n = 0.84**(n-1)``.
    n_candidates : int >= 1
        Pitch candidates ``j = 0..n_candidates-1``.

    Returns
    -------
    shs : ndarray [shape=(..., n_candidates)]
    """
    A = np.asarray(grid_mag)
    G = A.shape[-1]
    out = np.zeros(A.shape[:-1] + (n_candidates,), dtype=A.dtype)
    for h in range(1, n_harmonics + 1):
        s = int(round(bins_per_octave * math.log2(h)))
        if s >= G:
            break
        m = min(n_candidates, G - s)
        out[..., :m] += A.dtype.type(compression ** (h - 1)) * A[..., s : s + m]
    return out


def refine_by_harmonics(log_power: np.ndarray, f0_bins: np.ndarray, n_harmonics: int,
                        floor: np.ndarray | float, tolerance_bins: np.ndarray | float = 0.5) -> np.ndarray:
    """Refine a coarse f0 from the harmonic peaks of a (zero-padded) spectrum.

    For each harmonic ``h = 1..n_harmonics`` below the last bin, the highest bin within
    ``round(h f0) +- r_h`` with ``r_h = min(ceil(h tolerance_bins) + 1, floor(f0/2 - 1))``
    (the coarse error times ``h`` plus one bin, never reaching the neighbouring harmonics)
    must be a strict interior local maximum above ``floor``; its position is refined by a
    parabola through the log powers of it and its neighbours (Hann's main lobe is nearly
    Gaussian, so its log is nearly a parabola). The refined f0 is the power-weighted mean
    of ``position / h`` over the harmonics found, or the coarse value when none is.

    Parameters
    ----------
    log_power : ndarray [shape=(..., n_bins)]
    f0_bins : ndarray [shape=(...)] [bins], > 0
    n_harmonics : int >= 1
    floor : float or ndarray [shape=(...)]
        Log power a peak must exceed.
    tolerance_bins : float or ndarray [shape=(...)] [bins], >= 0
        Largest error of the coarse f0.

    Returns
    -------
    f0_bins : ndarray [shape=(...), dtype=float64] [bins]
    """
    L = np.asarray(log_power)
    K = L.shape[-1]
    f0 = np.asarray(f0_bins, dtype=np.float64)
    h = np.arange(1, n_harmonics + 1, dtype=np.float64)
    tol = np.asarray(tolerance_bins, dtype=np.float64)
    radius = np.minimum(np.ceil(h * tol[..., None]) + 1.0, np.floor(f0[..., None] / 2.0 - 1.0))  # (..., H)
    radius = np.broadcast_to(np.maximum(radius, 0.0), f0.shape + (n_harmonics,))
    R = int(radius.max(initial=0.0))
    off = np.arange(-R, R + 1)
    centre = np.rint(f0[..., None] * h)  # (..., H)
    idx = centre[..., None] + off  # (..., H, 2R+1)
    inwin = (np.abs(off) <= radius[..., None]) & (idx >= 1) & (idx <= K - 2)
    idx_c = np.clip(idx, 1, K - 2).astype(np.int64)
    flatL = L.reshape(-1, K)
    lead = f0.shape
    rows = np.arange(flatL.shape[0]).reshape(lead + (1, 1)) if lead else np.zeros((1, 1), np.int64)
    vals = np.where(inwin, flatL[rows, idx_c], -np.inf)
    best = np.argmax(vals, axis=-1)  # (..., H)
    p = np.take_along_axis(idx_c, best[..., None], axis=-1)[..., 0]
    vp = np.take_along_axis(vals, best[..., None], axis=-1)[..., 0]
    rows2 = rows[..., 0]
    a = flatL[rows2, np.maximum(p - 1, 0)]
    c = flatL[rows2, np.minimum(p + 1, K - 1)]
    floor = np.asarray(floor, dtype=np.float64)
    if floor.ndim:
        floor = floor[..., None]
    return _harmonic_mean_f0(p, vp, a, c, floor, f0, h)


def _centred_one(x: np.ndarray) -> np.ndarray:
    """One frame minus its mean: ``x - x.mean()`` in the same float32, without the
    wrapper's cost."""
    return x - np.add.reduce(x) / x.shape[0]


def _harmonic_peaks_one(L: np.ndarray, n_bins: int, f0: float, n_harmonics: int, tolerance_bins: float):
    """:func:`refine_by_harmonics`' peak search for one frame, one harmonic at a time: the
    same windows and first maxima, read from ``L`` [shape=(>= the bins they reach,)] of a
    spectrum of ``n_bins`` bins. Returns lists ``p, vp, a, c`` (``n_harmonics`` each) as its
    vectorised search gives them, with ``vp = -inf`` where a window is empty."""
    p, vp, a, c = [], [], [], []
    cap = math.floor(f0 / 2.0 - 1.0)
    for hh in range(1, n_harmonics + 1):
        r = int(max(min(math.ceil(hh * tolerance_bins) + 1.0, cap), 0.0))
        centre = round(f0 * hh)  # half to even, as np.rint
        lo, hi = max(centre - r, 1), min(centre + r, n_bins - 2)
        if lo > hi:  # never read further: vp = -inf fails every test
            p.append(1)
            vp.append(-math.inf)
            a.append(0.0)
            c.append(0.0)
            continue
        j = int(L[lo : hi + 1].argmax()) + lo
        p.append(j)
        vp.append(L[j])
        a.append(L[j - 1])
        c.append(L[j + 1])
    return p, vp, a, c


def _harmonic_mean_f0_one(p, vp, a, c, floor: float, f0: float) -> float:
    """:func:`_harmonic_mean_f0` of one frame on Python floats (float64 throughout where
    the batch rounds some steps to float32: equal within about 1e-7 relative)."""
    found = []
    for k in range(len(p)):
        v, a_, c_ = float(vp[k]), float(a[k]), float(c[k])
        if not (math.isfinite(v) and v > a_ and v >= c_ and v > floor):
            continue
        den = a_ - 2.0 * v + c_
        delta = min(max(0.5 * (a_ - c_) / den, -0.5), 0.5) if den < 0 else 0.0
        found.append((v, (p[k] + delta) / (k + 1)))
    if not found:
        return f0
    top = max(v for v, _ in found)
    sw = sf = 0.0
    for v, f in found:
        w = math.exp(v - top)
        sw += w
        sf += w * f
    return sf / sw


# -- compiled one-frame kernels (the ``jit`` extra; see :mod:`fluxstream.dsp._jit`) -------------
#
# The live hop of Hps in two compiled passes around one numpy log (numba's scalar log is
# several times slower than numpy's vectorised one, and would round differently). Same
# arithmetic as the numpy one-frame path, in the same float32 order where that path rounds
# in float32 (the product, the guard), so the candidate, the voicing and the f0 agree with
# it; the tests hold both to the batch path.


@_jit.kernel
def _power_floor_kernel(ri, n_keep, gain, tiny, out):  # pragma: no cover - compiled
    """From an rFFT's interleaved float32 ``re, im`` (``ri``), the power ``re**2 + im**2``
    (float32) floored ``gain`` below its maximum (never under ``tiny``): ``out[:n_keep]``
    the floored powers of the first ``n_keep`` bins, ``out[n_keep]`` the floor,
    ``out[n_keep + 1]`` the smallest floored power of all bins."""
    n_bins = ri.shape[0] // 2
    top = np.float32(-np.inf)
    low = np.float32(np.inf)
    for k in range(n_keep):
        p = ri[2 * k] * ri[2 * k] + ri[2 * k + 1] * ri[2 * k + 1]
        out[k] = p
        top = max(top, p)
        low = min(low, p)
    for k in range(n_keep, n_bins):
        p = ri[2 * k] * ri[2 * k] + ri[2 * k + 1] * ri[2 * k + 1]
        top = max(top, p)
        low = min(low, p)
    floor = max(top * gain, tiny)
    for k in range(n_keep):
        out[k] = max(out[k], floor)
    out[n_keep] = floor
    out[n_keep + 1] = max(low, floor)


@_jit.kernel
def _hps_decide_kernel(L, n_keep, Lp, A, B, Hk, n_harm, k_lo, k_hi, tol, n_bins):  # pragma: no cover - compiled
    """Hps's one-frame decision from the log power ``L`` (``n_keep`` bins, then the log
    floor and the smallest log power, as :func:`_power_floor_kernel` leaves them after a
    log) of a spectrum of ``n_bins`` bins: the product (:func:`harmonic_product_spectrum`
    on ``L / 2``), the octave guard and the harmonic refinement (:func:`_harmonic_peaks_one`,
    :func:`_harmonic_mean_f0_one`). ``Lp``, ``A``, ``B`` [shape=(the product's reach,)],
    ``Hk`` [shape=(k_hi - k_lo + 1,)]: float32 work buffers; ``tol``: the guard's
    tolerance (float32, nepers). Returns the f0 [bins]."""
    half = np.float32(0.5)
    floor_peak = float(L[n_keep] + np.float32(1e-3))
    floor_m = half * L[n_keep + 1]
    n_lp = Lp.shape[0]
    for i in range(n_lp):
        Lp[i] = floor_m
    for i in range(1, n_keep - 1):
        m = half * L[i]
        if m > half * L[i - 1] and m >= half * L[i + 1]:
            Lp[i] = m
    # The product: harmonic h reads the running maximum of half-width (h + 2) // 2 at h k,
    # widened one bin each side at a time (ping-pong between A and B), summed in float32
    # in the order h = 1, 2, ... as the numpy path sums it.
    n_cand = k_hi - k_lo + 1
    for c in range(n_cand):
        Hk[c] = 0.0
    D = Lp
    radius = 0
    for h in range(1, n_harm + 1):
        while radius < (h + 2) // 2:
            dst = A if radius % 2 == 0 else B
            dst[0] = max(D[0], D[1])
            for i in range(1, n_lp - 1):
                dst[i] = max(max(D[i - 1], D[i]), D[i + 1])
            dst[n_lp - 1] = max(D[n_lp - 2], D[n_lp - 1])
            D = dst
            radius += 1
        for c in range(n_cand):
            Hk[c] += D[h * (c + k_lo)]
    best = np.argmax(Hk[:n_cand])  # first maximum, as the numpy path's argmax
    k0 = best + k_lo
    chosen = float(k0)
    if n_harm > 1:  # the guard, the largest multiple first
        thr = Hk[best] - tol
        for m in range(n_harm, 1, -1):
            r = m // 2 + 1
            lo = max(m * k0 - k_lo - r, 0)
            hi = min(m * k0 - k_lo + r, n_cand - 1)
            if lo > hi:
                continue
            j = lo + np.argmax(Hk[lo : hi + 1])
            if Hk[j] >= thr:
                chosen = float(j + k_lo)
                break
    # Refinement: each harmonic's highest bin in its window, a parabola through its
    # neighbours, the power-weighted mean of position / h.
    cap = math.floor(chosen / 2.0 - 1.0)
    vs = np.empty(n_harm)
    fs = np.empty(n_harm)
    nf = 0
    for hh in range(1, n_harm + 1):
        r = int(max(min(math.ceil(hh * 0.5) + 1.0, cap), 0.0))
        centre = int(np.rint(chosen * hh))
        lo = max(centre - r, 1)
        hi = min(centre + r, n_bins - 2)
        if lo > hi:
            continue
        j = lo + np.argmax(L[lo : hi + 1])
        v = float(L[j])
        a = float(L[j - 1])
        c = float(L[j + 1])
        if not (math.isfinite(v) and v > a and v >= c and v > floor_peak):
            continue
        den = a - 2.0 * v + c
        delta = min(max(0.5 * (a - c) / den, -0.5), 0.5) if den < 0 else 0.0
        vs[nf] = v
        fs[nf] = (j + delta) / hh
        nf += 1
    f0 = chosen
    if nf:
        top = vs[0]
        for i in range(1, nf):
            top = max(top, vs[i])
        sw = 0.0
        sf = 0.0
        for i in range(nf):
            w = math.exp(vs[i] - top)
            sw += w
            sf += w * fs[i]
        f0 = sf / sw
    return f0


@_jit.kernel
def _sum_squares_kernel(x, lo, hi):  # pragma: no cover - compiled
    """``sum_{lo <= j < hi} x_j**2`` (each square rounded in ``x``'s dtype, summed in
    float64 on four accumulators: one chain of additions is bound by the adder's latency)."""
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    j = lo
    while j + 4 <= hi:
        a0 += float(x[j] * x[j])
        a1 += float(x[j + 1] * x[j + 1])
        a2 += float(x[j + 2] * x[j + 2])
        a3 += float(x[j + 3] * x[j + 3])
        j += 4
    while j < hi:
        a0 += float(x[j] * x[j])
        j += 1
    return (a0 + a1) + (a2 + a3)


@_jit.kernel
def _periodicity_kernel(xm, period, tiny):  # pragma: no cover - compiled
    """:func:`periodicity_at` of one frame ``xm`` (mean removed) at ``period`` [samples],
    its sums in float64."""
    N = xm.shape[0]
    if not (2.0 <= period <= N - 2.0):
        return 0.0
    t = int(np.rint(period))
    # r(tau) = sum_j x_j x_{j + tau} at tau = t - 1, t, t + 1 in one pass (three chains),
    # then the terms the shorter lags have beyond the longest's.
    r0 = 0.0
    r1 = 0.0
    r2 = 0.0
    for j in range(N - t - 1):
        x = float(xm[j])
        r0 += x * float(xm[j + t - 1])
        r1 += x * float(xm[j + t])
        r2 += x * float(xm[j + t + 1])
    r1 += float(xm[N - t - 1]) * float(xm[N - 1])
    r0 += float(xm[N - t - 1]) * float(xm[N - 2]) + float(xm[N - t]) * float(xm[N - 1])
    # m(tau) = sum_{j < N - tau} x_j**2 + sum_{j >= tau} x_j**2, from tau = t + 1 down.
    head = _sum_squares_kernel(xm, 0, N - t - 1)
    tail = _sum_squares_kernel(xm, t + 1, N)
    n = np.zeros(3)
    r = (r2, r1, r0)
    for k in range(3):
        tau = t + 1 - k
        m = head + tail
        if m >= tiny:
            n[2 - k] = 2.0 * r[k] / m
        head += float(xm[N - tau] * xm[N - tau])
        tail += float(xm[tau - 1] * xm[tau - 1])
    i = 0
    if n[1] > n[i]:
        i = 1
    if n[2] > n[i]:
        i = 2
    val = n[i]
    if i == 1:
        den = (n[0] + n[2]) - (n[1] + n[1])
        half = (n[0] - n[2]) * 0.5
        delta = half / den if abs(half) < abs(den) else 0.0
        val = n[1] - 0.5 * half * delta
    return min(max(val, 0.0), 1.0)


def warm_kernels() -> None:
    """Compile (or load) this module's kernels for the types a live hop passes: a small
    :class:`Hps` built with the kernels on runs its one-frame path once."""
    if _jit.enabled():
        Hps(sample_rate=8000, frame_length=256, fmin_hz=100.0, fmax_hz=1000.0)


def _harmonic_mean_f0(p, vp, a, c, floor, f0, h):
    """:func:`refine_by_harmonics`' last step, from the highest bin ``p`` of each
    harmonic's window, its log power ``vp`` and its neighbours' ``a``, ``c``."""
    ok = np.isfinite(vp) & (vp > a) & (vp >= c) & (vp > floor)
    den = a - 2.0 * vp + c
    delta = np.zeros(vp.shape)
    np.divide(0.5 * (a - c), den, out=delta, where=ok & (den < 0))
    delta = np.clip(delta, -0.5, 0.5)
    pos = p + delta
    # Power weights relative to the strongest peak found (exp of a log difference <= 0).
    vp_ok = np.where(ok, vp, -np.inf)
    top = vp_ok.max(axis=-1, keepdims=True)
    w = np.zeros(vp.shape)
    np.exp(vp_ok - np.where(np.isfinite(top), top, 0.0), out=w, where=ok)
    sw = w.sum(axis=-1)
    est = np.zeros(sw.shape)
    np.divide((w * pos / h).sum(axis=-1), sw, out=est, where=sw > 0)
    return np.where(sw > 0, est, f0)


# -- helpers ---------------------------------------------------------------------------

def hz_to_midi(f0_hz) -> np.ndarray:
    """MIDI note number of a frequency: ``69 + 12 log2(f / 440)``; 0 Hz (unvoiced) -> 0.0.

    Parameters
    ----------
    f0_hz : float or ndarray [Hz], >= 0

    Returns
    -------
    midi : ndarray (float64, same shape; 0-d for a scalar) [semitones]
        Non-positive input gives 0.0 (never ``-inf`` or NaN).
    """
    f = np.asarray(f0_hz, dtype=np.float64)
    out = np.zeros(f.shape)
    pos = f > 0
    np.log2(f / 440.0, out=out, where=pos)
    out = np.where(pos, 69.0 + 12.0 * out, 0.0)
    return out


def midi_to_hz(midi) -> np.ndarray:
    """Frequency of a MIDI note number: ``440 * 2**((m - 69) / 12)`` [Hz].

    Parameters
    ----------
    midi : float or ndarray [semitones]

    Returns
    -------
    f_hz : ndarray (float64, same shape) [Hz]. (``midi_to_hz(0)`` is 8.18 Hz, not 0: the
        unvoiced marker is one-way.)
    """
    m = np.asarray(midi, dtype=np.float64)
    return 440.0 * np.exp2((m - 69.0) / 12.0)


def cents_deviation(f0_hz, tuning_hz: float = 440.0) -> np.ndarray:
    """Deviation from the nearest equal-tempered note with A4 = ``tuning_hz`` [cents].

    ``100 (p - round(p))`` with ``p = 12 log2(f / tuning_hz)``, in ``[-50, 50)``
    (a frequency exactly between two notes gives -50). 0 Hz (unvoiced) gives 0.0.

    Parameters
    ----------
    f0_hz : float or ndarray [Hz], >= 0
    tuning_hz : float > 0 [Hz]

    Returns
    -------
    cents : ndarray (float64, same shape) [cents]
    """
    t = _check_positive("tuning_hz", tuning_hz, "Hz")
    f = np.asarray(f0_hz, dtype=np.float64)
    pos = f > 0
    p = np.zeros(f.shape)
    np.log2(f / t, out=p, where=pos)
    p *= 12.0
    dev = 100.0 * (p - np.floor(p + 0.5))
    return np.where(pos, dev, 0.0)


# -- estimators ------------------------------------------------------------------------

class _FramePitch:
    """Shared shape of the frame-wise estimators (parameters, process/reset)."""

    causal = True
    latency_samples = 0
    hop = 1
    #: A live hop's path, ``fn(self, frame [shape=(frame_length,)]) -> (1, 1, 3)``, for
    #: estimators that have one (the same numbers as the batch path). A class attribute: a
    #: bound method kept on the instance would make a reference cycle, and the estimator
    #: (with its FFT plans) would outlive its engine until the next garbage collection.
    _one_frame = None

    def _common(self, sample_rate, frame_length, fmin_hz, fmax_hz) -> None:
        self.sample_rate, self.frame_length, self.fmin_hz, self.fmax_hz = _check_pitch_range(
            sample_rate, frame_length, fmin_hz, fmax_hz)

    def reset(self) -> None:
        """Nothing to forget: the estimator is stateless. Returns None."""
        return None

    def process(self, frames: np.ndarray) -> np.ndarray:
        """Estimate f0 for each frame.

        Parameters
        ----------
        frames : ndarray [shape=(channels, n_frames, frame_length)]
            Unwindowed frames, ``n_frames >= 0``; not modified.

        Returns
        -------
        pitch : ndarray [shape=(channels, n_frames, 3), dtype=float32]
            ``[f0_hz, confidence, voiced]`` per frame; ``f0_hz`` is 0.0 when unvoiced.
        """
        x = np.asarray(frames)
        if x.ndim != 3 or x.shape[-1] != self.frame_length:
            raise ValueError(f"frames shape {x.shape} must be (channels, n_frames, "
                             f"frame_length={self.frame_length})")
        C, n, _ = x.shape
        if n == 0 or C == 0:
            return np.zeros((C, n, 3), dtype=np.float32)
        x = _as_float32(x)
        if C * n == 1 and self._one_frame is not None:
            return self._one_frame(x.reshape(-1))  # (the class's function, bound on access)
        out = np.empty((C, n, 3), dtype=np.float32)
        # Blocks of frames small enough for the temporaries to stay in cache (a 256-frame
        # batch in one piece ran at half the speed per frame of 32- or 64-frame blocks).
        step = max(1, _BLOCK_FRAMES // C)
        for k in range(0, n, step):
            f0, conf, voiced = self._estimate(x[:, k : k + step])
            o = out[:, k : k + step]
            np.multiply(f0, voiced, out=o[..., F0])  # exactly 0.0 when unvoiced (f0 is finite)
            np.minimum(np.maximum(conf, 0.0), 1.0, out=o[..., CONFIDENCE])  # (np.clip: slower)
            o[..., VOICED] = voiced
        return out

    def _estimate(self, x: np.ndarray):  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def _batch_one(self, x: np.ndarray) -> np.ndarray:
        """The vectorised path on one frame ``(frame_length,)`` -> ``(1, 1, 3)``."""
        f0, conf, voiced = self._estimate(x.reshape(1, 1, -1))
        return np.array([[[f0[0, 0] * voiced[0, 0], min(max(float(conf[0, 0]), 0.0), 1.0), float(voiced[0, 0])]]],
                        dtype=np.float32)


class Yin(_FramePitch):
    """YIN f0 estimator (de Cheveigné & Kawahara 2002), vectorized over frames.

    Difference function by FFT (:func:`yin_difference`), cumulative-mean normalization
    (:func:`cumulative_mean_normalized`), absolute threshold (the first trough of ``d'``
    below ``threshold`` between the lags of ``fmax_hz`` and ``fmin_hz``,
    :func:`first_trough_below`) and parabolic interpolation of the chosen lag
    (:func:`parabolic_interpolation`). With the default ``difference="windowed"``, as in the
    paper's step 5, each trough's *interpolated* ordinate (:func:`parabolic_vertex_values`)
    is what the threshold sees (a sharp dip falling between two lags still counts) and the
    abscissa comes from the raw ``d``.

    Parameters
    ----------
    sample_rate : float > 0 [Hz]
    frame_length : int >= 4 [samples]
    fmin_hz, fmax_hz : float [Hz], ``0 < fmin_hz < fmax_hz <= sample_rate / 2``
        Search range: lags ``floor(sample_rate / fmax_hz) .. ceil(sample_rate / fmin_hz)``.
    threshold : float in (0, 1]
        Absolute threshold on ``d'`` (YIN's step 4).
    win_length : int >= 1 or None [samples]
        Integration window of the difference function (eq. 6). Default
        ``frame_length // 2``; lags then reach ``frame_length - win_length``, so the frame
        must hold ``win_length + ceil(sample_rate / fmin_hz)`` samples (two periods of
        ``fmin_hz`` by default). Ignored with ``difference="full"``.
    difference : {"windowed", "full"}
        ``"windowed"`` (default): the paper's difference over ``win_length`` samples and
        parabolic interpolation on the raw ``d`` (step 5), unbiased. ``"full"``: librosa
        0.11's convention (difference over the whole frame with zeros after it, lags up to
        ``frame_length - 1``, interpolation on ``d'``), which reproduces ``librosa.yin`` on
        voiced frames but reads low notes sharp (see :func:`yin_difference`).
    backend : {"pyfftw", "scipy"}, optional
        FFT backend (:mod:`fluxstream.dsp.fft`).

    Attributes
    ----------
    causal : bool
        True.
    latency_samples : int
        0: a frame's estimate needs that frame only.
    hop : int
        1 frame: one row per input frame.
    min_lag, max_lag : int [samples]
        The lag search range.
    sample_rate, frame_length, fmin_hz, fmax_hz, threshold, win_length, difference
        As given (``win_length`` resolved; None with ``"full"``).

    Notes
    -----
    Output row ``[f0_hz, confidence, voiced]``:

    - voiced (a trough below ``threshold`` exists): ``f0 = sample_rate / (tau + delta)``
      with ``tau`` the trough's lag and ``delta`` the parabolic offset; ``confidence = 1 -
      d'(tau)`` (the interpolated ordinate with ``"windowed"``), clipped to 0..1.
    - unvoiced (no trough below ``threshold``; silence, where ``d'`` is 1 everywhere;
      noise): ``f0 = 0.0``, ``voiced = 0.0`` and ``confidence = 1 - min d'`` over the
      lag range (clipped to 0..1): how close the frame came to periodic, always at most
      ``1 - threshold`` (0 for silence).

    Differences from ``librosa.yin`` (``difference="full"`` reproduces librosa 0.11 on the
    voiced frames, to float32 round-off; the other differences remain):

    - librosa never reports unvoiced: without a trough below the threshold it returns the
      period of the global minimum of ``d'`` (for silence, an arbitrary value near
      ``fmax``); here such a frame is unvoiced with ``f0 = 0``.
    - librosa 0.11 has no ``win_length`` (deprecated, ignored); the default here is the
      paper's windowed difference, librosa < 0.11's convention (``win_length = frame_length
      // 2``), which librosa 0.11 replaced by the full-frame one. Measured at 48 kHz with
      2048 samples, librosa 0.11 reads a 65 Hz sine ~33 cents sharp, 110 Hz ~17 cents,
      440 Hz ~4 cents, and at 44.1/48 kHz it finds no trough below 0.1 for sines up to
      ~120 Hz (the global-minimum fallback; unvoiced here); the windowed default stays
      within 0.1 cent.
      The windowed default also tests interpolated ordinates and interpolates ``d``, not
      ``d'`` (the ``d'`` parabola is off by up to 12 cents at 2 kHz at 16 kHz).
    - librosa's ``d(1)`` omits the first sample's energy (it zeroes the cumulative sum it
      reads before reading it); this only changes ``d'`` by that sample's share of the
      cumulative mean.
    - f0 may fall slightly outside ``[fmin_hz, fmax_hz]`` because the lag range is rounded
      outwards (as librosa's).
    - Accuracy limit of the method (both conventions): parabolic interpolation over integer
      lags needs several samples per period; for rich tones with periods under ~16 samples
      (above 1 kHz at 16 kHz) the trough can fall between lags, miss the threshold and give
      an octave-low estimate.

    Examples
    --------
    >>> import numpy as np
    >>> sr = 48000
    >>> t = np.arange(2048) / sr
    >>> frame = np.sin(2 * np.pi * 220.0 * t).astype(np.float32)[None, None]
    >>> row = Yin(sample_rate=sr).process(frame)[0, 0]
    >>> round(float(row[0]), 1), float(row[2])
    (220.0, 1.0)

    Real-time notes
    ---------------
    Analysis thread. ``__init__`` builds the FFT plans for one frame of one channel
    (FFTW_MEASURE: the first plan of a length can take ~0.2 s); other batch shapes are
    planned on first use. :meth:`process` allocates its output and temporaries of the
    input's size, nothing that grows with the stream, and returns a new array. Stateless and
    causal; no latency beyond the frame.

    References
    ----------
    A. de Cheveigné, H. Kawahara, "YIN, a fundamental frequency estimator for speech and
    music", J. Acoust. Soc. Am. 111(4), 2002.
    """

    def __init__(self, *, sample_rate: float = 48000, frame_length: int = 2048, fmin_hz: float = 65.0,
                 fmax_hz: float = 2093.0, threshold: float = 0.1, win_length: int | None = None,
                 difference: str = "windowed", backend: str | None = None):
        self._common(sample_rate, frame_length, fmin_hz, fmax_hz)
        self.threshold = threshold
        sr, N = self.sample_rate, self.frame_length
        if difference not in ("windowed", "full"):
            raise ConfigError(f"difference={difference!r} must be 'windowed' or 'full'")
        self.difference = difference
        self.min_lag = int(math.floor(sr / self.fmax_hz))
        period_max = int(math.ceil(sr / self.fmin_hz))
        if difference == "full":
            self.win_length = None
            if period_max > N - 1:
                raise _too_short("Yin(difference='full')", N, period_max + 1, sr, self.fmin_hz,
                                 "one period of fmin_hz plus one sample", N - 1)
            self.max_lag = period_max
            L = _pow2_at_least(N + self.max_lag)
        else:
            W = N // 2 if win_length is None else _check_int("win_length", win_length, 1, "samples")
            if W >= N:
                raise ConfigError(f"win_length={win_length!r} must be < frame_length={N} (samples)")
            if W + period_max > N:
                need = 2 * period_max - 1 if win_length is None else W + period_max
                raise _too_short("Yin", N, need, sr, self.fmin_hz,
                                 "win_length plus one period of fmin_hz" if win_length is not None
                                 else "two periods of fmin_hz (win_length = frame_length // 2)", N - W)
            self.win_length = W
            self.max_lag = period_max
            L = N
        self._fft = RealFFT(L, backend)
        self._n_fft = L
        self._interp_raw = difference == "windowed"
        # The one-frame plans, kept (the cache may drop them while a file runs).
        self._plans_one = (self._fft.plan((1, 2 if difference == "windowed" else 1)),
                           self._fft.plan((1, 1), inverse=True))
        self._tau = np.arange(1, self.max_lag + 1, dtype=np.float32)
        self.reset()

    @property
    def threshold(self) -> float:
        """Absolute threshold on ``d'``, in (0, 1] (a control parameter: settable)."""
        return self._threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        self._threshold = _check_open_unit("threshold", value, "cumulative-mean-normalized difference")

    def _estimate(self, x):
        d = yin_difference(x, self.max_lag, self.win_length, self._fft)
        dp = cumulative_mean_normalized(d)
        lo = self.min_lag
        seg = dp[..., lo:]
        # Trough values: with "windowed", as in the paper, each dip's interpolated ordinate
        # takes part in the selection (a sharp dip between two lags still counts) and the
        # abscissa comes from d.
        tv = _trough_values(seg, self._interp_raw)
        below = tv < self._threshold
        i = np.argmax(below, axis=-1)
        tv2 = tv.reshape(-1, tv.shape[-1])
        rows = np.arange(tv2.shape[0])
        at = tv2[rows, i.reshape(-1)].reshape(i.shape)
        found = at < self._threshold
        delta, _ = parabolic_interpolation(d[..., lo:] if self._interp_raw else seg, i)
        period = delta + (i + lo)
        period[~found] = 1.0
        f0 = np.divide(self.sample_rate, period)
        if not found.all():
            at[~found] = np.minimum(tv.min(axis=-1), seg.min(axis=-1))[~found]
        return f0, 1.0 - at, found

    def _difference_one(self, x: np.ndarray) -> np.ndarray:
        """:func:`yin_difference` of one frame (windowed), with the plans it would use."""
        N, W, L = self.frame_length, self.win_length, self.max_lag
        fwd, inv = self._plans_one
        both = fwd.input.reshape(2, N)
        both[0] = x
        both[1, :W] = x[:W]
        both[1, W:] = 0.0
        S = fwd().reshape(2, N // 2 + 1)
        P = np.conj(S[1])
        P *= S[0]
        inv.input.reshape(-1)[...] = P
        r = inv().reshape(-1)[: L + 1]
        grow = x[W : W + L] * x[W : W + L]
        grow -= x[:L] * x[:L]
        d = np.empty(L + 1, dtype=np.float32)
        d[0] = 0.0
        np.subtract(r[:1], r[1:], out=d[1:])
        d[1:] *= 2.0
        d[1:] += _cumsum_last(grow)
        return np.maximum(d, 0.0, out=d)

    def _process_one(self, x: np.ndarray) -> np.ndarray:
        """``process`` of one frame ``(frame_length,)`` -> ``(1, 1, 3)``."""
        if self._interp_raw:
            d = self._difference_one(x)
        else:
            d = yin_difference(x, self.max_lag, None, self._fft)
        # cumulative_mean_normalized, on one row with the lags prepared.
        dp = np.ones_like(d)
        cs = _cumsum_last(d[1:])
        np.divide(d[1:] * self._tau, cs, out=dp[1:], where=cs >= _TINY32)
        seg = dp[self.min_lag :]
        if seg.shape[0] < 3:
            return self._batch_one(x)
        f0, conf, found = self._estimate_one(d, seg)
        return np.array([[[f0 if found else 0.0, min(max(float(conf), 0.0), 1.0), 1.0 if found else 0.0]]],
                        dtype=np.float32)

    _one_frame = _process_one

    def _estimate_one(self, d: np.ndarray, seg: np.ndarray):
        """:meth:`_estimate` of one frame (a live hop), the same float32 arithmetic on the
        troughs only: bit-identical to the batch path (the tests compare them), without
        its per-lag vertex values and gathers, which cost most of a one-frame call."""
        lo, thr = self.min_lag, self._threshold
        d1 = np.subtract(seg[1:], seg[:-1])  # np.diff, without its checks
        left, right = d1[:-1], d1[1:]
        inner = np.flatnonzero((left < 0) & (right >= 0))
        if self._interp_raw:
            r, l_ = right[inner], left[inner]
            den = r - l_
            sv = r + l_
            sv *= sv
            sv /= den
            sv *= -0.125
            sv += seg[inner + 1]
        else:
            sv = seg[inner + 1]
        # Troughs in lag order: the first lag, the interior ones, the last lag.
        idx, vals = (inner + 1).tolist(), sv.tolist()
        if d1[0] > 0:
            idx.insert(0, 0)
            vals.insert(0, float(seg[0]))
        if d1[-1] < 0:
            idx.append(seg.shape[0] - 1)
            vals.append(float(seg[-1]))
        i = next((k for k, v in zip(idx, vals) if v < thr), None)
        if i is None:
            # argmax of all-False picks lag 0; the period is replaced below anyway.
            at = np.float32(min(min(vals, default=np.inf), float(seg.min())))
            f0 = self.sample_rate / 1.0
            found = False
        else:
            at = np.float32(vals[idx.index(i)])
            y = d[lo:] if self._interp_raw else seg
            delta = np.float32(0.0)
            if 0 < i < y.shape[0] - 1:
                a, b, c = y[i - 1], y[i], y[i + 1]
                den = a + c
                den -= b + b
                half_diff = (a - c) * np.float32(0.5)
                if abs(half_diff) < abs(den):
                    delta = half_diff / den
            f0 = self.sample_rate / (float(delta) + (i + lo))
            found = True
        return f0, np.float32(1.0) - at, found


def _windowed_power(x: np.ndarray, window: np.ndarray, n_fft: int, fft: RealFFT | None) -> np.ndarray:
    """Power spectrum of mean-removed, windowed frames zero-padded to ``n_fft`` (float32)."""
    xw = x - x.mean(axis=-1, keepdims=True, dtype=np.float32)
    xw *= window
    X = _rfft(xw, n_fft, fft)
    P = X.real * X.real
    P += X.imag * X.imag
    return P


def _spectral_min_length(sr: float, fmin: float) -> int:
    # Two periods of fmin: Hann's main lobe (+-2 bins of sample_rate / frame_length) then
    # never reaches the next harmonic.
    return int(math.ceil(2.0 * sr / fmin - 1e-9))


class YinFFT(_FramePitch):
    """Spectral-domain YIN (after Brossier's ``yinfft``): the difference function from the
    (optionally weighted) power spectrum of the Hann-windowed frame.

    The frame (mean removed, zero-padded to ``>= frame_length + max_lag`` so the
    autocorrelation does not wrap) gives a power spectrum, optionally weighted by
    :func:`a_weighting` (a stand-in for the outer/middle-ear curve of Brossier's thesis);
    its inverse transform, compensated for the window's own autocorrelation, gives
    ``d(tau)`` (:func:`yinfft_difference`), normalized by
    :func:`cumulative_mean_normalized`. Then as :class:`Yin`: the first trough whose
    interpolated ordinate is below ``threshold``, its lag refined by
    :func:`parabolic_interpolation` on ``d``.

    Parameters
    ----------
    sample_rate : float > 0 [Hz]
    frame_length : int [samples], >= 2 periods of ``fmin_hz``
    fmin_hz, fmax_hz : float [Hz], ``0 < fmin_hz < fmax_hz <= sample_rate / 2``
    threshold : float in (0, 1]
        Absolute threshold on ``d'``.
    weighting : bool
        Weight the power spectrum by the A-curve (Brossier's perceptual weighting) or not
        (default; see Notes).
    backend : {"pyfftw", "scipy"}, optional

    Attributes
    ----------
    causal : bool
        True.
    latency_samples : int
        0.
    hop : int
        1 frame.
    min_lag, max_lag : int [samples]
    n_fft : int [samples]

    Notes
    -----
    Departures from Brossier's yinfft (aubio's ``pitchyinfft``), measured on sines and
    tones with a strong second partial at 48 kHz, 2048 samples:

    1. The window compensation above: without it the window's taper pulls the minimum to
       shorter lags (a 70 Hz sine reads 90 cents sharp) and keeps ``d'`` at the period far
       from 0 (hence aubio's tolerance of 0.85).
    2. The first trough below the threshold instead of the global minimum of ``d'``: once
       compensated, the multiples of the period are as deep as the period itself.
    3. No weighting by default: the weighting's slope across a low partial's main lobe
       shifts it (a 70 Hz sine reads 320 cents sharp, 110 Hz 130 cents), and favouring the
       upper partials turns a strong second partial into an octave error (at 440 Hz).

    Accuracy: the window still costs precision at low f0; from about five periods per frame
    (``f0 >= 5 sample_rate / frame_length``: 117 Hz at 48 kHz with 2048 samples) the error
    stays within 10 cents (up to 30 cents at three periods).

    Output: voiced ``[sample_rate / period, 1 - d', 1]``; unvoiced ``[0, 1 - min d', 0]``
    (clipped to 0..1). Silence: ``d'`` is 1 everywhere, unvoiced with confidence 0.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(2048) / 48000
    >>> frame = np.sin(2 * np.pi * 440.0 * t).astype(np.float32)[None, None]
    >>> round(float(YinFFT().process(frame)[0, 0, 0]))
    440

    Real-time notes
    ---------------
    As :class:`Yin`: plans in ``__init__`` (one frame, one channel), per-call temporaries
    of the input's size, a new output array. Stateless, causal, no latency.

    References
    ----------
    P. Brossier, "Automatic annotation of musical audio for interactive applications",
    PhD thesis, Queen Mary University of London, 2006 (sec. 3.3.3, "yinfft"). P. Boersma,
    "Accurate short-term analysis of the fundamental frequency and the harmonics-to-noise
    ratio of a sampled sound", Proc. Institute of Phonetic Sciences 17, 1993.
    """

    def __init__(self, *, sample_rate: float = 48000, frame_length: int = 2048, fmin_hz: float = 65.0,
                 fmax_hz: float = 2093.0, threshold: float = 0.1, weighting: bool = False,
                 backend: str | None = None):
        self._common(sample_rate, frame_length, fmin_hz, fmax_hz)
        self.threshold = threshold
        sr, N = self.sample_rate, self.frame_length
        need = _spectral_min_length(sr, self.fmin_hz)
        if N < need:
            raise _too_short("YinFFT", N, need, sr, self.fmin_hz, "two periods of fmin_hz", N / 2)
        self.min_lag = int(math.floor(sr / self.fmax_hz))
        self.max_lag = int(math.ceil(sr / self.fmin_hz))
        self.n_fft = _pow2_at_least(N + self.max_lag)
        self.weighting = bool(weighting)
        self._window = make_window("hann", N)
        self._window_acf = window_autocorrelation(self._window, self.max_lag).astype(np.float32)
        freqs = np.arange(self.n_fft // 2 + 1) * (sr / self.n_fft)
        self._weights = (a_weighting(freqs) if self.weighting else np.ones_like(freqs)).astype(np.float32)
        self._fft = RealFFT(self.n_fft, backend)
        self._fft.plan((1, 1))
        self._fft.plan((1, 1), inverse=True)
        self.reset()

    @property
    def threshold(self) -> float:
        """Absolute threshold on ``d'``, in (0, 1] (settable)."""
        return self._threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        self._threshold = _check_open_unit("threshold", value, "cumulative-mean-normalized difference")

    def _estimate(self, x):
        P = _windowed_power(x, self._window, self.n_fft, self._fft)
        P *= self._weights
        d = yinfft_difference(P, self.n_fft, self.max_lag, self._window_acf, self._fft)
        dp = cumulative_mean_normalized(d)
        seg = dp[..., self.min_lag :]
        tv = _trough_values(seg, True)  # interpolated trough ordinates, as Yin
        i = np.argmax(tv < self._threshold, axis=-1)
        at = np.take_along_axis(tv, i[..., None], axis=-1)[..., 0]
        found = at < self._threshold
        delta, _ = parabolic_interpolation(d[..., self.min_lag :], i)  # abscissa from d (step 5)
        period = delta + (i + self.min_lag)
        at = np.where(found, at, np.minimum(tv.min(axis=-1), seg.min(axis=-1)))
        return self.sample_rate / np.where(found, period, 1.0), 1.0 - at, found


class Mpm(_FramePitch):
    """McLeod pitch method: key maxima of the normalized square difference function.

    The frame (mean removed) gives the NSDF ``n'(tau)`` (:func:`nsdf`, by FFT). Its key
    maxima between the lags of ``fmax_hz`` and ``fmin_hz`` are found, and the first whose
    interpolated height (:func:`parabolic_vertex_values`) reaches ``cutoff`` times the
    highest is taken (:func:`mpm_key_maximum`); a parabola through it and its neighbours
    gives the period and the *clarity* (its height), which is the confidence. The frame is
    voiced when the clarity reaches ``clarity_threshold``.

    Parameters
    ----------
    sample_rate : float > 0 [Hz]
    frame_length : int [samples], >= 2 periods of ``fmin_hz``
    fmin_hz, fmax_hz : float [Hz], ``0 < fmin_hz < fmax_hz <= sample_rate / 2``
    cutoff : float in (0, 1]
        McLeod's ``k``: a key maximum counts if it reaches ``cutoff * highest``. Lower
        values prefer shorter periods (fewer sub-octave errors, more octave-up ones).
    clarity_threshold : float in (0, 1]
        Smallest clarity counted as voiced.
    backend : {"pyfftw", "scipy"}, optional

    Attributes
    ----------
    causal : bool
        True.
    latency_samples : int
        0.
    hop : int
        1 frame.
    min_lag, max_lag : int [samples]

    Notes
    -----
    The mean is removed first (the paper does not): the NSDF of a signal with a DC offset
    is pulled towards 1 at every lag, which raises the clarity of noise. Output: voiced
    ``[sample_rate / period, clarity, 1]``; otherwise ``[0, clarity, 0]`` with the clarity
    of the chosen key maximum, or 0 when there is none (silence, no positive lobe in the
    range).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(2048) / 48000
    >>> frame = np.sin(2 * np.pi * 330.0 * t).astype(np.float32)[None, None]
    >>> round(float(Mpm().process(frame)[0, 0, 0]))
    330

    Real-time notes
    ---------------
    As :class:`Yin`. Stateless, causal, no latency.

    References
    ----------
    P. McLeod, G. Wyvill, "A smarter way to find pitch", Proc. ICMC, 2005.
    """

    def __init__(self, *, sample_rate: float = 48000, frame_length: int = 2048, fmin_hz: float = 65.0,
                 fmax_hz: float = 2093.0, cutoff: float = 0.93, clarity_threshold: float = 0.6,
                 backend: str | None = None):
        self._common(sample_rate, frame_length, fmin_hz, fmax_hz)
        self.cutoff = cutoff
        self.clarity_threshold = clarity_threshold
        sr, N = self.sample_rate, self.frame_length
        self.min_lag = int(math.floor(sr / self.fmax_hz))
        self.max_lag = int(math.ceil(sr / self.fmin_hz))
        need = 2 * self.max_lag
        if N < need:
            raise _too_short("Mpm", N, need, sr, self.fmin_hz, "two periods of fmin_hz", N // 2)
        # One lag beyond the range, so a key maximum at its end can be interpolated.
        self._n_lags = self.max_lag + 1
        self._fft = RealFFT(_pow2_at_least(N + self._n_lags), backend)
        self._fft.plan((1, 1))
        self._fft.plan((1, 1), inverse=True)
        self.reset()

    @property
    def cutoff(self) -> float:
        """McLeod's ``k`` in (0, 1] (settable)."""
        return self._cutoff

    @cutoff.setter
    def cutoff(self, value: float) -> None:
        self._cutoff = _check_open_unit("cutoff", value, "fraction of the highest key maximum")

    @property
    def clarity_threshold(self) -> float:
        """Smallest clarity counted as voiced, in (0, 1] (settable)."""
        return self._clarity_threshold

    @clarity_threshold.setter
    def clarity_threshold(self, value: float) -> None:
        self._clarity_threshold = _check_open_unit("clarity_threshold", value, "NSDF clarity")

    def _estimate(self, x):
        xm = x - x.mean(axis=-1, keepdims=True, dtype=np.float32)
        n = nsdf(xm, self._n_lags, self._fft)
        lag, found = mpm_key_maximum(n[..., : self.max_lag + 1], self._cutoff, self.min_lag,
                                     parabolic_vertex_values(n)[..., : self.max_lag + 1])
        delta, clarity = parabolic_interpolation(n, lag)
        clarity = np.where(found, clarity, 0.0)
        period = np.where(found, lag + delta, 1.0)
        return self.sample_rate / period, clarity, found & (clarity >= self._clarity_threshold)


class CepstrumPitch(_FramePitch):
    """Cepstral pitch: the real-cepstrum peak in the quefrency range of ``[fmin_hz,
    fmax_hz]``, with a voicing threshold on the normalized peak.

    Steps (per frame, vectorized):

    1. Mean removed, Hann window, zero-padded to ``n_fft = 2 frame_length``; log power
       ``Y = log P`` floored ``dynamic_range_db`` below the frame's maximum.
    2. Analysis band: bins ``0..K-1`` with ``K = 1.25 x`` the highest bin within 50 dB of
       the maximum (at least 64 bins): the part of the spectrum that holds partials. ``Y`` is
       mean-removed over the band and zero above it, so the floored, empty top of the
       spectrum (a step, pure low quefrency) does not dilute the peak.
    3. Real cepstrum ``c = irfft(Y)`` (:func:`real_cepstrum`); candidates are its local
       maxima between quefrencies ``floor(sample_rate / fmax_hz)`` and ``ceil(sample_rate /
       fmin_hz)``. A sparse comb of partials has rahmonics at ``2T, 3T ...`` nearly as high
       as the peak at ``T``, so the first candidate reaching ``cutoff`` times the highest is
       taken (the rule of :class:`Mpm`).
    4. Confidence ``rho = sum_k Y_k cos(2 pi k q / n_fft) / (||Y|| sqrt(K / 2))``, the
       correlation of the band's log spectrum with a cosine ripple of period
       ``sample_rate / q`` Hz (scale-free; measured: white and low-passed noise stay below
       0.14, tones with 5 to 12 partials reach 0.35 to 0.7). Voiced when ``rho >=
       threshold`` and the band spans at least three partials (``K bin_hz >= 3 f0``).
    5. The quefrency ``q`` (refined by :func:`parabolic_interpolation`) gives a coarse f0,
       refined from the harmonic peaks of the same spectrum (:func:`refine_by_harmonics`,
       8 harmonics): the quefrency grid alone is too coarse for short periods.

    Parameters
    ----------
    sample_rate : float > 0 [Hz]
    frame_length : int [samples], >= 2 periods of ``fmin_hz``
    fmin_hz, fmax_hz : float [Hz], ``0 < fmin_hz < fmax_hz <= sample_rate / 2``
    threshold : float in (0, 1]
        Smallest normalized cepstral peak ``rho`` counted as voiced.
    cutoff : float in (0, 1]
        Rahmonic guard (step 3).
    dynamic_range_db : float > 0 [dB]
        Floor of the power spectrum below its maximum.
    backend : {"pyfftw", "scipy"}, optional

    Attributes
    ----------
    causal : bool
        True.
    latency_samples : int
        0.
    hop : int
        1 frame.
    min_lag, max_lag : int [samples] (quefrency range)
    n_fft : int [samples]

    Notes
    -----
    The cepstrum needs a harmonic ripple in the log spectrum, i.e. resolved partials: at
    least three of them (a pure sine, or a tone with only two partials, is reported
    unvoiced; use :class:`Yin` or :class:`Mpm` for sine-like tones) and several periods per
    frame (below about four periods, ``f0 < 4 sample_rate / frame_length``, the main lobes
    merge and the peak fades: 94 Hz at 48 kHz with 2048 samples). Output: voiced ``[f0,
    rho, 1]``, unvoiced ``[0, rho, 0]`` (``rho`` clipped to 0..1). Silence: unvoiced,
    confidence 0.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(2048) / 48000
    >>> x = sum(np.sin(2 * np.pi * h * 300.0 * t) / h for h in range(1, 11))
    >>> round(float(CepstrumPitch().process(x.astype(np.float32)[None, None])[0, 0, 0]))
    300

    Real-time notes
    ---------------
    As :class:`Yin`. Stateless, causal, no latency.

    References
    ----------
    A. M. Noll, "Cepstrum pitch determination", J. Acoust. Soc. Am. 41(2), 1967.
    """

    def __init__(self, *, sample_rate: float = 48000, frame_length: int = 2048, fmin_hz: float = 65.0,
                 fmax_hz: float = 2093.0, threshold: float = 0.25, cutoff: float = 0.8,
                 dynamic_range_db: float = 80.0, backend: str | None = None):
        self._common(sample_rate, frame_length, fmin_hz, fmax_hz)
        self.threshold = threshold
        self.cutoff = cutoff
        self.dynamic_range_db = _check_positive("dynamic_range_db", dynamic_range_db, "dB")
        sr, N = self.sample_rate, self.frame_length
        need = _spectral_min_length(sr, self.fmin_hz)
        if N < need:
            raise _too_short("CepstrumPitch", N, need, sr, self.fmin_hz, "two periods of fmin_hz", N / 2)
        self.min_lag = max(2, int(math.floor(sr / self.fmax_hz)))
        self.max_lag = int(math.ceil(sr / self.fmin_hz))
        self.n_fft = 2 * N
        self.bin_hz = sr / self.n_fft
        self._window = make_window("hann", N)
        self._floor = np.float32(10.0 ** (-self.dynamic_range_db / 10.0))
        self._band_floor = np.float32(10.0 ** (-_CEPSTRUM_BAND_DB / 10.0))
        self._bins = np.arange(self.n_fft // 2 + 1)
        self._fft = RealFFT(self.n_fft, backend)
        self._fft.plan((1, 1))
        self._fft.plan((1, 1), inverse=True)
        self.reset()

    @property
    def threshold(self) -> float:
        """Smallest normalized cepstral peak counted as voiced, in (0, 1] (settable)."""
        return self._threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        self._threshold = _check_open_unit("threshold", value, "normalized cepstral peak")

    @property
    def cutoff(self) -> float:
        """Rahmonic guard: fraction of the highest cepstral peak, in (0, 1] (settable)."""
        return self._cutoff

    @cutoff.setter
    def cutoff(self, value: float) -> None:
        self._cutoff = _check_open_unit("cutoff", value, "fraction of the highest cepstral peak")

    def _estimate(self, x):
        P = _windowed_power(x, self._window, self.n_fft, self._fft)
        top = P.max(axis=-1, keepdims=True)
        # Analysis band (step 2).
        last = np.max(np.where(P > top * self._band_floor, self._bins, 0), axis=-1)
        K = np.minimum(np.maximum(np.ceil(1.25 * (last + 1)), _CEPSTRUM_MIN_BAND), P.shape[-1])
        inband = self._bins < K[..., None]
        np.maximum(P, np.maximum(top * self._floor, _TINY32), out=P)
        Y = np.log(P)
        Y -= (Y * inband).sum(axis=-1, keepdims=True) / K[..., None]
        Y *= inband
        c = real_cepstrum(Y, self.n_fft, self._fft)
        lo, hi = self.min_lag, self.max_lag
        seg = c[..., lo - 1 : hi + 2]  # one neighbour each side for the local-maximum test
        mid = seg[..., 1:-1]
        peak = (mid > seg[..., :-2]) & (mid >= seg[..., 2:])
        cand = np.where(peak, mid, -np.inf)
        best = cand.max(axis=-1, keepdims=True)
        has = np.isfinite(best[..., 0]) & (best[..., 0] > 0)
        j = np.argmax(cand >= self._cutoff * np.where(has[..., None], best, np.inf), axis=-1)
        delta, value = parabolic_interpolation(c, j + lo)
        norm = np.sqrt(np.einsum("...k,...k->...", Y, Y) * (K / 2.0))
        rho = np.zeros(value.shape, dtype=np.float32)
        np.divide(value * (self.n_fft / 2.0), norm, out=rho, where=(norm > 0) & has)
        q = np.where(has, j + lo + delta, float(hi))
        # The quefrency's error (a fraction of a sample) is a relative error of f0 that
        # grows for short periods: refine from the harmonic peaks of the same spectrum.
        f0_bins = self.n_fft / q
        f0_bins = refine_by_harmonics(Y, f0_bins, _CEPSTRUM_REFINE_HARMONICS,
                                      Y.min(axis=-1) + 1e-3, f0_bins / q + 0.5)
        voiced = has & (rho >= self._threshold) & (K >= 3.0 * f0_bins)
        return f0_bins * self.bin_hz, rho, voiced


class _HarmonicSpectrum(_FramePitch):
    """Shared parts of :class:`Hps` and :class:`Shs`: zero-padded Hann spectrum, harmonic
    refinement and the periodicity voicing test."""

    def _spectral_common(self, name, zero_padding, n_harmonics, voicing_threshold, floor_db, backend):
        sr, N = self.sample_rate, self.frame_length
        need = _spectral_min_length(sr, self.fmin_hz)
        if N < need:
            raise _too_short(name, N, need, sr, self.fmin_hz, "two periods of fmin_hz", N / 2)
        self.zero_padding = _check_int("zero_padding", zero_padding, 1, "times frame_length")
        self.n_harmonics = _check_int("n_harmonics", n_harmonics, 1, "harmonics")
        self.voicing_threshold = voicing_threshold
        self.floor_db = _check_positive("floor_db", floor_db, "dB")
        self.n_fft = N * self.zero_padding
        self.bin_hz = sr / self.n_fft
        self._window = make_window("hann", N)
        self._fft = RealFFT(self.n_fft, backend)
        self._fft.plan((1, 1))

    @property
    def voicing_threshold(self) -> float:
        """Smallest periodicity (:func:`periodicity_at`) counted as voiced, in (0, 1]."""
        return self._voicing_threshold

    @voicing_threshold.setter
    def voicing_threshold(self, value: float) -> None:
        self._voicing_threshold = _check_open_unit("voicing_threshold", value, "periodicity")

    def _log_power(self, x):
        """Log power spectrum floored ``floor_db`` below each frame's maximum, and the floor."""
        P = _windowed_power(x, self._window, self.n_fft, self._fft)
        top = P.max(axis=-1, keepdims=True)
        floor = np.maximum(top * np.float32(10.0 ** (-self.floor_db / 10.0)), _TINY32)
        np.maximum(P, floor, out=P)
        return np.log(P), np.log(floor[..., 0])

    def _finish(self, x, L, floor, f0_bins, tolerance_bins):
        f0_bins = refine_by_harmonics(L, f0_bins, self.n_harmonics, floor + 1e-3, tolerance_bins)
        f0 = f0_bins * self.bin_hz
        per = periodicity_at(x, self.sample_rate / f0)
        return f0, per, per >= self._voicing_threshold

    # -- one frame (a live hop) ------------------------------------------------------
    #
    # The batch path's candidate and voicing, its f0 and periodicity within 1e-6 (the tests
    # compare them), without its per-row gathers and masks, which cost most of a one-frame
    # call: the log spectrum on the bins the harmonics can reach, the searches one harmonic
    # at a time on Python scalars, and buffers kept between calls.

    def _prepare_one(self, bins_reached: int) -> None:
        # The plan of one frame, kept: the cache may drop it while a file runs.
        self._plan_one = self._fft.plan((1, 1))
        self._bins_one = min(self.n_fft // 2 + 1, bins_reached)
        self._floor_gain = np.float32(10.0 ** (-self.floor_db / 10.0))

    def _spectrum_one(self, xm) -> np.ndarray:
        """The zero-padded Hann rFFT of one frame, its mean removed (``xm``), as the plan's
        output viewed as float32 ``re, im, re, im, ...`` (valid until the next call)."""
        N = self.frame_length
        buf = self._plan_one.input.reshape(-1)
        np.multiply(xm, self._window, out=buf[:N])
        buf[N:] = 0.0
        return self._plan_one().reshape(-1).view(np.float32)

    def _voiced_row(self, f0: float, per) -> np.ndarray:
        """A one-frame result ``(1, 1, 3)``: f0 [Hz] and voiced where the periodicity
        ``per`` (float32) reaches the voicing threshold."""
        voiced = per >= self._voicing_threshold
        return np.array([[[f0 if voiced else 0.0, per, 1.0 if voiced else 0.0]]], dtype=np.float32)

    def _log_power_one(self, xm):
        """:meth:`_log_power` of one frame, its mean removed (``xm``), on its first
        ``_bins_one`` bins; also the log of the floor and the whole spectrum's smallest log
        power."""
        sq = self._spectrum_one(xm)
        sq = sq * sq
        P = np.add(sq[0::2], sq[1::2])  # re**2 + im**2, each rounded as in _windowed_power
        floor = np.maximum(P.max() * self._floor_gain, _TINY32)
        L = np.log(np.maximum(P[: self._bins_one], floor))
        # log is monotonic: the log of the smallest power is the smallest log power.
        return L, np.log(floor), np.log(np.maximum(P.min(), floor))

    def _periodicity_one(self, xm, period: float) -> np.float32:
        """:func:`periodicity_at` of one frame, its sums taken by ``np.dot`` and pairwise
        float64 sums instead of one batched product and a cumulative sum: equal to it within
        float32 round-off (about 1e-7), at half the cost. ``xm``: the frame, its mean
        removed."""
        N = self.frame_length
        if not 2.0 <= period <= N - 2.0:
            return np.float32(0.0)
        sq = (xm * xm).astype(np.float64)
        t = int(np.rint(period))
        # m(tau) = sum_{j < N - tau} x_j**2 + sum_{j >= tau} x_j**2 at tau = t - 1, t, t + 1
        head = float(np.add.reduce(sq[: N - t - 1]))  # j < N - (t + 1)
        tail = float(np.add.reduce(sq[t + 1 :]))  # j >= t + 1
        n = [0.0, 0.0, 0.0]
        for k, tau in enumerate((t + 1, t, t - 1)):
            m = head + tail
            if m >= _TINY32:
                n[2 - k] = 2.0 * float(np.dot(xm[: N - tau], xm[tau:])) / m
            head += float(sq[N - tau])
            tail += float(sq[tau - 1])
        i = n.index(max(n))
        val = n[i]
        if i == 1:
            a, b, c = n
            den = (a + c) - (b + b)
            half = (a - c) * 0.5
            delta = half / den if abs(half) < abs(den) else 0.0
            val = b - 0.5 * half * delta
        return np.float32(min(max(val, 0.0), 1.0))

    def _finish_one(self, xm, L, floor, f0_bins: float, tolerance_bins: float) -> np.ndarray:
        K = self.n_fft // 2 + 1
        p, vp, a, c = _harmonic_peaks_one(L, K, f0_bins, self.n_harmonics, tolerance_bins)
        f0 = _harmonic_mean_f0_one(p, vp, a, c, float(floor + 1e-3), f0_bins) * self.bin_hz
        return self._voiced_row(f0, self._periodicity_one(xm, self.sample_rate / f0))


class Hps(_HarmonicSpectrum):
    """Harmonic product spectrum with a sub-harmonic (octave) guard and harmonic refinement.

    The frame (mean removed, Hann-windowed, zero-padded ``zero_padding`` times) gives a
    log magnitude spectrum floored ``floor_db`` below its maximum. The candidate bin ``k0``
    maximizes ``sum_{h=1}^{n_harmonics} L(h k)`` (:func:`harmonic_product_spectrum`)
    between ``fmin_hz`` and ``fmax_hz``.

    Octave guard: the product's classic failure is a sub-multiple of the true f0 that
    collects the same peaks (for a pure sine every ``f0 / m`` with ``m <= n_harmonics``
    ties). So the largest multiple ``m k0`` (``m = n_harmonics .. 2``, within ``fmax_hz``)
    whose product is within ``octave_guard_db`` of ``k0``'s replaces it. A true f0's
    multiples lose whole harmonics to the floor, tens of dB, so the guard leaves it alone,
    including a missing fundamental (its product keeps the upper partials).

    The f0 is then refined from the harmonic peaks (:func:`refine_by_harmonics`:
    parabolic interpolation of each peak, power-weighted mean of ``f_h / h``), and the
    frame is voiced when the time-domain periodicity at that period
    (:func:`periodicity_at`) reaches ``voicing_threshold``; the periodicity is the
    confidence.

    Parameters
    ----------
    sample_rate : float > 0 [Hz]
    frame_length : int [samples], >= 2 periods of ``fmin_hz``
    fmin_hz, fmax_hz : float [Hz], ``0 < fmin_hz < fmax_hz <= sample_rate / 2``
    n_harmonics : int >= 1
        Harmonics in the product (and in the refinement).
    zero_padding : int >= 1
        FFT length in frame lengths.
    octave_guard_db : float >= 0 [dB]
        Tolerance of the sub-harmonic guard, on the product (sum of the harmonics' dB).
    voicing_threshold : float in (0, 1]
        Smallest periodicity counted as voiced.
    floor_db : float > 0 [dB]
        Spectral floor below the frame's maximum. Peaks under it count as absent. 30 dB
        keeps Hann's side lobes (-31 dB and lower) out of the product: at low f0 they fall
        on the multiples of sub-harmonic candidates and would outvote the true f0.
    backend : {"pyfftw", "scipy"}, optional

    Attributes
    ----------
    causal : bool
        True.
    latency_samples : int
        0.
    hop : int
        1 frame.
    n_fft : int [samples]
    bin_hz : float [Hz]

    Notes
    -----
    Output: voiced ``[f0, periodicity, 1]``, unvoiced ``[0, periodicity, 0]``. Silence:
    the floor makes the spectrum flat, any candidate wins, the periodicity is 0: unvoiced.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(2048) / 48000
    >>> x = sum(np.sin(2 * np.pi * h * 150.0 * t) for h in range(2, 7))  # no fundamental
    >>> round(float(Hps().process(x.astype(np.float32)[None, None])[0, 0, 0]))
    150

    Real-time notes
    ---------------
    As :class:`Yin`. Stateless, causal, no latency. One frame of one channel (a live hop)
    takes its own path: the spectrum on the bins the harmonics reach, the guard and the
    refinement on scalars, buffers kept between calls (about 70 us a frame at the defaults
    against 320 us through the batch path; about 27 us with the ``jit`` extra's compiled
    kernels, see :mod:`fluxstream.dsp._jit`); its f0 equals the batch path's within 1e-6
    relative, its voicing exactly, its confidence within 1e-6.

    References
    ----------
    M. R. Schroeder, "Period histogram and product spectrum: new methods for
    fundamental-frequency measurement", J. Acoust. Soc. Am. 43(4), 1968. A. M. Noll,
    "Pitch determination of human speech by the harmonic product spectrum, the harmonic sum
    spectrum and a maximum likelihood estimate", 1969.
    """

    def __init__(self, *, sample_rate: float = 48000, frame_length: int = 2048, fmin_hz: float = 65.0,
                 fmax_hz: float = 2093.0, n_harmonics: int = 5, zero_padding: int = 4,
                 octave_guard_db: float = 10.0, voicing_threshold: float = 0.5, floor_db: float = 30.0,
                 backend: str | None = None):
        self._common(sample_rate, frame_length, fmin_hz, fmax_hz)
        self._spectral_common("Hps", zero_padding, n_harmonics, voicing_threshold, floor_db, backend)
        g = _check_real("octave_guard_db", octave_guard_db, "dB")
        if g < 0:
            raise ConfigError(f"octave_guard_db={octave_guard_db!r} must be >= 0 (dB)")
        self.octave_guard_db = g
        self._k_lo = max(1, int(math.ceil(self.fmin_hz / self.bin_hz)))
        self._k_hi = int(math.floor(self.fmax_hz / self.bin_hz))
        self._multiples = np.arange(2, self.n_harmonics + 1)
        r = self.n_harmonics // 2 + 1
        self._guard_offsets = np.arange(-r, r + 1)
        self._guard_mask = np.abs(self._guard_offsets) <= (self._multiples[:, None] // 2 + 1)
        # The product reads up to n_harmonics k_hi + (n_harmonics + 2) // 2 and the peak
        # test one more; the refinement up to n_harmonics k_hi + ceil(n_harmonics / 2) + 2.
        self._prepare_one(self.n_harmonics * self._k_hi + self.n_harmonics + 8)
        reach = max(self.n_harmonics * self._k_hi + (self.n_harmonics + 2) // 2 + 2, self._bins_one)
        self._bufs_one = tuple(np.empty(reach, dtype=np.float32) for _ in range(3))
        self._jit = _jit.enabled()
        if self._jit:
            self._power_one = np.empty(self._bins_one + 2, dtype=np.float32)
            self._hk_one = np.empty(self._k_hi - self._k_lo + 1, dtype=np.float32)
            self._process_one(np.zeros(self.frame_length, dtype=np.float32))  # compile now, not live
        self.reset()

    def _estimate(self, x):
        L, floor = self._log_power(x)
        Lm = 0.5 * L  # log magnitude
        H = harmonic_product_spectrum(Lm, self.n_harmonics, self._k_lo, self._k_hi)
        n_cand = H.shape[-1]
        H2 = H.reshape(-1, n_cand)
        rows = np.arange(H2.shape[0])
        i = np.argmax(H2, axis=-1)
        best = H2[rows, i]
        k0 = i + self._k_lo
        chosen = k0.astype(np.float64)
        if self.n_harmonics > 1:
            # Guard: the largest multiple m*k0 whose product is within the tolerance, each
            # multiple searched +-(m//2 + 1) bins (k0's half-bin error times m), all at once.
            tol = self.octave_guard_db * math.log(10.0) / 20.0  # dB of magnitude -> nepers
            m = self._multiples
            idx = m[:, None] * k0[:, None, None] + self._guard_offsets - self._k_lo  # (rows, M, 2R+1)
            ok_idx = (idx >= 0) & (idx < n_cand) & self._guard_mask
            v = np.where(ok_idx, H2[rows[:, None, None], np.clip(idx, 0, n_cand - 1)], -np.inf)
            j = np.argmax(v, axis=-1)  # (rows, M)
            vj = np.take_along_axis(v, j[..., None], axis=-1)[..., 0]
            ok = vj >= (best - tol)[:, None]
            last = np.where(ok.any(axis=-1), m.size - 1 - np.argmax(ok[:, ::-1], axis=-1), -1)
            at = np.take_along_axis(idx, j[..., None], axis=-1)[..., 0] + self._k_lo  # (rows, M)
            pick = at[rows, np.maximum(last, 0)]
            chosen = np.where(last >= 0, pick, chosen)
        chosen = chosen.reshape(H.shape[:-1])
        return self._finish(x, L, floor, chosen, 0.5)

    def _process_one(self, x: np.ndarray) -> np.ndarray:
        """``process`` of one frame ``(frame_length,)`` -> ``(1, 1, 3)``."""
        xm = _centred_one(x)
        if self._jit:
            return self._compiled_one(xm)
        L, floor, lowest = self._log_power_one(xm)
        H = harmonic_product_spectrum(0.5 * L, self.n_harmonics, self._k_lo, self._k_hi, floor=0.5 * lowest,
                                      work=self._bufs_one)
        i = int(H.argmax())
        k0 = i + self._k_lo
        chosen = float(k0)
        if self.n_harmonics > 1:
            # The guard of _estimate, the largest multiple first.
            thr = H[i] - self.octave_guard_db * math.log(10.0) / 20.0
            n_cand = H.shape[0]
            for m in range(self.n_harmonics, 1, -1):
                r = m // 2 + 1
                lo, hi = max(m * k0 - self._k_lo - r, 0), min(m * k0 - self._k_lo + r, n_cand - 1)
                if lo > hi:
                    continue
                j = int(H[lo : hi + 1].argmax()) + lo
                if H[j] >= thr:
                    chosen = float(j + self._k_lo)
                    break
        return self._finish_one(xm, L, floor, chosen, 0.5)

    def _compiled_one(self, xm: np.ndarray) -> np.ndarray:
        """:meth:`_process_one` by the compiled kernels, from the centred frame."""
        L = self._power_one
        _power_floor_kernel(self._spectrum_one(xm), self._bins_one, self._floor_gain, _TINY32_F, L)
        np.log(L, out=L)
        f0 = _hps_decide_kernel(L, self._bins_one, *self._bufs_one, self._hk_one, self.n_harmonics,
                                self._k_lo, self._k_hi,
                                np.float32(self.octave_guard_db * math.log(10.0) / 20.0),  # as _process_one
                                self.n_fft // 2 + 1) * self.bin_hz
        return self._voiced_row(f0, np.float32(_periodicity_kernel(xm, self.sample_rate / f0, _TINY32)))

    _one_frame = _process_one


class Shs(_HarmonicSpectrum):
    """Subharmonic summation (Hermes 1988) on a log-frequency grid.

    The frame's magnitude spectrum (mean removed, Hann, zero-padded ``zero_padding``
    times, normalized to its maximum) is sampled on a log-frequency grid of
    ``bins_per_octave`` points per octave from ``fmin_hz`` up to ``min(n_harmonics *
    fmax_hz, sample_rate / 2)`` (each grid point takes the largest bin of its cell, after a
    3-bin running maximum, so no peak falls between grid points). The pitch candidate
    ``f`` maximizes ``sum_{h=1}^{n_harmonics} compression**(h-1) A(h f)``
    (:func:`subharmonic_summation`); it is refined from the harmonic peaks
    (:func:`refine_by_harmonics`) and voiced by the periodicity at its period, as in
    :class:`Hps`.

    The compression (Hermes' 0.84) makes a sub-multiple ``f0 / m`` collect the true
    partials with smaller weights than ``f0`` itself, which keeps the estimate on ``f0``
    for a missing fundamental and a strong second partial alike.

    Parameters
    ----------
    sample_rate : float > 0 [Hz]
    frame_length : int [samples], >= 2 periods of ``fmin_hz``
    fmin_hz, fmax_hz : float [Hz], ``0 < fmin_hz < fmax_hz <= sample_rate / 2``
    n_harmonics : int >= 1
        Harmonics summed (Hermes: 15).
    compression : float in (0, 1]
        Weight ratio between successive harmonics.
    bins_per_octave : int >= 12
        Grid density.
    zero_padding : int >= 1
    voicing_threshold : float in (0, 1]
    floor_db : float > 0 [dB]
        Floor of the power spectrum below its maximum (for the refinement's log spectrum).
    backend : {"pyfftw", "scipy"}, optional

    Attributes
    ----------
    causal : bool
        True.
    latency_samples : int
        0.
    hop : int
        1 frame.
    n_fft : int [samples]
    grid_hz : ndarray [shape=(n_grid,)] [Hz]
        The log-frequency grid; its first ``n_candidates`` points are the pitch candidates.

    Notes
    -----
    Hermes also smooths the spectrum with an auditory sensitivity curve and enhances its
    peaks; here the running maximum and the harmonic refinement take that role. Output as
    :class:`Hps`.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(2048) / 48000
    >>> x = sum(np.sin(2 * np.pi * h * 110.0 * t) / h for h in range(1, 8))
    >>> round(float(Shs().process(x.astype(np.float32)[None, None])[0, 0, 0]))
    110

    Real-time notes
    ---------------
    As :class:`Yin`. Stateless, causal, no latency. One frame of one channel (a live hop)
    takes its own path, as :class:`Hps` (about 125 us a frame at the defaults against 300 us
    through the batch path), with the same candidate and voicing as the batch path, its f0
    and confidence within 1e-6.

    References
    ----------
    D. J. Hermes, "Measurement of pitch by subharmonic summation", J. Acoust. Soc. Am.
    83(1), 1988.
    """

    def __init__(self, *, sample_rate: float = 48000, frame_length: int = 2048, fmin_hz: float = 65.0,
                 fmax_hz: float = 2093.0, n_harmonics: int = 15, compression: float = 0.84,
                 bins_per_octave: int = 48, zero_padding: int = 4, voicing_threshold: float = 0.5,
                 floor_db: float = 60.0, backend: str | None = None):
        self._common(sample_rate, frame_length, fmin_hz, fmax_hz)
        self._spectral_common("Shs", zero_padding, n_harmonics, voicing_threshold, floor_db, backend)
        self.compression = _check_open_unit("compression", compression, "weight ratio")
        self.bins_per_octave = _check_int("bins_per_octave", bins_per_octave, 12, "grid points per octave")
        B = self.bins_per_octave
        top = min(self.n_harmonics * self.fmax_hz, self.sample_rate / 2.0)
        n_grid = int(math.floor(B * math.log2(top / self.fmin_hz))) + 1
        self.grid_hz = self.fmin_hz * 2.0 ** (np.arange(n_grid) / B)
        self.n_candidates = int(math.floor(B * math.log2(self.fmax_hz / self.fmin_hz) + 1e-9)) + 1
        # Cell j is [f_j 2**(-1/2B), f_j 2**(1/2B)): its bins start at _starts[j].
        edges = self.fmin_hz * 2.0 ** ((np.arange(n_grid + 1) - 0.5) / B)
        n_bins = self.n_fft // 2 + 1
        self._starts = np.minimum(np.rint(edges / self.bin_hz).astype(np.int64), n_bins - 1)
        self._step = 2.0 ** (1.0 / B) - 1.0
        self._prepare_one(n_bins)  # the grid reaches the top harmonic's cell: every bin
        self.reset()

    def _candidate_bins(self, L: np.ndarray) -> np.ndarray:
        """The pitch candidate [bins] of log power spectra ``L`` [shape=(..., n_bins)]."""
        A = np.exp(0.5 * (L - L.max(axis=-1, keepdims=True)))  # magnitude / max
        A3 = A.copy()
        np.maximum(A3[..., 1:], A[..., :-1], out=A3[..., 1:])
        np.maximum(A3[..., :-1], A[..., 1:], out=A3[..., :-1])
        # Largest bin of each cell; reduceat gives A3[start] for a cell narrower than a bin.
        G = np.maximum.reduceat(A3, self._starts, axis=-1)[..., :-1]
        S = subharmonic_summation(G, self.bins_per_octave, self.n_harmonics, self.compression,
                                  self.n_candidates)
        return self.grid_hz[np.argmax(S, axis=-1)] / self.bin_hz

    def _estimate(self, x):
        L, floor = self._log_power(x)
        f0_bins = self._candidate_bins(L)
        # The grid's step (2**(1/B) - 1 of f0), plus the running maximum's bin.
        return self._finish(x, L, floor, f0_bins, f0_bins * self._step + 1.0)

    def _process_one(self, x: np.ndarray) -> np.ndarray:
        """``process`` of one frame ``(frame_length,)`` -> ``(1, 1, 3)``: the candidate as
        :meth:`_estimate` finds it (the same operations on one row), the refinement and the
        periodicity on scalars."""
        xm = _centred_one(x)
        L, floor, _ = self._log_power_one(xm)
        f0_bins = float(self._candidate_bins(L))
        return self._finish_one(xm, L, floor, f0_bins, f0_bins * self._step + 1.0)

    _one_frame = _process_one
