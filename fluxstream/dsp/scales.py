"""Frequency scales: Hz <-> mel, Bark, ERB-rate, octaves, log2, and band edges on a scale.

Every conversion is a pure, vectorized function: it takes a scalar or an array (any shape),
computes in float64 and returns float64 of the same shape (a numpy float64 scalar for a
scalar input). Conversions never validate their input, as numpy's ufuncs: a frequency
outside a scale's domain gives the formula's value (``nan``, ``inf``), and 0 Hz on a
logarithmic scale gives ``-inf`` without a warning.

Map
---
hz_to_mel, mel_to_hz          Slaney (default) or HTK mel, equal to librosa's
hz_to_bark, bark_to_hz        Traunmüller (1990) Bark, exact inverse pair
hz_to_erb, erb_to_hz          Glasberg & Moore (1990) ERB-rate (ERB number, "Cams")
erb_bandwidth                 Glasberg & Moore (1990) equivalent rectangular bandwidth [Hz]
hz_to_octave, octave_to_hz    octaves above A440/16 with a tuning, as librosa's hz_to_octs
hz_to_scale, scale_to_hz      dispatch on a name from :data:`SCALES`
mel_frequencies               librosa.mel_frequencies
band_edges                    n_bands + 2 points equally spaced on a scale [Hz]
octave_n_bands                how many bands of 1/bins_per_octave octave fit in fmin..fmax
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..errors import ConfigError

__all__ = [
    "SCALES",
    "hz_to_mel",
    "mel_to_hz",
    "hz_to_bark",
    "bark_to_hz",
    "hz_to_erb",
    "erb_to_hz",
    "erb_bandwidth",
    "hz_to_octave",
    "octave_to_hz",
    "hz_to_scale",
    "scale_to_hz",
    "mel_frequencies",
    "band_edges",
    "octave_n_bands",
]

#: Scale names understood by :func:`hz_to_scale`, :func:`scale_to_hz` and
#: :func:`band_edges`. ``"linear"`` and ``"linspace"`` are both Hz itself (the filterbank
#: gives ``"linear"`` its own meaning: the identity over FFT bins).
SCALES = ("linear", "linspace", "mel", "bark", "erb", "octave", "log")

# Slaney's mel (Auditory Toolbox): 200/3 Hz per mel below 1 kHz, then a constant ratio of
# 6.4 per 27 mels. Written from the published constants, evaluated in the same order as
# librosa so that both give the same float64 values.
_F_SP = 200.0 / 3.0
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = math.log(6.4) / 27.0

# Traunmüller (1990): z = 26.81 f / (1960 + f) - 0.53.
_BARK_A, _BARK_B, _BARK_C = 26.81, 1960.0, 0.53

# Glasberg & Moore (1990): ERB(f) = 24.7 (4.37e-3 f + 1) Hz; its integral 1/ERB gives the
# ERB-rate 21.4 log10(1 + 4.37e-3 f).
_ERB_K = 4.37e-3
_ERB_RATE = 21.4
_ERB_L = 24.7

# Relative slack when counting whole octave steps, so that a range of exactly k steps (up to
# float64 round-off in log2) counts as k, not k - 1.
_STEP_SLACK = 1e-9


def _f64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _out(y: np.ndarray):
    # A 0-d result becomes a numpy float64 scalar, as numpy's ufuncs return for scalars.
    return y[()] if y.ndim == 0 else y


# --- conversions -------------------------------------------------------------------------


def hz_to_mel(f, htk: bool = False):
    """Frequency to mel.

    Parameters
    ----------
    f : float or ndarray [shape=(...)] [Hz]
    htk : bool
        False: Slaney's mel (linear below 1 kHz, logarithmic above); True: the HTK formula.

    Returns
    -------
    mel : float64 or ndarray [shape=(...), dtype=float64] [mel]

    Notes
    -----
    Slaney: ``m = f / (200/3)`` for f < 1000 Hz, ``m = 15 + ln(f / 1000) / (ln(6.4) / 27)``
    above (continuous at 1 kHz = 15 mel). HTK: ``m = 2595 log10(1 + f / 700)``. Both equal
    ``librosa.hz_to_mel(f, htk=htk)``.

    References
    ----------
    Slaney, M. (1998). Auditory Toolbox, version 2. Interval Research Corp. TR 1998-010.
    Young, S. et al. (2006). The HTK Book, version 3.4, section 5.4.

    Examples
    --------
    >>> round(float(hz_to_mel(1000.0)), 9), round(float(hz_to_mel(1000.0, htk=True)), 3)
    (15.0, 999.986)
    """
    f = _f64(f)
    if htk:
        return _out(2595.0 * np.log10(1.0 + f / 700.0))
    lin = f / _F_SP
    # np.maximum keeps log() away from f <= 0 in the branch np.where discards.
    log = _MIN_LOG_MEL + np.log(np.maximum(f, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return _out(np.where(f >= _MIN_LOG_HZ, log, lin))


def mel_to_hz(m, htk: bool = False):
    """Mel to frequency, the inverse of :func:`hz_to_mel`.

    Parameters
    ----------
    m : float or ndarray [shape=(...)] [mel]
    htk : bool
        False: Slaney's mel; True: HTK.

    Returns
    -------
    f : float64 or ndarray [shape=(...), dtype=float64] [Hz]

    Notes
    -----
    Slaney: ``f = (200/3) m`` below 15 mel, ``f = 1000 exp((ln(6.4) / 27) (m - 15))`` above.
    HTK: ``f = 700 (10^(m / 2595) - 1)``. Both equal ``librosa.mel_to_hz(m, htk=htk)``.
    """
    m = _f64(m)
    if htk:
        return _out(700.0 * (10.0 ** (m / 2595.0) - 1.0))
    lin = _F_SP * m
    log = _MIN_LOG_HZ * np.exp(_LOGSTEP * (np.maximum(m, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return _out(np.where(m >= _MIN_LOG_MEL, log, lin))


def hz_to_bark(f):
    """Frequency to critical-band rate (Bark), Traunmüller's formula.

    Parameters
    ----------
    f : float or ndarray [shape=(...)] [Hz]

    Returns
    -------
    z : float64 or ndarray [shape=(...), dtype=float64] [Bark]

    Notes
    -----
    ``z = 26.81 f / (1960 + f) - 0.53``, without Traunmüller's optional end corrections
    (below 2 Bark and above 20.1 Bark): the corrected curve is only piecewise smooth and its
    inverse is not the formula's, so leaving them out keeps :func:`bark_to_hz` an exact
    inverse (round trips to float64 round-off). 0 Hz is -0.53 Bark.

    References
    ----------
    Traunmüller, H. (1990). Analytical expressions for the tonotopic sensory scale.
    J. Acoust. Soc. Am. 88(1), 97-100.

    Examples
    --------
    >>> round(float(hz_to_bark(1000.0)), 3)
    8.527
    """
    f = _f64(f)
    return _out(_BARK_A * f / (_BARK_B + f) - _BARK_C)


def bark_to_hz(z):
    """Bark to frequency, the exact inverse of :func:`hz_to_bark`.

    Parameters
    ----------
    z : float or ndarray [shape=(...)] [Bark], < 26.28 (the formula's asymptote)

    Returns
    -------
    f : float64 or ndarray [shape=(...), dtype=float64] [Hz]

    Notes
    -----
    Solving ``z + 0.53 = 26.81 f / (1960 + f)`` for f:
    ``f = 1960 (z + 0.53) / (26.28 - z)``.
    """
    z = _f64(z)
    zc = z + _BARK_C
    return _out(_BARK_B * zc / (_BARK_A - zc))


def hz_to_erb(f):
    """Frequency to ERB-rate (the number of ERBs below f, "Cam").

    Parameters
    ----------
    f : float or ndarray [shape=(...)] [Hz]

    Returns
    -------
    e : float64 or ndarray [shape=(...), dtype=float64] [ERB number]

    Notes
    -----
    ``e = 21.4 log10(1 + 4.37e-3 f)``, the integral of 1 / :func:`erb_bandwidth`.

    References
    ----------
    Glasberg, B. R. & Moore, B. C. J. (1990). Derivation of auditory filter shapes from
    notched-noise data. Hearing Research 47, 103-138 (eqs. 3 and 4).

    Examples
    --------
    >>> round(float(hz_to_erb(1000.0)), 2)
    15.62
    """
    f = _f64(f)
    return _out(_ERB_RATE * np.log10(1.0 + _ERB_K * f))


def erb_to_hz(e):
    """ERB-rate to frequency, the inverse of :func:`hz_to_erb`.

    Parameters
    ----------
    e : float or ndarray [shape=(...)] [ERB number]

    Returns
    -------
    f : float64 or ndarray [shape=(...), dtype=float64] [Hz]

    Notes
    -----
    ``f = (10^(e / 21.4) - 1) / 4.37e-3``.
    """
    e = _f64(e)
    return _out((10.0 ** (e / _ERB_RATE) - 1.0) / _ERB_K)


def erb_bandwidth(f):
    """Equivalent rectangular bandwidth of the auditory filter centred at f.

    Parameters
    ----------
    f : float or ndarray [shape=(...)] [Hz]

    Returns
    -------
    erb_hz : float64 or ndarray [shape=(...), dtype=float64] [Hz]

    Notes
    -----
    ``ERB(f) = 24.7 (4.37e-3 f + 1)`` Hz (Glasberg & Moore 1990, eq. 3).

    Examples
    --------
    >>> round(float(erb_bandwidth(1000.0)), 1)
    132.6
    """
    f = _f64(f)
    return _out(_ERB_L * (_ERB_K * f + 1.0))


def _a440_16(tuning: float, bins_per_octave: int) -> float:
    # The reference 0 octaves: A440 detuned by `tuning` bins, four octaves down (A0 ~ 27.5 Hz).
    return 440.0 * 2.0 ** (tuning / bins_per_octave) / 16.0


def hz_to_octave(f, tuning: float = 0.0, bins_per_octave: int = 12):
    """Frequency to octaves above A440/16 (27.5 Hz at tuning 0).

    Parameters
    ----------
    f : float or ndarray [shape=(...)] [Hz], > 0
    tuning : float [fraction of a bin]
        Deviation of the reference A from 440 Hz, in fractions of a 1/bins_per_octave-octave
        bin (0.5 at 12 bins per octave = 50 cents sharp).
    bins_per_octave : int > 0

    Returns
    -------
    octaves : float64 or ndarray [shape=(...), dtype=float64] [octaves]
        ``-inf`` at 0 Hz.

    Notes
    -----
    ``o = log2(f / (440 * 2^(tuning / bins_per_octave) / 16))``, as ``librosa.hz_to_octs``.

    Examples
    --------
    >>> float(hz_to_octave(440.0))
    4.0
    """
    f = _f64(f)
    with np.errstate(divide="ignore"):  # 0 Hz -> -inf, the limit, is the documented answer
        return _out(np.log2(f / _a440_16(tuning, bins_per_octave)))


def octave_to_hz(o, tuning: float = 0.0, bins_per_octave: int = 12):
    """Octaves above A440/16 to frequency, the inverse of :func:`hz_to_octave`.

    Parameters
    ----------
    o : float or ndarray [shape=(...)] [octaves]
    tuning : float [fraction of a bin]
    bins_per_octave : int > 0

    Returns
    -------
    f : float64 or ndarray [shape=(...), dtype=float64] [Hz]

    Notes
    -----
    ``f = 440 * 2^(tuning / bins_per_octave) / 16 * 2^o``, as ``librosa.octs_to_hz``.
    """
    o = _f64(o)
    return _out(_a440_16(tuning, bins_per_octave) * 2.0 ** o)


def _hz_to_log2(f):
    f = _f64(f)
    with np.errstate(divide="ignore"):
        return _out(np.log2(f))


def _log2_to_hz(x):
    return _out(2.0 ** _f64(x))


def _check_scale(scale) -> str:
    if not isinstance(scale, str) or scale not in SCALES:
        raise ConfigError(f"scale={scale!r} is not a known scale; allowed: {', '.join(SCALES)}")
    return scale


def hz_to_scale(f, scale: str, *, htk: bool = False, bins_per_octave: int = 12, tuning: float = 0.0):
    """Frequency to a position on a named scale.

    Parameters
    ----------
    f : float or ndarray [shape=(...)] [Hz]
    scale : str
        One of :data:`SCALES`: ``"linear"``/``"linspace"`` (Hz itself), ``"mel"``
        (:func:`hz_to_mel`, uses ``htk``), ``"bark"``, ``"erb"``, ``"octave"``
        (:func:`hz_to_octave`, uses ``tuning`` and ``bins_per_octave``), ``"log"`` (log2 of
        Hz).
    htk, bins_per_octave, tuning
        Passed to the scales that use them, ignored by the others.

    Returns
    -------
    x : float64 or ndarray [shape=(...), dtype=float64] [scale units]

    Raises
    ------
    ConfigError
        Unknown scale.
    """
    scale = _check_scale(scale)
    if scale in ("linear", "linspace"):
        return _out(_f64(f).copy())
    if scale == "mel":
        return hz_to_mel(f, htk=htk)
    if scale == "bark":
        return hz_to_bark(f)
    if scale == "erb":
        return hz_to_erb(f)
    if scale == "octave":
        return hz_to_octave(f, tuning=tuning, bins_per_octave=bins_per_octave)
    return _hz_to_log2(f)


def scale_to_hz(x, scale: str, *, htk: bool = False, bins_per_octave: int = 12, tuning: float = 0.0):
    """Position on a named scale to frequency, the inverse of :func:`hz_to_scale`.

    Parameters
    ----------
    x : float or ndarray [shape=(...)] [scale units]
    scale : str
        One of :data:`SCALES`.
    htk, bins_per_octave, tuning
        As :func:`hz_to_scale`.

    Returns
    -------
    f : float64 or ndarray [shape=(...), dtype=float64] [Hz]

    Raises
    ------
    ConfigError
        Unknown scale.
    """
    scale = _check_scale(scale)
    if scale in ("linear", "linspace"):
        return _out(_f64(x).copy())
    if scale == "mel":
        return mel_to_hz(x, htk=htk)
    if scale == "bark":
        return bark_to_hz(x)
    if scale == "erb":
        return erb_to_hz(x)
    if scale == "octave":
        return octave_to_hz(x, tuning=tuning, bins_per_octave=bins_per_octave)
    return _log2_to_hz(x)


# --- validation helpers (shared with filterbank.py) ----------------------------------------


def _check_int(name: str, value, minimum: int, unit: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        u = f" ({unit})" if unit else ""
        raise ConfigError(f"{name}={value!r} must be an integer >= {minimum}{u}")
    return int(value)


def _check_real(name: str, value, constraint: str, unit: str = "Hz") -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        c = f" {constraint}" if constraint else ""
        raise ConfigError(f"{name}={value!r} must be a finite number{c} ({unit})")
    return float(value)


def _check_range(fmin_hz, fmax_hz, *, positive_fmin: bool = False, why: str = "") -> tuple[float, float]:
    lo = "> 0" if positive_fmin else ">= 0"
    fmin = _check_real("fmin_hz", fmin_hz, lo)
    if fmin < 0 or (positive_fmin and fmin == 0):
        raise ConfigError(f"fmin_hz={fmin_hz!r} must be {lo} (Hz){why}")
    fmax = _check_real("fmax_hz", fmax_hz, f"> fmin_hz={fmin_hz!r}")
    if not fmax > fmin:
        raise ConfigError(f"fmax_hz={fmax_hz!r} must be > fmin_hz={fmin_hz!r} (Hz)")
    return fmin, fmax


# --- band layouts --------------------------------------------------------------------------


def mel_frequencies(n_mels: int = 128, fmin_hz: float = 0.0, fmax_hz: float = 11025.0, htk: bool = False):
    """``n_mels`` frequencies equally spaced on the mel scale from fmin_hz to fmax_hz.

    Parameters
    ----------
    n_mels : int > 0
    fmin_hz : float >= 0 [Hz]
    fmax_hz : float > fmin_hz [Hz]
    htk : bool
        HTK mel instead of Slaney's.

    Returns
    -------
    freqs_hz : ndarray [shape=(n_mels,), dtype=float64] [Hz]

    Notes
    -----
    ``mel_to_hz(linspace(hz_to_mel(fmin_hz), hz_to_mel(fmax_hz), n_mels))``, equal to
    ``librosa.mel_frequencies(n_mels, fmin=fmin_hz, fmax=fmax_hz, htk=htk)`` (whose
    parameters are called ``fmin``/``fmax``; here they carry the unit, as everywhere in
    fluxstream). The end points are the round trip of fmin_hz and fmax_hz through the mel
    scale, equal to them to float64 round-off.

    Examples
    --------
    >>> mel_frequencies(3, 0.0, 8000.0).shape
    (3,)
    """
    n_mels = _check_int("n_mels", n_mels, 1)
    fmin, fmax = _check_range(fmin_hz, fmax_hz)
    mels = np.linspace(hz_to_mel(fmin, htk=htk), hz_to_mel(fmax, htk=htk), n_mels)
    return np.asarray(mel_to_hz(mels, htk=htk), dtype=np.float64)


def octave_n_bands(fmin_hz: float, fmax_hz: float, bins_per_octave: int = 12) -> int:
    """How many bands :func:`band_edges` makes on the octave scale when n_bands is not given.

    Parameters
    ----------
    fmin_hz : float > 0 [Hz]
    fmax_hz : float > fmin_hz [Hz]
    bins_per_octave : int > 0

    Returns
    -------
    n_bands : int >= 1

    Notes
    -----
    ``n_bands = floor(bins_per_octave * log2(fmax_hz / fmin_hz)) - 1``: the largest number of
    bands whose centres are at least 1/bins_per_octave octave apart, given that the
    ``n_bands + 2`` edges span fmin_hz..fmax_hz. When fmax_hz / fmin_hz is a whole number of
    steps (``fmin_hz * 2**(k / bins_per_octave)``, up to round-off) the spacing is exactly
    1/bins_per_octave octave; otherwise it is slightly wider.

    Raises
    ------
    ConfigError
        Bad range or bins_per_octave, or a range shorter than two steps (no band fits).

    Examples
    --------
    >>> octave_n_bands(27.5, 27.5 * 2 ** 7, 12)
    83
    """
    bins_per_octave = _check_int("bins_per_octave", bins_per_octave, 1)
    fmin, fmax = _check_range(fmin_hz, fmax_hz, positive_fmin=True, why=" on the octave scale")
    steps = bins_per_octave * math.log2(fmax / fmin)
    n = math.floor(steps * (1.0 + _STEP_SLACK)) - 1
    if n < 1:
        raise ConfigError(
            f"fmax_hz={fmax_hz!r} is less than two 1/{bins_per_octave}-octave steps above "
            f"fmin_hz={fmin_hz!r}: must be >= {fmin * 2.0 ** (2.0 / bins_per_octave):.6g} (Hz) for one band"
        )
    return n


def band_edges(
    scale: str,
    n_bands: int | None,
    fmin_hz: float,
    fmax_hz: float,
    *,
    htk: bool = False,
    bins_per_octave: int = 12,
    tuning: float = 0.0,
) -> np.ndarray:
    """Band edges equally spaced on a scale: ``n_bands + 2`` points from fmin_hz to fmax_hz.

    Band i spans ``edges[i]`` .. ``edges[i + 2]`` with its centre at ``edges[i + 1]``:
    librosa's mel-filter layout (``mel_frequencies(n_mels + 2, ...)``) on any scale, so that
    adjacent bands overlap by half and each band's centre is its neighbours' edge.

    Parameters
    ----------
    scale : str
        One of :data:`SCALES` (``"linear"`` and ``"linspace"`` are both equal spacing in Hz
        here).
    n_bands : int > 0, or None
        Number of bands. None only for ``scale="octave"``: :func:`octave_n_bands` bands.
    fmin_hz : float >= 0 [Hz]
        > 0 for ``"log"`` and ``"octave"`` (0 Hz is -inf octaves).
    fmax_hz : float > fmin_hz [Hz]
    htk : bool
        HTK mel (``scale="mel"`` only).
    bins_per_octave : int > 0
        ``scale="octave"`` only: sets the default n_bands and the scale's bin size.
    tuning : float [fraction of a bin]
        ``scale="octave"`` only. It moves the scale's zero, which shifts every position
        equally, so it does not change the edges (they are anchored at fmin_hz and fmax_hz).

    Returns
    -------
    edges_hz : ndarray [shape=(n_bands + 2,), dtype=float64] [Hz]
        Strictly increasing; ``edges_hz[0] == fmin_hz`` and ``edges_hz[-1] == fmax_hz``
        exactly (set, rather than left to the round trip through the scale, so that
        comparisons with fmax_hz and the Nyquist frequency are exact). Centres are
        ``edges_hz[1:-1]``.

    Raises
    ------
    ConfigError
        Unknown scale; fmin_hz < 0 (<= 0 for log/octave); fmax_hz <= fmin_hz; n_bands < 1
        or not an integer; so many bands that adjacent edges coincide in float64.

    Notes
    -----
    ``edges = scale_to_hz(linspace(hz_to_scale(fmin_hz), hz_to_scale(fmax_hz), n_bands + 2))``.
    For ``"mel"`` this equals ``librosa.mel_frequencies(n_bands + 2, fmin, fmax, htk)`` up to
    the exact end points. ``"log"`` and ``"octave"`` give the same edges (both are affine in
    log2 f); they differ only in that octave can derive n_bands.

    Examples
    --------
    >>> band_edges("linspace", 3, 0.0, 400.0)
    array([  0., 100., 200., 300., 400.])
    """
    scale = _check_scale(scale)
    log_like = scale in ("log", "octave")
    fmin, fmax = _check_range(fmin_hz, fmax_hz, positive_fmin=log_like,
                              why=f" for scale={scale!r} (log of 0 Hz is -inf)" if log_like else "")
    if scale == "octave":
        bins_per_octave = _check_int("bins_per_octave", bins_per_octave, 1)
        _check_real("tuning", tuning, "", unit="fraction of a bin")
        if n_bands is None:
            n_bands = octave_n_bands(fmin, fmax, bins_per_octave)
    if n_bands is None:
        raise ConfigError(f"n_bands=None is only allowed for scale='octave'; scale={scale!r} "
                          "needs an integer >= 1")
    n_bands = _check_int("n_bands", n_bands, 1)
    kw = dict(htk=htk, bins_per_octave=bins_per_octave, tuning=tuning)
    x = np.linspace(hz_to_scale(fmin, scale, **kw), hz_to_scale(fmax, scale, **kw), n_bands + 2)
    edges = np.asarray(scale_to_hz(x, scale, **kw), dtype=np.float64)
    edges[0], edges[-1] = fmin, fmax
    if not np.all(np.diff(edges) > 0):
        raise ConfigError(f"n_bands={n_bands} is too many for fmin_hz={fmin_hz!r}..fmax_hz={fmax_hz!r} "
                          f"on scale={scale!r}: adjacent band edges coincide in float64")
    return edges
