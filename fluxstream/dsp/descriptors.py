"""Frame descriptors: the shape of a spectrum, its change between frames, and time-domain
frame statistics.

Every kernel is a pure function over arrays whose last axis is frequency (spectra ``S`` or
``P``, shape ``(..., n_bins)``) or time within a frame (``frames``, shape ``(...,
frame_length)``); leading axes are anything (channels, frames). Each returns one value per
frame (an array over the leading axes) unless stated, allocates its result, never mutates
its input, and gives a defined, finite value for a silent frame (named in each docstring).
float32 in gives float32 out.

Map
---
shape of a magnitude spectrum   :func:`spectral_bandwidth`, :func:`spectral_spread`,
                                :func:`spectral_skewness`, :func:`spectral_kurtosis`,
                                :func:`spectral_flatness`, :func:`band_flatness`,
                                :func:`spectral_crest`, :func:`spectral_slope`,
                                :func:`spectral_decrease`, :func:`spectral_rolloff`,
                                :func:`spectral_entropy`, :func:`spectral_contrast`
                                (the centroid is :func:`fluxstream.dsp.spectral.spectral_centroid`)
energy of a power spectrum      :func:`spectral_energy`, :func:`band_energy_ratio`,
                                :func:`high_frequency_content`
change between two frames       :func:`spectral_flux`, :func:`modified_kl`, and their stateful
                                stages :class:`Flux`, :class:`ModifiedKL`
time-domain frames              :func:`zero_crossing_rate`, :func:`peak_level`,
                                :func:`harmonic_ratio` (RMS is
                                :func:`fluxstream.dsp.spectral.frame_rms`)
helpers                         :func:`octave_band_edges`

``freqs_hz`` may be non-uniform (the band centres of a mel or bark spectrum) but must be
ascending. Where a descriptor has a librosa counterpart the docstring says whether the two
agree and, where they do not, why.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import scipy.fft

from ..errors import ConfigError
from . import _jit, frame_kernels
from .spectral import power_to_db, spectral_centroid

__all__ = [
    "spectral_bandwidth",
    "spectral_spread",
    "spectral_skewness",
    "spectral_moments",
    "spectral_kurtosis",
    "spectral_flatness",
    "band_flatness",
    "octave_band_edges",
    "spectral_crest",
    "spectral_slope",
    "spectral_decrease",
    "spectral_rolloff",
    "spectral_entropy",
    "spectral_contrast",
    "contrast_bands",
    "contrast_from_bands",
    "spectral_energy",
    "band_energy_ratio",
    "high_frequency_content",
    "spectral_flux",
    "modified_kl",
    "Flux",
    "ModifiedKL",
    "zero_crossing_rate",
    "peak_level",
    "harmonic_ratio",
]

_TINY32 = np.finfo(np.float32).tiny
# Below this fraction of the largest |frequency| a spread counts as zero: float32 puts the
# centroid of a one-bin spectrum about 1e-7 * f away from the bin, which must not turn
# into a skewness of +-1 and a kurtosis of 1.
_ZERO_SPREAD = 1e-5


# -- validation ------------------------------------------------------------------------

def _check_number(name: str, value, unit: str = "") -> float:
    if type(value) is float and math.isfinite(value):  # the common case, checked cheaply
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value):
        raise ConfigError(f"{name}={value!r} must be a finite number{unit}")
    return float(value)


def _check_positive(name: str, value, unit: str = "") -> float:
    v = _check_number(name, value, unit)
    if v <= 0:
        raise ConfigError(f"{name}={value!r} must be > 0{unit}")
    return v


def _check_int(name: str, value, low: int, unit: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ConfigError(f"{name}={value!r} must be an integer >= {low}{unit}")
    return int(value)


def _check_fraction(name: str, value) -> float:
    v = _check_number(name, value)
    if not 0.0 < v < 1.0:
        raise ConfigError(f"{name}={value!r} must lie in the open interval (0, 1)")
    return v


def _float(x) -> np.ndarray:
    """The input as a floating array (no copy when it already is one)."""
    x = np.asarray(x)
    return x if x.dtype.kind == "f" else x.astype(np.float64)  # dtype.kind: no issubdtype cost


def _freqs(S: np.ndarray, freqs_hz) -> np.ndarray:
    """``freqs_hz`` checked against ``S``'s last axis, as float64."""
    f = np.asarray(freqs_hz, dtype=np.float64)
    if f.ndim != 1 or f.shape[0] != S.shape[-1]:
        raise ConfigError(
            f"freqs_hz shape {f.shape} does not match the spectrum's last axis ({S.shape[-1]},)"
        )
    return f


def _safe_divide(num, den, fill: float) -> np.ndarray:
    """``num / den`` where ``den >= tiny``, ``fill`` elsewhere (a new array, also 0-d)."""
    num, den = np.asarray(num), np.asarray(den)
    shape = num.shape if num.shape == den.shape else np.broadcast_shapes(num.shape, den.shape)
    dtype = num.dtype if num.dtype == den.dtype else np.result_type(num, den)
    out = np.zeros(shape, dtype) if fill == 0 else np.full(shape, fill, dtype)
    np.divide(num, den, out=out, where=den >= _TINY32)
    return out


# -- shape of a magnitude spectrum -----------------------------------------------------

def _deviation(S: np.ndarray, freqs_hz, centroid_hz=None) -> np.ndarray:
    """``f_k - c`` per frame [Hz], shape ``S.shape``, in S's dtype (a new array)."""
    f = _freqs(S, freqs_hz).astype(S.dtype)
    if centroid_hz is None:
        # Through a 2-D view: spectral_centroid divides in place, which a 0-d result cannot.
        c = spectral_centroid(S.reshape(-1, S.shape[-1]), f).reshape(S.shape[:-1])
    else:
        c = np.asarray(centroid_hz, S.dtype)
    return f - c[..., None]


def spectral_bandwidth(S: np.ndarray, freqs_hz: np.ndarray, p: float = 2.0,
                       centroid_hz: np.ndarray | None = None) -> np.ndarray:
    """Spectral bandwidth: the p-th order deviation of frequency around the centroid [Hz].

    ``(sum_k w_k |f_k - c|**p) ** (1/p)`` with ``w_k = S_k / sum_j S_j`` and ``c`` the
    spectral centroid. Equals ``librosa.feature.spectral_bandwidth(S=S.T, freq=freqs_hz,
    p=p)`` (librosa's ``norm=True``). A silent frame (magnitudes summing to less than
    float32's ``tiny``) has bandwidth 0 Hz, as in librosa.

    Parameters
    ----------
    S : ndarray [shape=(..., n_bins)], non-negative (magnitude spectrum)
    freqs_hz : ndarray [shape=(n_bins,)] [Hz], ascending, may be non-uniform
    p : float > 0
        Order of the deviation (2: standard deviation, 1: mean absolute deviation).
    centroid_hz : ndarray [shape=(...)] [Hz], optional
        Precomputed centroid (saves its computation when the caller has it already).

    Returns
    -------
    bandwidth_hz : ndarray [shape=(...)] [Hz]
    """
    p = _check_positive("p", p)
    S = _float(S)
    d = np.abs(_deviation(S, freqs_hz, centroid_hz))
    # Integer orders avoid pow(), which is several times slower than a multiply.
    if p == 2.0:
        d *= d
    elif p == 3.0:
        d *= d * d
    elif p != 1.0:
        np.power(d, d.dtype.type(p), out=d)
    num = np.einsum("...k,...k->...", S, d)
    out = _safe_divide(num, S.sum(axis=-1), 0.0)
    if p != 1.0:
        np.power(out, out.dtype.type(1.0 / p), out=out)
    return out


def spectral_spread(S: np.ndarray, freqs_hz: np.ndarray) -> np.ndarray:
    """Spectral spread: the magnitude-weighted standard deviation of frequency [Hz].

    ``sqrt(sum_k w_k (f_k - c)**2)``, ``w_k = S_k / sum_j S_j``: :func:`spectral_bandwidth`
    with ``p=2`` (so equal to librosa's ``spectral_bandwidth(p=2)``). Silence: 0 Hz.

    Parameters
    ----------
    S : ndarray [shape=(..., n_bins)], non-negative (magnitude spectrum)
    freqs_hz : ndarray [shape=(n_bins,)] [Hz]

    Returns
    -------
    spread_hz : ndarray [shape=(...)] [Hz]
    """
    return spectral_bandwidth(S, freqs_hz, p=2.0)


def spectral_moments(S: np.ndarray, freqs_hz: np.ndarray) -> np.ndarray:
    """Centroid, spread, skewness and kurtosis in one pass over the spectrum.

    The same values as :func:`~fluxstream.dsp.spectral.spectral_centroid`,
    :func:`spectral_spread`, :func:`spectral_skewness` and :func:`spectral_kurtosis`
    (their definitions and silence values), sharing the centroid and the deviations, for
    callers that want several of them.

    Parameters
    ----------
    S : ndarray [shape=(..., n_bins)], non-negative (magnitude spectrum)
    freqs_hz : ndarray [shape=(n_bins,)] [Hz]

    Returns
    -------
    moments : ndarray [shape=(..., 4)]
        ``[centroid_hz, spread_hz, skewness, kurtosis]``.
    """
    S = _float(S)
    f64 = _freqs(S, freqs_hz)
    f = f64.astype(S.dtype)
    den = S.sum(axis=-1)
    c = _safe_divide(S @ f, den, 0.0)
    d = f - c[..., None]
    dk = d * d
    m2 = _safe_divide(np.einsum("...k,...k->...", S, dk), den, 0.0)
    dk *= d
    m3 = _safe_divide(np.einsum("...k,...k->...", S, dk), den, 0.0)
    dk *= d
    m4 = _safe_divide(np.einsum("...k,...k->...", S, dk), den, 0.0)
    sigma = np.sqrt(m2)
    # Zero spread: the moment ratios are 0/0; 0 is the defined answer.
    ok = sigma > _ZERO_SPREAD * float(np.max(np.abs(f64), initial=0.0))
    s2 = sigma * sigma
    skew = _safe_divide(m3, np.where(ok, s2 * sigma, 0), 0.0)
    kurt = _safe_divide(m4, np.where(ok, s2 * s2, 0), 0.0)
    return np.stack([c, sigma, skew, kurt], axis=-1).astype(S.dtype, copy=False)


def _standardized_moment(S: np.ndarray, freqs_hz, order: int) -> np.ndarray:
    return spectral_moments(S, freqs_hz)[..., order - 1]


def spectral_skewness(S: np.ndarray, freqs_hz: np.ndarray) -> np.ndarray:
    """Spectral skewness: third standardized moment of the magnitude-weighted frequency
    distribution (dimensionless).

    ``sum_k w_k (f_k - c)**3 / sigma**3`` with ``w_k = S_k / sum_j S_j``, ``c`` the centroid
    and ``sigma`` the spread (Peeters 2004). Positive when the energy is concentrated below
    the centroid with a tail above. Silence, and a frame whose spread is zero (a single
    non-zero bin; numerically: spread <= 1e-5 * max|f|), give 0.

    Parameters
    ----------
    S : ndarray [shape=(..., n_bins)], non-negative (magnitude spectrum)
    freqs_hz : ndarray [shape=(n_bins,)] [Hz]

    Returns
    -------
    skewness : ndarray [shape=(...)] (dimensionless)

    References
    ----------
    G. Peeters, "A large set of audio features for sound description", IRCAM, 2004.
    """
    return _standardized_moment(S, freqs_hz, 3)


def spectral_kurtosis(S: np.ndarray, freqs_hz: np.ndarray) -> np.ndarray:
    """Spectral kurtosis: fourth standardized moment of the magnitude-weighted frequency
    distribution (dimensionless; not the excess, so a Gaussian shape gives 3).

    ``sum_k w_k (f_k - c)**4 / sigma**4`` with ``w_k = S_k / sum_j S_j``, ``c`` the centroid
    and ``sigma`` the spread (Peeters 2004). Silence, and a frame whose spread is zero (a
    single non-zero bin; numerically: spread <= 1e-5 * max|f|), give 0 (a true distribution
    has kurtosis >= 1, so 0 marks "undefined").

    Parameters
    ----------
    S : ndarray [shape=(..., n_bins)], non-negative (magnitude spectrum)
    freqs_hz : ndarray [shape=(n_bins,)] [Hz]

    Returns
    -------
    kurtosis : ndarray [shape=(...)] (dimensionless)
    """
    return _standardized_moment(S, freqs_hz, 4)


def _log_means(X: np.ndarray, power: float, amin: float) -> tuple[np.ndarray, np.ndarray]:
    """``max(amin, X**power)`` and its log, both new arrays."""
    T = X * X if power == 2.0 else (X.copy() if power == 1.0 else np.power(X, X.dtype.type(power)))
    np.maximum(T, X.dtype.type(amin), out=T)
    return T, np.log(T)


def spectral_flatness(S: np.ndarray, power: float = 2.0, amin: float = 1e-10) -> np.ndarray:
    """Spectral flatness (Wiener entropy): geometric over arithmetic mean of the power.

    ``exp(mean_k log T_k) / mean_k T_k`` with ``T_k = max(amin, S_k**power)``, in 0..1:
    near 0 for a tone, about ``exp(-0.5772) = 0.56`` for white noise (exponentially
    distributed power). Equals ``librosa.feature.spectral_flatness(S=S.T, power=power,
    amin=amin)``, except that round-off above 1 (impossible for a geometric over an arithmetic
    mean) is clipped to 1. Silence gives 1.0 (to float round-off): every ``T_k`` is
    ``amin``.

    Parameters
    ----------
    S : ndarray [shape=(..., n_bins)], non-negative (magnitude spectrum)
    power : float > 0
        Exponent applied to ``S`` (2: power spectrum).
    amin : float > 0
        Floor on ``S**power``, the noise floor that keeps ``log`` finite.

    Returns
    -------
    flatness : ndarray [shape=(...)] (dimensionless, 0..1)

    References
    ----------
    S. Dubnov, "Generalization of spectral flatness measure for non-Gaussian linear
    processes", IEEE Signal Processing Letters 11(8), 2004.
    """
    power = _check_positive("power", power)
    amin = _check_positive("amin", amin)
    T, logT = _log_means(_float(S), power, amin)
    g = np.asarray(np.exp(logT.mean(axis=-1)))
    np.divide(g, T.mean(axis=-1), out=g)
    # Geometric <= arithmetic mean: anything above 1 is round-off (silence, all amin).
    return np.minimum(g, 1, out=g)


def octave_band_edges(fmin_hz: float = 250.0, n_bands: int = 4) -> np.ndarray:
    """Edges of ``n_bands`` adjacent octave bands from ``fmin_hz``: ``fmin_hz * 2**i``.

    Parameters
    ----------
    fmin_hz : float > 0 [Hz]
        Lower edge of the first band (MPEG-7's spectral flatness starts at 250 Hz).
    n_bands : int >= 1

    Returns
    -------
    edges_hz : ndarray [shape=(n_bands + 1,), dtype=float64] [Hz]
    """
    fmin_hz = _check_positive("fmin_hz", fmin_hz, " (Hz)")
    n_bands = _check_int("n_bands", n_bands, 1)
    return fmin_hz * 2.0 ** np.arange(n_bands + 1, dtype=np.float64)


def _band_slices(freqs: np.ndarray, edges: np.ndarray) -> list[slice]:
    """Bins with ``edges[i] <= f < edges[i+1]``, one slice per band (freqs ascending)."""
    lo = np.searchsorted(freqs, edges[:-1], side="left")
    hi = np.searchsorted(freqs, edges[1:], side="left")
    for i, (a, b) in enumerate(zip(lo, hi)):
        if b <= a:
            raise ConfigError(
                f"edges_hz band {i} [{edges[i]:g}, {edges[i + 1]:g}) Hz contains no bin of "
                "freqs_hz: widen the band or use a finer spectrum"
            )
    return [slice(int(a), int(b)) for a, b in zip(lo, hi)]


def _check_edges(edges_hz) -> np.ndarray:
    e = np.asarray(edges_hz, dtype=np.float64)
    if e.ndim != 1 or e.shape[0] < 2 or not np.all(np.isfinite(e)) or np.any(np.diff(e) <= 0):
        raise ConfigError(
            f"edges_hz={edges_hz!r} must be >= 2 finite, strictly increasing frequencies (Hz)"
        )
    return e


def band_flatness(S: np.ndarray, freqs_hz: np.ndarray, edges_hz, power: float = 2.0,
                  amin: float = 1e-10) -> np.ndarray:
    """Spectral flatness within each band (MPEG-7 AudioSpectrumFlatness style).

    For band ``i`` the bins with ``edges_hz[i] <= f_k < edges_hz[i+1]``, and over them
    ``exp(mean log T_k) / mean T_k``, ``T_k = max(amin, S_k**power)`` as in
    :func:`spectral_flatness`. Silence gives 1.0 in every band (to float round-off). MPEG-7
    uses quarter-octave bands with 5 % overlap; here the bands are whatever ``edges_hz``
    says (:func:`octave_band_edges` makes octaves) and do not overlap.

    Parameters
    ----------
    S : ndarray [shape=(..., n_bins)], non-negative (magnitude spectrum)
    freqs_hz : ndarray [shape=(n_bins,)] [Hz], ascending
    edges_hz : array_like [shape=(n_bands + 1,)] [Hz], strictly increasing
        Every band must contain at least one bin.
    power, amin : float > 0
        As for :func:`spectral_flatness`.

    Returns
    -------
    flatness : ndarray [shape=(..., n_bands)] (dimensionless, 0..1)
    """
    power = _check_positive("power", power)
    amin = _check_positive("amin", amin)
    S = _float(S)
    slices = _band_slices(_freqs(S, freqs_hz), _check_edges(edges_hz))
    T, logT = _log_means(S, power, amin)
    out = np.empty(S.shape[:-1] + (len(slices),), dtype=S.dtype)
    for i, sl in enumerate(slices):  # a handful of bands
        out[..., i] = np.exp(logT[..., sl].mean(axis=-1)) / T[..., sl].mean(axis=-1)
    return np.minimum(out, 1, out=out)  # as spectral_flatness: > 1 is round-off


def spectral_crest(S: np.ndarray) -> np.ndarray:
    """Spectral crest factor: ``max_k S_k / mean_k S_k`` (dimensionless, 1..n_bins).

    1 for a flat spectrum, about 3 for white noise's magnitudes at 1025 bins, large
    (~n_bins / main-lobe width) for a tone. Silence gives 1.0 (the value of a flat
    spectrum: nothing stands out).

    Parameters
    ----------
    S : ndarray [shape=(..., n_bins)], non-negative (magnitude spectrum)

    Returns
    -------
    crest : ndarray [shape=(...)] (dimensionless)
    """
    S = _float(S)
    return _safe_divide(S.max(axis=-1), S.mean(axis=-1), 1.0)


def spectral_slope(S: np.ndarray, freqs_hz: np.ndarray) -> np.ndarray:
    """Spectral slope: least-squares slope of the magnitude against frequency, divided by
    the total magnitude [1/Hz] (Peeters 2004).

    ``(K sum f_k S_k - sum f_k sum S_k) / (K sum f_k**2 - (sum f_k)**2) / sum S_k``
    = ``sum (f_k - mean f) S_k / sum (f_k - mean f)**2 / sum S_k``. Dividing by the total
    makes it independent of the level; negative when magnitude falls with frequency, ~0
    for white noise. Silence gives 0; so does a spectrum with a single frequency (no
    slope to fit).

    Parameters
    ----------
    S : ndarray [shape=(..., n_bins)], non-negative (magnitude spectrum)
    freqs_hz : ndarray [shape=(n_bins,)] [Hz]

    Returns
    -------
    slope : ndarray [shape=(...)] [1/Hz]
    """
    S = _float(S)
    f = _freqs(S, freqs_hz)
    fc = f - f.mean()
    var = float(fc @ fc)
    if var <= 0.0:
        return np.zeros(S.shape[:-1], dtype=S.dtype)
    # Centring in float64 before the cast keeps the regression exact for large f.
    num = S @ (fc / var).astype(S.dtype)
    return _safe_divide(num, S.sum(axis=-1), 0.0)


def spectral_decrease(S: np.ndarray) -> np.ndarray:
    """Spectral decrease: mean fall of the magnitude from the first bin, weighted towards
    low bins (Peeters 2004) (dimensionless).

    ``sum_{k>=1} (S_k - S_0) / k / sum_{k>=1} S_k``. Silence gives 0, and so does any frame
    with nothing above bin 0 (a pure DC spectrum), where the ratio has no finite value.

    Parameters
    ----------
    S : ndarray [shape=(..., n_bins)], non-negative (magnitude spectrum)

    Returns
    -------
    decrease : ndarray [shape=(...)] (dimensionless)
    """
    S = _float(S)
    K = S.shape[-1]
    inv_k = 1.0 / np.arange(1, K, dtype=np.float64)
    # sum (S_k - S_0)/k = sum S_k/k - S_0 * H_{K-1}: no (..., K) temporary.
    num = S[..., 1:] @ inv_k.astype(S.dtype)
    num -= S[..., 0] * S.dtype.type(inv_k.sum())
    return _safe_divide(num, S[..., 1:].sum(axis=-1), 0.0)


def spectral_rolloff(S: np.ndarray, freqs_hz: np.ndarray, roll_percent: float = 0.85) -> np.ndarray:
    """Roll-off frequency: the lowest bin frequency whose cumulative magnitude reaches
    ``roll_percent`` of the frame's total [Hz].

    ``f_m`` with ``m = min{m : sum_{k<=m} S_k >= roll_percent * sum_k S_k}``. Equals
    ``librosa.feature.spectral_rolloff(S=S.T, freq=freqs_hz, roll_percent=roll_percent)``
    (same float32 cumulative sum, same comparison). Silence gives ``freqs_hz[0]`` (every
    cumulative sum reaches 0), as librosa.

    Parameters
    ----------
    S : ndarray [shape=(..., n_bins)], non-negative (magnitude spectrum)
    freqs_hz : ndarray [shape=(n_bins,)] [Hz], ascending
    roll_percent : float in (0, 1)

    Returns
    -------
    rolloff_hz : ndarray [shape=(...)] [Hz]
    """
    roll_percent = _check_fraction("roll_percent", roll_percent)
    S = _float(S)
    return _rolloff(S, _freqs(S, freqs_hz).astype(S.dtype), roll_percent)


def _rolloff(S: np.ndarray, f: np.ndarray, roll_percent: float) -> np.ndarray:
    """:func:`spectral_rolloff` on checked inputs (``f`` in S's dtype): the graph's node
    calls this with its prepared frequencies, skipping the per-call checks."""
    if _jit.ENABLED and S.ndim and S.shape[-1] and S.dtype == np.float32 and S.flags.c_contiguous:
        # Compiled (the jit extra): numpy's sums and count, without the (n, K) temporaries.
        X = S.reshape(-1, S.shape[-1])
        m = np.empty(X.shape[0], dtype=np.int64)
        frame_kernels.rolloff_rows(X, np.float32(roll_percent), np.empty(X.shape[1], np.float32), m)
        return f[m.reshape(S.shape[:-1])]
    if S.ndim and S.size == S.shape[-1]:
        # One frame (a live hop): the same sum and comparison, the count by a binary search
        # (count_nonzero along an axis costs more than the cumulative sum here).
        x = S.reshape(-1)
        cum = np.cumsum(x)
        thresh = cum[-1:] * roll_percent
        if not np.isnan(thresh[0]):  # (a NaN would sort after every number)
            m = min(int(cum.searchsorted(thresh)[0]), S.shape[-1] - 1)
            return f[np.full(S.shape[:-1], m)]
    cum = np.cumsum(S, axis=-1)
    thresh = cum[..., -1:] * roll_percent
    # A cumulative sum of non-negative values never decreases, so the number of bins
    # below the threshold is the index of the first bin at or above it.
    m = np.asarray(np.count_nonzero(cum < thresh, axis=-1))
    np.minimum(m, S.shape[-1] - 1, out=m)
    return f[m]


def spectral_entropy(S: np.ndarray) -> np.ndarray:
    """Normalized spectral entropy of the magnitude distribution (dimensionless, 0..1).

    ``-sum_k p_k log p_k / log K`` with ``p_k = S_k / sum_j S_j`` and ``K`` bins: 1 for a
    flat spectrum, near 1 for white noise, 0 for a single bin. Silence gives 0 (nothing to
    be uncertain about), as does ``K == 1``.

    Parameters
    ----------
    S : ndarray [shape=(..., n_bins)], non-negative (magnitude spectrum)

    Returns
    -------
    entropy : ndarray [shape=(...)] (dimensionless, 0..1)

    Notes
    -----
    Computed as ``log(sum S) - sum_k S_k log S_k / sum S`` (one pass, no normalized copy);
    ``0 log 0 = 0``. Round-off can take that a hair outside 0..1, so it is clipped.
    """
    S = _float(S)
    K = S.shape[-1]
    total = S.sum(axis=-1)
    out = np.zeros(S.shape[:-1], dtype=S.dtype)
    if K < 2:
        return out
    ok = total >= _TINY32
    # log(max(S, tiny)): 0 log 0 = 0 without a warning or a mask the size of S.
    logS = np.log(np.maximum(S, S.dtype.type(_TINY32)))
    slogs = np.einsum("...k,...k->...", S, logS)
    safe_total = np.where(ok, total, 1).astype(S.dtype)
    h = np.asarray(np.log(safe_total) - slogs / safe_total)
    h *= S.dtype.type(1.0 / math.log(K))
    np.clip(h, 0.0, 1.0, out=h)
    return np.where(ok, h, out).astype(S.dtype, copy=False)


def spectral_contrast(S: np.ndarray, freqs_hz: np.ndarray, fmin_hz: float = 200.0,
                      n_bands: int = 6, quantile: float = 0.02, linear: bool = False) -> np.ndarray:
    """Spectral contrast: peak minus valley in octave bands (Jiang et al. 2002), with a
    fixed dB reference.

    Bands: ``[0, fmin]``, ``[fmin, 2 fmin]``, ..., ``[fmin 2**(n_bands-1), fmin 2**n_bands]``
    (``n_bands + 1`` of them), chosen exactly as librosa does: the bins with ``f_lo <= f <=
    f_hi``, plus the bin just below for every band but the first, minus the top bin for
    every band but the last, and everything above for the last. In a band of ``m`` bins
    (counted before the top bin is dropped), ``q = max(1, rint(quantile * m))``: the peak is
    the mean of the ``q`` largest magnitudes, the valley the mean of the ``q`` smallest.

    - ``linear=True``: ``peak - valley`` (magnitude units). Equals
      ``librosa.feature.spectral_contrast(S=S.T, freq=freqs_hz, fmin=fmin_hz,
      n_bands=n_bands, quantile=quantile, linear=True)``.
    - ``linear=False``: ``10 log10(max(peak, 1e-10)) - 10 log10(max(valley, 1e-10))`` [dB],
      the ``power_to_db`` of the magnitudes as in librosa (so 10 log10 of an amplitude:
      half the usual amplitude dB). librosa uses ``power_to_db``'s default ``top_db=80``,
      which clips every peak and valley to 80 dB below the largest one *in the whole
      signal*, a value a stream cannot know in advance; here the reference is fixed and
      nothing is clipped. The two agree wherever librosa's clipping is inactive; where it
      is active (a valley more than 80 dB below the loudest valley of the signal, e.g. a
      band of digital silence next to loud frames) this value is larger than librosa's.

    Silence gives 0 in every band (peak = valley).

    Parameters
    ----------
    S : ndarray [shape=(..., n_bins)], non-negative (magnitude spectrum)
    freqs_hz : ndarray [shape=(n_bins,)] [Hz], ascending, may be non-uniform
    fmin_hz : float > 0 [Hz]
        Upper edge of the lowest band.
    n_bands : int >= 1
        Number of octave bands above the first.
    quantile : float in (0, 1)
        Fraction of each band's bins averaged for the peak and the valley.
    linear : bool

    Returns
    -------
    contrast : ndarray [shape=(..., n_bands + 1)] [dB], or magnitude units when ``linear``

    Raises
    ------
    ConfigError
        Bad parameters, a band edge at or above the highest frequency (librosa's "band
        exceeds Nyquist"), an empty band, or a first band with fewer than two bins (librosa
        would return NaN or fail there).

    References
    ----------
    D.-N. Jiang, L. Lu, H.-J. Zhang, J.-H. Tao, L.-H. Cai, "Music type classification by
    spectral contrast feature", ICME 2002.
    """
    S = _float(S)
    ranges = contrast_bands(_freqs(S, freqs_hz), fmin_hz, n_bands, quantile)
    return contrast_from_bands(S, ranges, linear)


def contrast_bands(freqs_hz: np.ndarray, fmin_hz: float = 200.0, n_bands: int = 6,
                   quantile: float = 0.02) -> tuple[tuple[int, int, int], ...]:
    """The bins of each spectral contrast band, as :func:`spectral_contrast` picks them:
    ``((first_bin, end_bin, q), ...)`` (end exclusive; ``q`` values are averaged at each end).

    Computed once per frequency axis, so a stage need not redo it for every frame batch.
    """
    fmin_hz = _check_positive("fmin_hz", fmin_hz, " (Hz)")
    n_bands = _check_int("n_bands", n_bands, 1)
    quantile = _check_fraction("quantile", quantile)
    f = np.asarray(freqs_hz, dtype=np.float64)
    octa = np.zeros(n_bands + 2)
    octa[1:] = fmin_hz * 2.0 ** np.arange(n_bands + 1)
    too_high = octa[:-1] >= (f[-1] if f.size else -np.inf)
    if too_high.any():
        raise ConfigError(
            f"fmin_hz={fmin_hz:g} with n_bands={n_bands} puts a band's lower edge "
            f"({octa[:-1][too_high][0]:g} Hz) at or above the highest frequency "
            f"({f[-1] if f.size else float('nan'):g} Hz): lower fmin_hz or n_bands"
        )
    ranges = []
    for k in range(n_bands + 1):
        lo, hi = octa[k], octa[k + 1]
        # freqs ascend, so a band [lo, hi] is the contiguous bin range [a, b).
        a = int(np.searchsorted(f, lo, side="left"))
        b = int(np.searchsorted(f, hi, side="right"))
        if b - a == 0 or (k == 0 and b - a < 2):
            raise ConfigError(
                f"spectral contrast band {k} [{lo:g}, {hi:g}] Hz holds {b - a} bin(s) of "
                f"freqs_hz (needs {2 if k == 0 else 1}): raise fmin_hz={fmin_hz:g} or use a "
                "finer spectrum"
            )
        # librosa's edge handling: borrow the bin just below, the last band takes
        # everything up to the top, and every band but the last drops its top bin.
        if k > 0:
            a -= 1
        if k == n_bands:
            b = f.shape[0]
        q = max(int(np.rint(quantile * (b - a))), 1)
        ranges.append((a, b if k == n_bands else b - 1, q))
    return tuple(ranges)


@functools.lru_cache(maxsize=32)
def _contrast_plan(ranges: tuple) -> tuple:
    """How :func:`contrast_from_bands` reads each band, worked out once per band layout."""
    simple = [k for k, r in enumerate(ranges) if r[2] == 1]
    # Bands averaging one value at each end (all but the widest) need only their extremes:
    # one reduceat each for all of them. Segments alternate band / gap (gaps may run
    # backwards where bands overlap; their results are skipped by the [::2]).
    idx = [i for k in simple for i in ranges[k][:2]]
    if idx and idx[-1] >= ranges[-1][1]:
        idx.pop()  # the last segment runs to the end anyway (reduceat needs idx < n_bins)
    wide = [(k, a, e, q, np.r_[0:q, e - a - q : e - a]) for k, (a, e, q) in enumerate(ranges) if q > 1]
    return simple, idx, wide


@functools.lru_cache(maxsize=32)
def _contrast_arrays(ranges: tuple) -> tuple:
    """The band layout as the compiled kernel reads it: start, end and q per band, the
    largest end and the largest q."""
    a = np.array(ranges, dtype=np.int64).reshape(-1, 3)
    starts, ends, qs = (np.ascontiguousarray(a[:, i]) for i in range(3))
    return starts, ends, qs, int(ends.max()), int(qs.max())


def contrast_from_bands(S: np.ndarray, ranges, linear: bool = False) -> np.ndarray:
    """Spectral contrast of ``S`` [shape=(..., n_bins)] over precomputed
    :func:`contrast_bands` -> ``(..., len(ranges))``; see :func:`spectral_contrast`."""
    lead = S.shape[:-1]
    key = ranges if isinstance(ranges, tuple) else tuple(map(tuple, ranges))
    if _jit.ENABLED and S.dtype == np.float32 and S.flags.c_contiguous and S.size:
        # Compiled (the jit extra): each band's q extremes by insertion, no sort.
        starts, ends, qs, end, q = _contrast_arrays(key)
        if end <= S.shape[-1]:
            X = S.reshape(-1, S.shape[-1])
            out = np.empty((X.shape[0], len(ranges)), dtype=np.float32)
            if frame_kernels.contrast_rows(X, starts, ends, qs, bool(linear), np.float32(1e-10),
                                           np.empty(q, np.float32), np.empty(q, np.float32), out):
                return out.reshape(lead + (len(ranges),))
    simple, idx, wide = _contrast_plan(key)
    if S.size == S.shape[-1]:
        return _contrast_one(S.reshape(-1), simple, idx, wide, linear).reshape(lead + (len(ranges),))
    S = S.reshape(-1, S.shape[-1])  # 2-D, so that per-band results stay arrays
    ext = np.empty((S.shape[0], 2, len(ranges)), dtype=S.dtype)  # [valley, peak] per band
    if simple:
        ext[:, 0, simple] = np.minimum.reduceat(S, idx, axis=-1)[:, ::2]
        ext[:, 1, simple] = np.maximum.reduceat(S, idx, axis=-1)[:, ::2]
    for k, a, e, q, ends in wide:
        # A full sort measured 3x faster here than numpy's two-sided partition.
        part = np.sort(S[:, a:e], axis=-1)
        ext[:, :, k] = part[:, ends].reshape(-1, 2, q).sum(axis=-1) / np.float32(q)
    if not linear:
        ext = power_to_db(ext)
    out = ext[:, 1] - ext[:, 0]
    return out.reshape(lead + (len(ranges),))


def _contrast_one(x: np.ndarray, simple, idx, wide, linear: bool) -> np.ndarray:
    """:func:`contrast_from_bands` of one frame ``x`` [shape=(n_bins,)] (a live hop): the
    same reductions on 1-D arrays, without the 2-D gathers and scatters that cost most of a
    one-frame call. Equal to it within float32 round-off: the batch sums a wide band's
    ends in another order."""
    ext = np.empty((2, len(simple) + len(wide)), dtype=x.dtype)  # [valley, peak] per band
    if simple:
        # The narrow bands come first (a slice, not a gather) unless a layout says otherwise.
        at = slice(0, len(simple)) if simple[-1] == len(simple) - 1 else simple
        ext[0, at] = np.minimum.reduceat(x, idx)[::2]
        ext[1, at] = np.maximum.reduceat(x, idx)[::2]
    for k, a, e, q, _ in wide:
        part = np.sort(x[a:e])
        ext[0, k] = np.add.reduce(part[:q]) / np.float32(q)
        ext[1, k] = np.add.reduce(part[e - a - q :]) / np.float32(q)
    if not linear:
        ext = power_to_db(ext)
    return ext[1] - ext[0]


# -- energy of a power spectrum --------------------------------------------------------

def spectral_energy(P: np.ndarray, freqs_hz: np.ndarray | None = None, fmin_hz: float | None = None,
                    fmax_hz: float | None = None) -> np.ndarray:
    """Energy of a frame: the sum of its power spectrum, optionally within a band.

    ``sum_k P_k`` over all bins (broadband energy), or over the bins with
    ``fmin_hz <= f_k <= fmax_hz`` (band energy; an omitted limit is open). Units are the
    spectrum's power units: for fluxstream's (librosa's) unnormalised rFFT of a windowed
    frame, a sine of amplitude A away from DC and Nyquist gives ``A**2 N sum(w**2) / 4``
    (``3 A**2 N**2 / 32`` for a Hann window); the one-sided sum counts each non-DC,
    non-Nyquist bin once, so it is half of Parseval's ``N sum (w x)**2``. Silence gives 0.

    Parameters
    ----------
    P : ndarray [shape=(..., n_bins)], non-negative (power spectrum, ``|X|**2``)
    freqs_hz : ndarray [shape=(n_bins,)] [Hz], optional
        Needed only with ``fmin_hz`` or ``fmax_hz``.
    fmin_hz, fmax_hz : float [Hz], optional
        Inclusive band limits; the band must contain at least one bin.

    Returns
    -------
    energy : ndarray [shape=(...)] (power units)
    """
    P = _float(P)
    if fmin_hz is None and fmax_hz is None:
        return P.sum(axis=-1)
    if freqs_hz is None:
        raise ConfigError("fmin_hz/fmax_hz need freqs_hz (the bin frequencies, Hz)")
    f = _freqs(P, freqs_hz)
    lo = -np.inf if fmin_hz is None else _check_number("fmin_hz", fmin_hz, " (Hz)")
    hi = np.inf if fmax_hz is None else _check_number("fmax_hz", fmax_hz, " (Hz)")
    if hi < lo:
        raise ConfigError(f"fmax_hz={fmax_hz!r} must be >= fmin_hz={fmin_hz!r} (Hz)")
    band = (f >= lo) & (f <= hi)
    if not band.any():
        raise ConfigError(f"the band [fmin_hz={fmin_hz!r}, fmax_hz={fmax_hz!r}] Hz contains no bin")
    return P @ band.astype(P.dtype)


def band_energy_ratio(P: np.ndarray, freqs_hz: np.ndarray, split_hz: float,
                      amin: float = 1e-10) -> np.ndarray:
    """Band energy ratio: energy at or above ``split_hz`` over energy below it.

    ``sum_{f_k >= split} P_k / max(amin, sum_{f_k < split} P_k)`` (dimensionless). The floor
    makes every value finite: silence gives 0, and a frame with energy above the split but
    none below gives ``high / amin`` (large, finite).

    Parameters
    ----------
    P : ndarray [shape=(..., n_bins)], non-negative (power spectrum)
    freqs_hz : ndarray [shape=(n_bins,)] [Hz], ascending
    split_hz : float [Hz]
        Must leave at least one bin on each side: ``freqs_hz[0] < split_hz <= freqs_hz[-1]``.
    amin : float > 0
        Floor of the denominator (power units).

    Returns
    -------
    ratio : ndarray [shape=(...)] (dimensionless)
    """
    P = _float(P)
    f = _freqs(P, freqs_hz)
    split_hz = _check_number("split_hz", split_hz, " (Hz)")
    amin = _check_positive("amin", amin)
    if not (f.size and f[0] < split_hz <= f[-1]):
        raise ConfigError(
            f"split_hz={split_hz!r} must lie in (freqs_hz[0], freqs_hz[-1]] "
            f"= ({f[0] if f.size else float('nan'):g}, {f[-1] if f.size else float('nan'):g}] Hz"
        )
    s = int(np.searchsorted(f, split_hz, side="left"))
    high = np.asarray(P[..., s:].sum(axis=-1))
    low = np.asarray(P[..., :s].sum(axis=-1))
    np.maximum(low, P.dtype.type(amin), out=low)
    return np.divide(high, low, out=high)


def high_frequency_content(P: np.ndarray) -> np.ndarray:
    """High-frequency content: the power spectrum weighted by bin index (Masri 1996).

    ``sum_k k P_k`` over bins ``k = 0..K-1`` of the POWER spectrum (``|X|**2``; Masri's
    definition; some later uses weight the magnitude instead). Bin indices, not Hz, so the
    value depends on the FFT size. Silence gives 0.

    Parameters
    ----------
    P : ndarray [shape=(..., n_bins)], non-negative (power spectrum)

    Returns
    -------
    hfc : ndarray [shape=(...)] (power units x bins)

    References
    ----------
    P. Masri, "Computer modelling of sound for transformation and synthesis of musical
    signals", PhD thesis, University of Bristol, 1996.
    """
    P = _float(P)
    return P @ np.arange(P.shape[-1], dtype=P.dtype)


# -- change between frames -------------------------------------------------------------

def spectral_flux(S: np.ndarray, S_prev: np.ndarray, rectify: bool = True,
                  norm: float = 1) -> np.ndarray:
    """Spectral flux: the size of the change from the previous frame's spectrum.

    ``(sum_k H(S_k - S_prev_k)**norm) ** (1/norm)`` with ``H(x) = max(x, 0)`` (half-wave
    rectifier: only rising energy, the onset-detection form) when ``rectify``, else
    ``H(x) = |x|``. ``S`` and ``S_prev`` are in the same units (magnitude, or a compressed
    magnitude such as ``log(1 + lambda S)``). Silence (or no change) gives 0.

    Parameters
    ----------
    S, S_prev : ndarray [shape=(..., n_bins)] (broadcastable)
    rectify : bool
    norm : float > 0
        1: sum of changes (Bello et al. 2005, Dixon 2006), 2: Euclidean distance.

    Returns
    -------
    flux : ndarray [shape=(...)] (units of S)
    """
    norm = _check_positive("norm", norm)
    S = _float(S)
    d = np.subtract(S, S_prev, dtype=S.dtype)
    if rectify:
        np.maximum(d, 0, out=d)
    else:
        np.abs(d, out=d)
    if norm == 1.0:
        return d.sum(axis=-1)
    if norm == 2.0:
        out = np.asarray(np.einsum("...k,...k->...", d, d))
        return np.sqrt(out, out=out)
    np.power(d, d.dtype.type(norm), out=d)
    out = np.asarray(d.sum(axis=-1))
    return np.power(out, out.dtype.type(1.0 / norm), out=out)


def modified_kl(S: np.ndarray, S_prev: np.ndarray, eps: float = 1e-10) -> np.ndarray:
    """Modified Kullback-Leibler distance between consecutive spectra (Hainsworth &
    Macleod 2003, in Brossier's form) [nats].

    ``sum_k log(1 + S_k / (S_prev_k + eps))``. It rises with energy appearing where the
    previous frame had little. Its no-change value is not 0: a steady non-zero spectrum
    gives about ``K log 2``. Silence gives 0; energy after exact silence gives a large but
    finite value (``eps`` bounds the ratio).

    Parameters
    ----------
    S, S_prev : ndarray [shape=(..., n_bins)] (broadcastable), non-negative magnitudes
    eps : float > 0
        Added to ``S_prev`` so that silence before energy stays finite.

    Returns
    -------
    mkl : ndarray [shape=(...)] [nats]

    References
    ----------
    S. Hainsworth, M. Macleod, "Onset detection in musical audio signals", ICMC 2003.
    P. Brossier, "Automatic annotation of musical audio for interactive applications",
    PhD thesis, Queen Mary University of London, 2006.
    """
    eps = _check_positive("eps", eps)
    S = _float(S)
    den = np.add(S_prev, S.dtype.type(eps), dtype=S.dtype)
    np.divide(S, den, out=den)
    np.log1p(den, out=den)
    return den.sum(axis=-1)


class _FrameHistory:
    """The last frame of each channel, for the frame-difference stages.

    Allocated on the first frames (their shape is known only then) and reused after
    :meth:`clear`, which only marks it empty.
    """

    def __init__(self):
        self._last = np.zeros((0, 0), dtype=np.float32)
        self._scratch: np.ndarray | None = None
        self.clear()

    def clear(self) -> None:
        self._full = False

    def previous(self, X: np.ndarray) -> np.ndarray:
        """For frames ``X`` [shape=(C, n >= 1, K)], the frame before each (a new array:
        the remembered last frame, then ``X[:, :-1]``; the first frame ever is its own
        predecessor), and remember ``X[:, -1]``."""
        C, n, K = X.shape
        if n == 1 and self._full:  # a live hop: the remembered frame, then this one
            prev = self._last[:, None].copy()
            self._last[...] = X[:, 0]
            return prev
        if not self._full and (self._last.shape != (C, K) or self._last.dtype != X.dtype):
            self._last = np.empty((C, K), dtype=X.dtype)  # once per (re)configuration
        if not self._full:
            self._last[...] = X[:, 0]
            self._full = True
        prev = np.empty_like(X)
        prev[:, 0] = self._last
        prev[:, 1:] = X[:, :-1]
        self._last[...] = X[:, -1]
        return prev

    def scratch(self, x: np.ndarray) -> np.ndarray:
        """A work buffer shaped and typed as the one-channel frame ``x`` [shape=(K,)],
        kept between calls."""
        buf = self._scratch
        if buf is None or buf.shape != x.shape or buf.dtype != x.dtype:
            buf = self._scratch = np.empty_like(x)
        return buf

    def check(self, S: np.ndarray) -> np.ndarray:
        """``S`` as a floating (C, n, K) array that matches the remembered frame."""
        S = _float(S)
        if S.ndim != 3:
            raise ValueError(f"spectra shape {S.shape} must be (channels, n_frames, n_bins)")
        if self._full and self._last.shape != (S.shape[0], S.shape[2]):
            raise ValueError(
                f"spectra shape {S.shape} does not match (channels={self._last.shape[0]}, "
                f"n_frames, n_bins={self._last.shape[1]}) of the frames before: reset() first"
            )
        return S


class Flux:
    """Streaming spectral flux (:func:`spectral_flux`): each frame against the one before
    it, across calls.

    Parameters
    ----------
    rectify : bool
        Half-wave rectify the difference (rises only) instead of taking ``|.|``.
    norm : float > 0
        Order of the norm over bins (see :func:`spectral_flux`).
    log_compression : float >= 0
        ``lambda``: when > 0, every frame becomes ``log(1 + lambda S)`` before
        differencing (Klapuri 1999; the logarithmic flux of Böck & Widmer 2013).

    Attributes
    ----------
    causal : bool
        True.
    latency_samples : int
        0: a frame's value needs only that frame and the one before.
    hop : int
        1 frame: one value per input frame.

    Notes
    -----
    The first frame after construction or :meth:`reset` is compared with itself, so its
    flux is 0: there is no earlier frame, and "no change" is the neutral answer.

    Examples
    --------
    >>> import numpy as np
    >>> fl = Flux()
    >>> S = np.array([[[0, 0], [1, 2], [1, 0]]], dtype=np.float32)  # 1 channel, 3 frames, 2 bins
    >>> fl.process(S)
    array([[0., 3., 0.]], dtype=float32)

    Real-time notes
    ---------------
    Analysis thread. The one-frame history ``(channels, n_bins)`` is allocated on the first
    :meth:`process` call (the shape is known only then) and reused after :meth:`reset`;
    each call allocates its output and temporaries the size of its input, never anything
    that grows with the stream. Causal, no look-ahead. The result is a new array.
    """

    causal = True
    latency_samples = 0
    hop = 1

    def __init__(self, rectify: bool = True, norm: float = 1, log_compression: float = 0.0):
        self.rectify = bool(rectify)
        self.norm = _check_positive("norm", norm)
        lam = _check_number("log_compression", log_compression)
        if lam < 0:
            raise ConfigError(f"log_compression={log_compression!r} must be >= 0")
        self.log_compression = lam
        # The variant is chosen here, once, not by branching in process().
        self._compress = (lambda S: np.log1p(S * S.dtype.type(lam))) if lam > 0 else (lambda S: S)
        self._history = _FrameHistory()
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next frame is compared with itself. Reallocates nothing."""
        self._history.clear()

    def process(self, S: np.ndarray) -> np.ndarray:
        """Flux of each frame in ``S`` against the frame before it.

        Parameters
        ----------
        S : ndarray [shape=(channels, n_frames, n_bins)], non-negative magnitudes
            Any ``n_frames >= 0``; channels and bins fixed between resets.

        Returns
        -------
        flux : ndarray [shape=(channels, n_frames)], float32 for float32 input
        """
        S = self._history.check(S)
        if S.shape[1] == 0:
            return np.zeros(S.shape[:2], dtype=S.dtype)
        X = self._compress(S)
        h = self._history
        if (_jit.ENABLED and self.norm in (1.0, 2.0) and X.shape[:2] == (1, 1) and h._full
                and X.dtype == np.float32 and h._last.dtype == np.float32):
            # A live hop of one channel: one compiled pass, which also keeps the frame.
            x = np.ascontiguousarray(X).reshape(-1)
            v = frame_kernels.flux_hop(x, h._last.reshape(-1), self.rectify, self.norm == 2.0, h.scratch(x))
            return np.array([[np.sqrt(v) if self.norm == 2.0 else v]], dtype=np.float32)
        return spectral_flux(X, h.previous(X), rectify=self.rectify, norm=self.norm)


class ModifiedKL:
    """Streaming modified Kullback-Leibler distance (:func:`modified_kl`) between
    consecutive frames, across calls.

    Parameters
    ----------
    eps : float > 0
        Added to the previous frame's magnitudes.

    Attributes
    ----------
    causal : bool
        True.
    latency_samples : int
        0.
    hop : int
        1 frame.

    Notes
    -----
    The first frame after construction or :meth:`reset` is compared with itself. For this
    distance that is *not* 0 but its no-change value ``sum_k log(1 + S_k / (S_k + eps))``
    (about ``K log 2``), the value a steady spectrum keeps, so a stream that starts
    mid-note shows neither a spurious onset nor a spurious dip.

    Real-time notes
    ---------------
    As :class:`Flux`.
    """

    causal = True
    latency_samples = 0
    hop = 1

    def __init__(self, eps: float = 1e-10):
        self.eps = _check_positive("eps", eps)
        self._history = _FrameHistory()
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next frame is compared with itself. Reallocates nothing."""
        self._history.clear()

    def process(self, S: np.ndarray) -> np.ndarray:
        """Modified KL of each frame in ``S`` against the frame before it.

        Parameters
        ----------
        S : ndarray [shape=(channels, n_frames, n_bins)], non-negative magnitudes

        Returns
        -------
        mkl : ndarray [shape=(channels, n_frames)] [nats], float32 for float32 input
        """
        S = self._history.check(S)
        if S.shape[1] == 0:
            return np.zeros(S.shape[:2], dtype=S.dtype)
        h = self._history
        if _jit.ENABLED and S.shape[:2] == (1, 1) and h._full and S.dtype == np.float32 and h._last.dtype == np.float32:
            # A live hop of one channel: the ratios in one compiled pass (which also keeps
            # the frame), numpy's log1p and sum, as modified_kl rounds them.
            x = np.ascontiguousarray(S).reshape(-1)
            r = h.scratch(x)
            frame_kernels.mkl_ratio_hop(x, h._last.reshape(-1), np.float32(self.eps), r)
            np.log1p(r, out=r)
            return np.array([[frame_kernels.pairwise_sum32(r, 0, r.shape[0])]], dtype=np.float32)
        return modified_kl(S, h.previous(S), eps=self.eps)


# -- time-domain frames ----------------------------------------------------------------

def zero_crossing_rate(frames: np.ndarray, threshold: float = 1e-10) -> np.ndarray:
    """Zero-crossing rate: sign changes between consecutive samples of each frame, per
    sample (0..1).

    librosa's convention: a sample with ``|x| <= threshold`` counts as 0, and 0 counts as
    positive; a crossing is a sign change from ``x[n-1]`` to ``x[n]`` for ``n = 1..N-1``
    (the first sample is not counted), and the count is divided by ``N``. Silence gives 0.

    On frames from :func:`fluxstream.dsp.framing.frame_signal` (``center=True``) this
    equals ``librosa.feature.zero_crossing_rate(y, frame_length=N, hop_length=hop)`` on
    every frame that lies wholly inside the signal. The edge frames differ: fluxstream's
    shared frames are zero-padded (librosa's STFT convention), while librosa's zero-crossing
    rate pads with copies of the edge samples.

    Parameters
    ----------
    frames : ndarray [shape=(..., frame_length)]
    threshold : float >= 0
        Magnitudes at or below it count as 0 (compared in the frames' dtype).

    Returns
    -------
    zcr : ndarray [shape=(...)] (crossings per sample)
    """
    thr = _check_number("threshold", threshold)
    if thr < 0:
        raise ConfigError(f"threshold={threshold!r} must be >= 0")
    x = _float(frames)
    N = x.shape[-1]
    if N == 0:
        return np.zeros(x.shape[:-1], dtype=x.dtype)
    if _jit.ENABLED and x.size == N and x.dtype == np.float32 and x.flags.c_contiguous:  # a live hop
        n = frame_kernels.zero_crossings(x.reshape(-1), np.float32(thr))
        return np.full(x.shape[:-1], n, dtype=x.dtype) * x.dtype.type(1.0 / N)
    # Negative means below -threshold: values clipped to 0 (and -0.0) count as positive.
    neg = x < -x.dtype.type(thr)
    crossings = (neg[..., 1:] != neg[..., :-1]).sum(axis=-1)  # faster than count_nonzero(axis=)
    return np.asarray(crossings, dtype=x.dtype) * x.dtype.type(1.0 / N)


def peak_level(frames: np.ndarray) -> np.ndarray:
    """Peak level: ``max_n |x_n|`` over each frame (linear, full scale = 1). Silence: 0.

    Parameters
    ----------
    frames : ndarray [shape=(..., frame_length)], frame_length >= 1

    Returns
    -------
    peak : ndarray [shape=(...)] (linear amplitude)
    """
    x = _float(frames)
    # max(max x, -min x) = max |x| without an |x| temporary of the frames' size; it is
    # >= 0, so abs() only turns a silent frame's -0.0 into 0.0.
    out = np.asarray(np.maximum(x.max(axis=-1), -x.min(axis=-1)))
    return np.abs(out, out=out)


def harmonic_ratio(frames: np.ndarray, sample_rate: float, fmin_hz: float = 50.0,
                   fmax_hz: float = 1000.0) -> np.ndarray:
    """Harmonic ratio: the highest normalized autocorrelation at a pitch lag (0..1).

    ``max_{l in [ceil(sr/fmax), floor(sr/fmin)]} r(l) / r(0)``, clipped at 0, with
    ``r(l) = sum_{n=0}^{N-1-l} x_n x_{n+l}`` the (biased) autocorrelation of the
    unwindowed frame, computed by FFT zero-padded to at least ``N + l_max`` samples so that
    no lag wraps around. A periodic frame scores near 1, white noise near 0. Silence gives 0.

    The biased ``r`` carries the taper ``(N - l) / N``: a sine of period ``T`` samples
    scores about ``1 - T/N`` (0.98 for 1 kHz in 2048 samples at 48 kHz; 0.77 for 100 Hz),
    so use frames several periods of ``fmin_hz`` long. DC counts as periodic at every lag
    and scores ``1 - l_min/N``. (MPEG-7's HarmonicRatio normalizes each lag by the energy of
    the overlapping parts instead, which removes the taper but lets a short overlap score
    high on noise.)

    Parameters
    ----------
    frames : ndarray [shape=(..., frame_length)]
    sample_rate : float > 0 [Hz]
    fmin_hz : float > 0 [Hz]
        Lowest fundamental searched (longest lag); lags are capped at ``frame_length - 1``.
    fmax_hz : float [Hz], fmin_hz < fmax_hz <= sample_rate / 2
        Highest fundamental searched (shortest lag).

    Returns
    -------
    ratio : ndarray [shape=(...)] (dimensionless, 0..1)
    """
    sr = _check_positive("sample_rate", sample_rate, " (Hz)")
    fmin_hz = _check_positive("fmin_hz", fmin_hz, " (Hz)")
    fmax_hz = _check_positive("fmax_hz", fmax_hz, " (Hz)")
    if not fmin_hz < fmax_hz <= sr / 2:
        raise ConfigError(
            f"fmax_hz={fmax_hz:g} must be > fmin_hz={fmin_hz:g} and <= "
            f"sample_rate/2={sr / 2:g} (Hz)"
        )
    x = _float(frames)
    N = x.shape[-1]
    # The small tolerance keeps exact ratios (48000/1000 = 48) from rounding the wrong way.
    lag_lo = max(1, math.ceil(sr / fmax_hz - 1e-9))
    lag_hi = min(math.floor(sr / fmin_hz + 1e-9), N - 1)
    if lag_lo > lag_hi:
        raise ConfigError(
            f"no lag to search: fmax_hz={fmax_hz:g} and fmin_hz={fmin_hz:g} give lags "
            f"{lag_lo}..{math.floor(sr / fmin_hz + 1e-9)} samples but frame_length={N} allows "
            f"at most {N - 1}"
        )
    L = scipy.fft.next_fast_len(N + lag_hi, real=True)
    X = scipy.fft.rfft(x, n=L, axis=-1)
    pw = X.real * X.real
    pw += X.imag * X.imag
    r = scipy.fft.irfft(pw, n=L, axis=-1)[..., lag_lo:lag_hi + 1]
    best = r.max(axis=-1).astype(x.dtype, copy=False)
    r0 = np.einsum("...k,...k->...", x, x)
    out = _safe_divide(best, r0, 0.0)
    return np.clip(out, 0.0, 1.0, out=out)
