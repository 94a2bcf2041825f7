"""Onset detection functions (ODFs): one value per frame that rises where a note, a click
or any other event begins.

Every ODF here is a pure kernel over a whole frame matrix (frames on axis -2, frequency
last, any leading axes) and a stage that carries the few frames of history the kernel
needs across calls, so that streaming any partition of the frames equals one batch call.

Map
---
magnitude spectra in            :func:`energy_odf` / :class:`EnergyOdf`,
(``(C, n, n_bins)`` float32)    :func:`hfc_odf` / :class:`HfcOdf`,
                                :func:`spectral_flux_odf` / :class:`SpectralFluxOdf`,
                                :func:`superflux_odf` / :class:`SuperFluxOdf`
complex STFT in                 :func:`complex_domain_odf` / :class:`ComplexDomainOdf`,
(``(C, n, n_bins)`` complex64)  :func:`phase_deviation_odf` / :class:`PhaseDeviationOdf`
the same, per frequency band    :func:`band_odf` / :class:`BandOdf` (any of the six)

The modified Kullback-Leibler ODF is :class:`fluxstream.dsp.descriptors.ModifiedKL`; the
peak picker that turns an ODF into onsets is :class:`fluxstream.dsp.peaks.OnsetPicker`.

Conventions shared by every ODF
-------------------------------
- Start of stream: the frames before the first frame after construction or ``reset()``
  (or, for a kernel called with ``prev=None``, before its first frame) are taken to be
  copies of that first frame: the stream was steady before it began. Every ODF is
  therefore 0 on the first frame (the complex domain to float round-off, ``|X| * 1e-7``;
  the HFC, which needs no history, is not a difference). The next
  ``warmup_frames - 1`` values compare with those copies, so they are conventions too:
  for the phase-based ODFs the second frame assumes a zero phase advance and, on a steady
  tone, shows the tone's phase advance per hop. Each stage states ``warmup_frames`` as
  data; the picker's warm-up covers it.
- Causal, no look-ahead: ``latency_samples = 0``, one value per input frame (``hop = 1``
  frame).
- float32 (or complex64) in gives float32 out; float64 gives float64.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError
from .descriptors import high_frequency_content, spectral_flux
from .spectral import fft_frequencies

__all__ = [
    "energy_odf",
    "hfc_odf",
    "spectral_flux_odf",
    "superflux_odf",
    "complex_domain_odf",
    "phase_deviation_odf",
    "band_odf",
    "band_bin_ranges",
    "ODF_METHODS",
    "EnergyOdf",
    "HfcOdf",
    "SpectralFluxOdf",
    "SuperFluxOdf",
    "ComplexDomainOdf",
    "PhaseDeviationOdf",
    "BandOdf",
]

_TWO_PI = 2.0 * math.pi


# -- validation ------------------------------------------------------------------------

def _check_real(name: str, value, constraint: str, ok, unit: str = "") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or not ok(float(value)):
        raise ConfigError(f"{name}={value!r} must be a finite number {constraint}{unit}")
    return float(value)


def _check_int(name: str, value, low: int, unit: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ConfigError(f"{name}={value!r} must be an integer >= {low}{unit}")
    return int(value)


def _check_bool(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{name}={value!r} must be True or False")
    return bool(value)


def _log_compression(value) -> float:
    return _check_real("log_compression", value, ">= 0", lambda v: v >= 0)


def _out_dtype(X: np.ndarray) -> np.dtype:
    """float32 for float32/complex64 input, float64 otherwise."""
    return np.dtype(np.float32) if X.dtype in (np.float32, np.complex64) else np.dtype(np.float64)


def _as_magnitudes(S, ndim: int | None = None) -> np.ndarray:
    S = np.asarray(S)
    if S.dtype.kind == "c":
        raise ValueError("this ODF takes magnitudes (a real array); got a complex array: "
                         "pass np.abs(X), or use ComplexDomainOdf / PhaseDeviationOdf")
    if S.dtype.kind != "f":
        S = S.astype(np.float64)
    _check_frames_shape(S, ndim, "spectra")
    return S


def _as_complex(X, ndim: int | None = None) -> np.ndarray:
    X = np.asarray(X)
    if X.dtype.kind != "c":
        raise ValueError(f"this ODF takes the complex STFT; got dtype {X.dtype} (magnitudes carry "
                         "no phase)")
    _check_frames_shape(X, ndim, "spectra")
    return X


def _check_frames_shape(X: np.ndarray, ndim: int | None, what: str) -> None:
    if ndim is not None and X.ndim != ndim:
        raise ValueError(f"{what} shape {X.shape} must be (channels, n_frames, n_bins)")
    if ndim is None and X.ndim < 2:
        raise ValueError(f"{what} shape {X.shape} must be (..., n_frames, n_bins)")


# -- the maths of each ODF -------------------------------------------------------------
#
# A method turns new frames into "planes" (per-frame, per-bin arrays: a compressed
# spectrum, a phase, ...) once, and computes the ODF of frames m.. of planes that carry
# m = ``context`` earlier frames in front. ``compute`` takes a bin slice so that BandOdf
# runs the same maths per band; the transform always sees the whole spectrum.

class _Energy:
    context = 1
    complex_input = False

    def transform(self, S):
        return (S * S,)

    def compute(self, planes, m, sl):
        E = planes[0][..., sl].sum(axis=-1)
        d = E[..., m:] - E[..., m - 1 : -1]
        return np.maximum(d, 0, out=d)


class _Hfc:
    context = 0
    complex_input = False

    def __init__(self):
        self._k = {}  # bin-index weights per (n_bins, dtype), made once

    def transform(self, S):
        return (S * S,)

    def compute(self, planes, m, sl):
        P = planes[0]
        if sl == slice(None):
            return high_frequency_content(P)
        key = (P.shape[-1], P.dtype)
        k = self._k.get(key)
        if k is None:
            k = self._k[key] = np.arange(P.shape[-1], dtype=P.dtype)
        return P[..., sl] @ k[sl]  # global bin indices: a band keeps its place in the spectrum


class _Flux:
    context = 1
    complex_input = False

    def __init__(self, log_compression=1.0, rectify=True, norm=1):
        self.log_compression = lam = _log_compression(log_compression)
        self.rectify = _check_bool("rectify", rectify)
        self.norm = _check_real("norm", norm, "> 0", lambda v: v > 0)
        self.transform = (lambda S: (np.log1p(S * S.dtype.type(lam)),)) if lam > 0 else (lambda S: (S,))

    def compute(self, planes, m, sl):
        L = planes[0]
        return spectral_flux(L[..., m:, sl], L[..., m - 1 : -1, sl], rectify=self.rectify, norm=self.norm)


class _SuperFlux:
    complex_input = False

    def __init__(self, max_bins=3, lag=2, log_compression=1.0):
        self.max_bins = _check_int("max_bins", max_bins, 1, " (bins)")
        self.lag = self.context = _check_int("lag", lag, 1, " (frames)")
        self.log_compression = _log_compression(log_compression)

    def transform(self, S):
        lam = self.log_compression
        L = np.log1p(S * S.dtype.type(lam)) if lam > 0 else S
        return L, _max_filter(L, self.max_bins)

    def compute(self, planes, m, sl):
        L, R = planes
        n = L.shape[-2] - m
        return spectral_flux(L[..., m:, sl], R[..., m - self.lag : m - self.lag + n, sl], rectify=True, norm=1)


def _max_filter(L: np.ndarray, size: int) -> np.ndarray:
    """Maximum over ``size`` neighbouring bins (last axis), truncated at the edges:
    ``size // 2`` bins below and ``size - 1 - size // 2`` above (scipy's
    ``maximum_filter1d`` centring). Shifted maxima: a few vector operations for the small
    sizes used, where scipy's generic filter costs several microseconds per call."""
    if size == 1:
        return L
    R = L.copy()
    for d in range(1, size // 2 + 1):  # neighbours below: R[k] vs L[k - d]
        np.maximum(R[..., d:], L[..., :-d], out=R[..., d:])
    for d in range(1, size - size // 2):  # neighbours above: R[k] vs L[k + d]
        np.maximum(R[..., :-d], L[..., d:], out=R[..., :-d])
    return R


_TINY32 = np.finfo(np.float32).tiny


def _unit_phasors(X: np.ndarray, A: np.ndarray) -> np.ndarray:
    """``X / |X|``, and 1 (angle 0, as ``np.angle(0)``) where ``|X|`` is below float32's
    smallest normal number (silent bins)."""
    silent = A < _TINY32
    U = X / np.maximum(A, _TINY32)
    U += silent  # those bins are 0 here (|X| < tiny): make them 1
    return U


class _ComplexDomain:
    context = 2
    complex_input = True

    def __init__(self, rectify=False):
        self.rectify = _check_bool("rectify", rectify)
        # Planes: the spectrum X and its unit phasors U (and |X| for the rectified form).
        self.transform = self._with_magnitude if self.rectify else self._plain
        self.compute = self._rcd if self.rectify else self._cd

    @staticmethod
    def _plain(X):
        return X, _unit_phasors(X, np.abs(X))

    @staticmethod
    def _with_magnitude(X):
        A = np.abs(X)
        return X, _unit_phasors(X, A), A

    @staticmethod
    def _distance(planes, sl):
        """``|X_n - Xhat_n|`` per bin, with ``Xhat_n = |X_{n-1}| u_{n-1}^2 conj(u_{n-2}) =
        X_{n-1} u_{n-1} conj(u_{n-2})``: the phase extrapolation without trigonometry."""
        X, U = planes[0], planes[1]
        pred = X[..., 1:-1, sl] * U[..., 1:-1, sl]
        pred *= np.conj(U[..., :-2, sl])
        np.subtract(X[..., 2:, sl], pred, out=pred)
        return np.abs(pred)

    def _cd(self, planes, m, sl):
        return self._distance(planes, sl).sum(axis=-1)

    def _rcd(self, planes, m, sl):
        d = self._distance(planes, sl)
        A = planes[2]
        d *= A[..., 2:, sl] >= A[..., 1:-1, sl]  # Dixon's rectified form: bins that did not fall
        return d.sum(axis=-1)


class _PhaseDeviation:
    context = 2
    complex_input = True

    def __init__(self, weighted=False, normalized=False):
        self.weighted = _check_bool("weighted", weighted)
        self.normalized = _check_bool("normalized", normalized)
        if self.normalized and not self.weighted:
            raise ConfigError("normalized=True requires weighted=True (the normalised weighted "
                              "phase deviation divides by the mean magnitude)")
        self.transform = (lambda X: (np.angle(X), np.abs(X))) if self.weighted else (lambda X: (np.angle(X),))
        self.compute = (self._nwpd if self.normalized else self._wpd) if self.weighted else self._pd

    @staticmethod
    def _dev(phi, sl):
        d = phi[..., 1:-1, sl] * phi.dtype.type(-2.0)
        d += phi[..., 2:, sl]
        d += phi[..., :-2, sl]
        # princarg: wrap into [-pi, pi]
        k = d * d.dtype.type(1.0 / _TWO_PI)
        np.rint(k, out=k)
        k *= k.dtype.type(_TWO_PI)
        d -= k
        return np.abs(d, out=d)

    def _pd(self, planes, m, sl):
        return self._dev(planes[0], sl).mean(axis=-1)

    def _wpd(self, planes, m, sl):
        d = self._dev(planes[0], sl)
        d *= planes[1][..., 2:, sl]
        return d.mean(axis=-1)

    def _nwpd(self, planes, m, sl):
        d = self._dev(planes[0], sl)
        A = planes[1][..., 2:, sl]
        d *= A
        num = d.sum(axis=-1)
        den = A.sum(axis=-1)
        out = np.zeros_like(num)
        return np.divide(num, den, out=out, where=den > 0)  # silence: 0


#: ODF method names (for :class:`BandOdf`), their parameters and whether they take the
#: complex STFT.
ODF_METHODS = {
    "energy": ((), False),
    "hfc": ((), False),
    "flux": (("log_compression", "rectify", "norm"), False),
    "superflux": (("max_bins", "lag", "log_compression"), False),
    "complex": (("rectify",), True),
    "phase": (("weighted", "normalized"), True),
}
_FACTORIES = {"energy": _Energy, "hfc": _Hfc, "flux": _Flux, "superflux": _SuperFlux,
              "complex": _ComplexDomain, "phase": _PhaseDeviation}


def _make_method(method, params: dict):
    if not isinstance(method, str) or method not in ODF_METHODS:
        raise ConfigError(f"method={method!r} is not an ODF method; allowed: {', '.join(ODF_METHODS)}")
    allowed = ODF_METHODS[method][0]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ConfigError(f"unknown parameter(s) {', '.join(unknown)} for method={method!r}; allowed: "
                          f"{', '.join(allowed) if allowed else 'none'}")
    return _FACTORIES[method](**params)


# -- batch kernels ---------------------------------------------------------------------

def _extended(method, X, prev):
    """The method's planes of ``X`` with ``context`` frames in front: ``prev``'s last ones,
    or copies of ``X``'s first frame when ``prev`` is None."""
    planes = method.transform(X)
    m = method.context
    if m == 0:
        return planes
    if prev is None:
        front = tuple(np.repeat(p[..., :1, :], m, axis=-2) for p in planes)
    else:
        prev = np.asarray(prev)
        if prev.ndim != X.ndim or prev.shape[-2] < m or prev.shape[:-2] != X.shape[:-2] \
                or prev.shape[-1] != X.shape[-1]:
            raise ValueError(f"prev shape {prev.shape} must be (..., >= {m}, n_bins) matching X {X.shape}")
        front = method.transform(prev[..., prev.shape[-2] - m :, :].astype(X.dtype, copy=False))
    return tuple(np.concatenate((f, p), axis=-2) for f, p in zip(front, planes))


def _batch(method, X, prev, sl=slice(None)):
    if X.shape[-2] == 0:
        return np.zeros(X.shape[:-2] + (0,), dtype=_out_dtype(X))
    return method.compute(_extended(method, X, prev), method.context, sl)


def energy_odf(S: np.ndarray, *, prev: np.ndarray | None = None) -> np.ndarray:
    """Energy ODF: the rise of the frame energy, ``max(0, E_n - E_{n-1})``,
    ``E_n = sum_k S_{n,k}**2``.

    The rectified first difference (rises only), not the energy itself: a loud steady
    note gives 0, its attack a positive value.

    Parameters
    ----------
    S : ndarray [shape=(..., n_frames, n_bins)], non-negative magnitudes
    prev : ndarray [shape=(..., >= 1, n_bins)], optional
        Frames just before ``S[..., 0, :]`` (the last one is used). None: the start of a
        stream, the first frame compares with itself and gives 0.

    Returns
    -------
    odf : ndarray [shape=(..., n_frames)] (squared magnitude units)

    Examples
    --------
    >>> import numpy as np
    >>> energy_odf(np.array([[0, 0], [1, 1], [1, 0]], dtype=np.float32))
    array([0., 2., 0.], dtype=float32)
    """
    S = _as_magnitudes(S)
    return _batch(_Energy(), S, prev)


def hfc_odf(S: np.ndarray) -> np.ndarray:
    """High-frequency content ODF (Masri 1996): ``sum_k k |X_k|**2`` of each frame.

    :func:`fluxstream.dsp.descriptors.high_frequency_content` of the power ``S**2``: bin
    indices ``k = 0..n_bins-1`` weight the power, so broadband attacks (whose energy
    reaches the top of the spectrum) stand out. No history: the HFC of a loud steady
    note stays high, so it is used with an adaptive threshold (or differenced).

    Parameters
    ----------
    S : ndarray [shape=(..., n_frames, n_bins)], non-negative magnitudes

    Returns
    -------
    odf : ndarray [shape=(..., n_frames)] (squared magnitude units x bins)

    References
    ----------
    P. Masri, "Computer modelling of sound for transformation and synthesis of musical
    signals", PhD thesis, University of Bristol, 1996.
    """
    S = _as_magnitudes(S)
    return _batch(_Hfc(), S, None)


def spectral_flux_odf(S: np.ndarray, log_compression: float = 1.0, rectify: bool = True, norm: float = 1, *,
                      prev: np.ndarray | None = None) -> np.ndarray:
    """Spectral flux ODF: :func:`~fluxstream.dsp.descriptors.spectral_flux` between each
    frame and the one before, after logarithmic compression.

    ``(sum_k H(L_{n,k} - L_{n-1,k})**norm)**(1/norm)`` with ``L = log(1 + lambda S)``
    (``L = S`` when ``lambda = 0``) and ``H(x) = max(x, 0)`` (``|x|`` when not
    ``rectify``). The natural log: Böck & Widmer's ``log10`` scales the values by
    ``1/ln(10)`` (scale a threshold alike).

    Parameters
    ----------
    S : ndarray [shape=(..., n_frames, n_bins)], non-negative magnitudes
    log_compression : float >= 0
        ``lambda``.
    rectify : bool
    norm : float > 0
    prev : ndarray [shape=(..., >= 1, n_bins)], optional
        Raw frames just before ``S`` (the last is used); None: the first frame compares
        with itself (0).

    Returns
    -------
    odf : ndarray [shape=(..., n_frames)]

    References
    ----------
    S. Dixon, "Onset detection revisited", DAFx 2006. S. Böck, G. Widmer, "Maximum filter
    vibrato suppression for onset detection", DAFx 2013.
    """
    S = _as_magnitudes(S)
    return _batch(_Flux(log_compression, rectify, norm), S, prev)


def superflux_odf(S: np.ndarray, max_bins: int = 3, lag: int = 2, log_compression: float = 1.0, *,
                  prev: np.ndarray | None = None) -> np.ndarray:
    """SuperFlux ODF (Böck & Widmer 2013): spectral flux against a frequency-maximum-filtered
    reference ``lag`` frames back.

    ``SF_n = sum_k H(L_{n,k} - max_{|j-k| <= w} L_{n-lag,j})`` with ``L = log(1 + lambda S)``
    (``L = S`` when ``lambda = 0``, e.g. for an input already in dB), ``H(x) = max(x, 0)``
    and the maximum over ``max_bins`` neighbouring bins (``w = max_bins // 2`` each side
    for odd sizes; an even size spans ``max_bins // 2`` below and ``max_bins // 2 - 1``
    above, scipy's convention), truncated at the spectrum's edges. The maximum filter lets
    a partial move by up to ``w`` bins between the frames without counting as new energy,
    which suppresses vibrato; comparing with a frame ``lag`` frames back (more than one
    at high frame rates) keeps the rise of an attack from being split over frames. The method was
    designed for log-magnitude, log-frequency filtered spectra (24 bands per octave); it
    works on any magnitude or band input, but on linear FFT bins ``max_bins`` covers a
    fixed width in Hz rather than a fixed interval.

    Parameters
    ----------
    S : ndarray [shape=(..., n_frames, n_bins)], non-negative magnitudes (or dB with
        ``log_compression=0``)
    max_bins : int >= 1 [bins]
        Width of the maximum filter (1: none, plain flux at a lag).
    lag : int >= 1 [frames]
    log_compression : float >= 0
    prev : ndarray [shape=(..., >= lag, n_bins)], optional
        Raw frames just before ``S`` (the last ``lag`` are used); None: copies of the first
        frame (so the first frame gives 0, and frames 1..lag-1 compare with frame 0).

    Returns
    -------
    odf : ndarray [shape=(..., n_frames)]

    Notes
    -----
    ``librosa.onset.onset_strength(S=L.T, lag=lag, max_size=max_bins, center=False,
    detrend=False)`` is the same recipe with the mean over bins instead of the sum and zeros
    for frames ``0..lag-1``: on frames ``>= lag`` it equals ``superflux_odf(L,
    log_compression=0, ...) / n_bins``.

    References
    ----------
    S. Böck, G. Widmer, "Maximum filter vibrato suppression for onset detection", DAFx 2013.
    """
    S = _as_magnitudes(S)
    return _batch(_SuperFlux(max_bins, lag, log_compression), S, prev)


def complex_domain_odf(X: np.ndarray, rectify: bool = False, *, prev: np.ndarray | None = None) -> np.ndarray:
    """Complex-domain ODF (Duxbury et al. 2003, Bello et al. 2004): the distance between each
    frame and its prediction from the two frames before.

    ``CD_n = sum_k |X_{n,k} - Xhat_{n,k}|`` with the prediction
    ``Xhat_{n,k} = |X_{n-1,k}| exp(j (2 phi_{n-1,k} - phi_{n-2,k}))``: the previous
    magnitude and a phase advancing at the previous frame's rate. A steady partial is
    predicted well (0); a new one, or a change of magnitude or frequency, is not. Silent
    bins (magnitude below float32's smallest normal number) have phase 0 (``np.angle(0)``'s
    convention). With ``rectify`` (Dixon 2006's
    rectified complex domain) only bins whose magnitude did not fall,
    ``|X_{n,k}| >= |X_{n-1,k}|``, count: offsets are ignored.

    Parameters
    ----------
    X : ndarray [shape=(..., n_frames, n_bins), complex]
        Complex STFT frames.
    rectify : bool
    prev : ndarray [shape=(..., >= 2, n_bins), complex], optional
        Frames just before ``X`` (the last two are used); None: copies of the first frame,
        so frame 0 gives 0 and frame 1 is predicted with a zero phase advance.

    Returns
    -------
    odf : ndarray [shape=(..., n_frames)] (magnitude units)

    References
    ----------
    C. Duxbury, J. P. Bello, M. Davies, M. Sandler, "Complex domain onset detection for
    musical signals", DAFx 2003. J. P. Bello et al., "On the use of phase and energy for
    musical onset detection in the complex domain", IEEE SPL 11(6), 2004.
    """
    X = _as_complex(X)
    return _batch(_ComplexDomain(rectify), X, prev)


def phase_deviation_odf(X: np.ndarray, weighted: bool = False, normalized: bool = False, *,
                        prev: np.ndarray | None = None) -> np.ndarray:
    """Phase-deviation ODF (Bello & Sandler 2003; weighted forms of Dixon 2006).

    ``PD_n = mean_k |princarg(phi_{n,k} - 2 phi_{n-1,k} + phi_{n-2,k})|`` [rad]: the second
    difference of the phase, 0 for a steady partial (constant phase advance), large where
    the phase is new. ``princarg`` wraps into ``[-pi, pi]``. ``weighted``: each bin's term
    times ``|X_{n,k}|`` (WPD, in magnitude units x rad), which silences the random phases of
    empty bins; ``normalized`` (with ``weighted``): divided by ``mean_k |X_{n,k}|`` (NWPD,
    rad; a silent frame gives 0).

    Parameters
    ----------
    X : ndarray [shape=(..., n_frames, n_bins), complex]
    weighted, normalized : bool
        ``normalized=True`` requires ``weighted=True``.
    prev : ndarray [shape=(..., >= 2, n_bins), complex], optional
        Frames just before ``X`` (the last two are used); None: copies of the first frame.

    Returns
    -------
    odf : ndarray [shape=(..., n_frames)]

    References
    ----------
    J. P. Bello, M. Sandler, "Phase-based note onset detection for music signals", ICASSP
    2003. S. Dixon, "Onset detection revisited", DAFx 2006.
    """
    X = _as_complex(X)
    return _batch(_PhaseDeviation(weighted, normalized), X, prev)


# -- bands -----------------------------------------------------------------------------

def _check_freqs(freqs_hz) -> np.ndarray:
    f = np.asarray(freqs_hz, dtype=np.float64)
    if f.ndim != 1 or f.shape[0] < 1 or not np.all(np.isfinite(f)) or np.any(np.diff(f) <= 0):
        raise ConfigError(f"freqs_hz (shape {f.shape}) must be a non-empty 1-D array of finite, "
                          "strictly increasing frequencies (Hz)")
    return f


def _check_band_edges(edges_hz) -> np.ndarray:
    e = np.asarray(edges_hz, dtype=np.float64)
    if e.ndim != 1 or e.shape[0] < 2 or np.any(np.isnan(e)) or np.any(np.isinf(e[:-1])) \
            or np.any(np.diff(e) <= 0):
        raise ConfigError(f"edges_hz={tuple(np.atleast_1d(edges_hz).tolist())!r} must be >= 2 strictly "
                          "increasing frequencies (Hz), finite except a last edge of inf")
    return e


def band_bin_ranges(freqs_hz, edges_hz) -> list[tuple[int, int]]:
    """Bins of each band: ``[(lo, hi), ...]`` with ``edges_hz[i] <= freqs_hz[lo:hi] <
    edges_hz[i+1]``.

    Parameters
    ----------
    freqs_hz : ndarray [shape=(n_bins,)] [Hz], strictly increasing (bin centres, any scale)
    edges_hz : sequence of float [Hz], strictly increasing, the last may be ``inf``

    Raises
    ------
    ConfigError
        A band with no bin, or invalid frequencies or edges.
    """
    f = _check_freqs(freqs_hz)
    e = _check_band_edges(edges_hz)
    lo = np.searchsorted(f, e[:-1], side="left")
    hi = np.searchsorted(f, e[1:], side="left")
    for i, (a, b) in enumerate(zip(lo, hi)):
        if b <= a:
            raise ConfigError(f"edges_hz band {i} [{e[i]:g}, {e[i + 1]:g}) Hz contains no bin of freqs_hz: "
                              "widen the band or use a finer spectrum")
    return [(int(a), int(b)) for a, b in zip(lo, hi)]


def _default_freqs() -> np.ndarray:
    return fft_frequencies(48000, 2048)


def band_odf(X: np.ndarray, freqs_hz=None, edges_hz=(0.0, 200.0, 2000.0, math.inf), method: str = "flux", *,
             prev: np.ndarray | None = None, **params) -> np.ndarray:
    """One ODF per frequency band: the same detector on each band's bins.

    Each method's per-frame transform (compression, maximum filter, phase) runs on the whole
    spectrum, then its frame comparison and sum over bins run within each band: band ``b``
    of ``"flux"`` is the flux of bins ``edges_hz[b] <= f < edges_hz[b+1]``; of ``"energy"``
    the rise of that band's energy; of ``"hfc"`` the band's power weighted by the bins'
    global indices; of ``"phase"`` the mean over the band's bins. SuperFlux's maximum filter
    therefore sees the neighbouring bins across a band edge (the spectrum's own
    neighbourhood). Bins outside every band are ignored.

    Parameters
    ----------
    X : ndarray [shape=(..., n_frames, n_bins)]
        Magnitudes, or the complex STFT for ``method`` ``"complex"`` and ``"phase"``.
    freqs_hz : ndarray [shape=(n_bins,)] [Hz], optional
        Centre frequency of each input bin (FFT bins, or the centres of mel/log bands).
        Default: the 1025 bins of an n_fft=2048 FFT at 48 kHz.
    edges_hz : sequence of float [Hz]
        Strictly increasing band edges; the last may be ``inf``. Each band needs >= 1 bin.
    method : str
        One of :data:`ODF_METHODS`: ``"energy"``, ``"hfc"``, ``"flux"``, ``"superflux"``,
        ``"complex"``, ``"phase"``.
    prev : ndarray, optional
        Frames before ``X`` as for the method's kernel.
    **params
        The method's parameters (see :data:`ODF_METHODS`), e.g. ``log_compression``.

    Returns
    -------
    odf : ndarray [shape=(..., n_frames, n_bands)]
    """
    m = _make_method(method, params)
    freqs = _check_freqs(_default_freqs() if freqs_hz is None else freqs_hz)
    ranges = band_bin_ranges(freqs, edges_hz)
    X = _as_complex(X) if m.complex_input else _as_magnitudes(X)
    if X.shape[-1] != freqs.shape[0]:
        raise ValueError(f"spectra have {X.shape[-1]} bins but freqs_hz has {len(freqs)}")
    if X.shape[-2] == 0:
        return np.zeros(X.shape[:-2] + (0, len(ranges)), dtype=_out_dtype(X))
    planes = _extended(m, X, prev)
    return np.stack([m.compute(planes, m.context, slice(a, b)) for a, b in ranges], axis=-1)


# -- stages ----------------------------------------------------------------------------

class _History:
    """The last ``m`` frames of each plane before the new ones, in one buffer per plane
    ``(C, capacity, K)``; copies of the first frame at the start.

    :meth:`extend` writes the new frames behind the remembered ones and returns views of
    ``m + n`` frames; they stay valid until the next call (the ODF kernels only read them).
    Allocated on the first frames (their shape is known only then), grown once per new
    largest call, reused after :meth:`clear`, which only marks it empty.
    """

    def __init__(self, m: int):
        self.m = m
        self._bufs: list[np.ndarray] = []
        self.clear()

    def clear(self) -> None:
        self._full = False
        self._pos = self.m  # buffer column of the next new frame

    def check(self, X: np.ndarray) -> None:
        if self._full and self._bufs[0].shape[::2] != X.shape[::2]:
            C, _, K = self._bufs[0].shape
            raise ValueError(f"spectra shape {X.shape} does not match (channels={C}, n_frames, n_bins={K}) "
                             "of the frames before: reset() first")

    def extend(self, planes: tuple) -> tuple:
        """The planes of new frames (each (C, n >= 1, K)) with the m remembered frames in
        front (views), remembering the last m."""
        m = self.m
        if m == 0:
            return planes
        n = planes[0].shape[1]
        pos = self._pos
        if not self._full:
            if len(self._bufs) != len(planes) or self._bufs[0].shape[1] < m + n or any(
                    b.shape[::2] != p.shape[::2] or b.dtype != p.dtype for b, p in zip(self._bufs, planes)):
                # Once per (re)configuration: a new shape or dtype after reset().
                cap = m + max(n, 64)
                self._bufs = [np.empty((p.shape[0], cap, p.shape[2]), dtype=p.dtype) for p in planes]
            for b, p in zip(self._bufs, planes):
                b[:, :m] = p[:, :1]
            pos = m
            self._full = True
        elif pos + n > self._bufs[0].shape[1]:
            if m + n > self._bufs[0].shape[1]:  # rare: a call larger than any before
                cap = 2 * (m + n)
                new = [np.empty((b.shape[0], cap, b.shape[2]), dtype=b.dtype) for b in self._bufs]
                for nb, b in zip(new, self._bufs):
                    nb[:, :m] = b[:, pos - m : pos]
                self._bufs = new
            else:  # compact: the remembered frames back to the front
                for b in self._bufs:
                    b[:, :m] = b[:, pos - m : pos]
            pos = m
        for b, p in zip(self._bufs, planes):
            b[:, pos : pos + n] = p
        self._pos = pos + n
        return tuple(b[:, pos - m : pos + n] for b in self._bufs)


class _OdfStage:
    """Shared stage machinery: validate, transform the new frames once, prepend the history,
    compute. Subclasses set the method (and the bands) in ``__init__``."""

    causal = True
    latency_samples = 0
    hop = 1

    def _setup(self, method, ranges: list[tuple[int, int]] | None = None) -> None:
        self._method = method
        self.warmup_frames = method.context
        self._history = _History(method.context)
        self._as_input = _as_complex if method.complex_input else _as_magnitudes
        m = method.context
        # The variant (one band or several) is chosen here, not in process().
        if ranges is None:
            self._n_out = ()
            self._finish = lambda planes: method.compute(planes, m, slice(None))
        else:
            slices = [slice(a, b) for a, b in ranges]
            self._n_out = (len(slices),)
            self._finish = lambda planes: np.stack([method.compute(planes, m, sl) for sl in slices], axis=-1)
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next frame compares with copies of itself. Reallocates nothing."""
        self._history.clear()

    def _check_bins(self, X: np.ndarray) -> None:
        pass

    def process(self, X: np.ndarray) -> np.ndarray:
        """ODF of each frame in ``X``, using the frames of earlier calls.

        Parameters
        ----------
        X : ndarray [shape=(channels, n_frames, n_bins)]
            Magnitudes (float32), or the complex STFT (complex64) for the complex-domain
            and phase ODFs. Any ``n_frames >= 0``; channels and bins fixed between resets.

        Returns
        -------
        odf : ndarray [shape=(channels, n_frames)] (``(channels, n_frames, n_bands)`` for
            :class:`BandOdf`), float32 for float32/complex64 input; a new array.
        """
        X = self._as_input(X, 3)
        self._check_bins(X)
        self._history.check(X)
        if X.shape[1] == 0:
            return np.zeros(X.shape[:2] + self._n_out, dtype=_out_dtype(X))
        return self._finish(self._history.extend(self._method.transform(X)))


class EnergyOdf(_OdfStage):
    """Streaming energy ODF (:func:`energy_odf`): the rise of the frame energy.

    Parameters
    ----------
    (none)

    Attributes
    ----------
    causal : bool
        True.
    latency_samples : int
        0: a frame's value needs only that frame and the one before.
    hop : int
        1 frame: one value per input frame.
    warmup_frames : int
        1: frame 0 after :meth:`reset` compares with itself (its value is 0).

    Notes
    -----
    ``max(0, E_n - E_{n-1})`` with ``E_n = sum_k S_{n,k}**2``. Cheap and robust for
    percussive sounds in quiet backgrounds; blind to a new note that does not raise the
    total energy.

    Examples
    --------
    >>> import numpy as np
    >>> S = np.array([[[0, 0], [1, 1], [1, 0]]], dtype=np.float32)  # 1 channel, 3 frames, 2 bins
    >>> EnergyOdf().process(S)
    array([[0., 2., 0.]], dtype=float32)

    Real-time notes
    ---------------
    Analysis thread. The history (one frame of power, ``(channels, n_bins)``) is allocated
    on the first :meth:`process` call (the shape is known only then) and reused after
    :meth:`reset`; each call allocates its output and temporaries the size of its input plus
    the history, never anything that grows with the stream. Causal, no look-ahead, latency
    0. The result is a new array.
    """

    def __init__(self):
        self._setup(_Energy())


class HfcOdf(_OdfStage):
    """Streaming high-frequency content (:func:`hfc_odf`, Masri 1996): ``sum_k k S_k**2``.

    Parameters
    ----------
    (none)

    Attributes
    ----------
    causal : bool
        True.
    latency_samples : int
        0.
    hop : int
        1 frame.
    warmup_frames : int
        0: the HFC of a frame needs no other frame.

    Notes
    -----
    Stateless (kept as a stage so every ODF has the same interface). The value is the
    level of high-frequency energy, not its change: pair it with the picker's adaptive
    threshold.

    Examples
    --------
    >>> import numpy as np
    >>> HfcOdf().process(np.array([[[1, 1, 2]]], dtype=np.float32))  # 0*1 + 1*1 + 2*4
    array([[9.]], dtype=float32)

    Real-time notes
    ---------------
    Analysis thread. No history; each call allocates its output and a power temporary the
    size of its input. Causal, latency 0. The result is a new array.
    """

    def __init__(self):
        self._setup(_Hfc())


class SpectralFluxOdf(_OdfStage):
    """Streaming spectral-flux ODF (:func:`spectral_flux_odf`) on a log-compressed spectrum.

    Parameters
    ----------
    log_compression : float >= 0
        ``lambda`` of ``log(1 + lambda S)`` (0: no compression, e.g. for dB input).
    rectify : bool
        Rises only (the onset form) instead of ``|.|``.
    norm : float > 0
        Order of the norm over bins (1: sum).

    Attributes
    ----------
    causal : bool
        True.
    latency_samples : int
        0.
    hop : int
        1 frame.
    warmup_frames : int
        1: frame 0 compares with itself (0).

    Notes
    -----
    ``(sum_k H(L_{n,k} - L_{n-1,k})**norm)**(1/norm)``, ``L = log(1 + lambda S)``: the
    same values as :class:`fluxstream.dsp.descriptors.Flux` with these parameters (whose
    kernel it uses), with a default compression of 1 (Böck & Widmer 2013's logarithmic
    flux, natural log). On a dB mel spectrogram with ``log_compression=0`` it is ``n_mels``
    times ``librosa.onset.onset_strength(S=..., lag=1, max_size=1, center=False,
    detrend=False)`` from frame 1 on.

    Examples
    --------
    >>> import numpy as np
    >>> S = np.array([[[0, 0], [1, 2], [1, 0]]], dtype=np.float32)
    >>> SpectralFluxOdf(log_compression=0.0).process(S)
    array([[0., 3., 0.]], dtype=float32)

    Real-time notes
    ---------------
    Analysis thread. The history (one compressed frame, ``(channels, n_bins)``) is allocated
    on the first :meth:`process` call (the shape is known only then) and reused after
    :meth:`reset`; each call allocates its output and temporaries the size of its input plus
    the history, never anything that grows with the stream. Causal, no look-ahead, latency
    0. The result is a new array.
    """

    def __init__(self, log_compression: float = 1.0, rectify: bool = True, norm: float = 1):
        self._setup(_Flux(log_compression, rectify, norm))
        self.log_compression = self._method.log_compression
        self.rectify = self._method.rectify
        self.norm = self._method.norm


class SuperFluxOdf(_OdfStage):
    """Streaming SuperFlux ODF (:func:`superflux_odf`, Böck & Widmer 2013).

    Parameters
    ----------
    max_bins : int >= 1 [bins]
        Width of the maximum filter over frequency applied to the reference frame.
    lag : int >= 1 [frames]
        The reference is the frame ``lag`` frames back.
    log_compression : float >= 0
        ``lambda`` of ``log(1 + lambda S)`` (0: use the input as it is, e.g. dB).

    Attributes
    ----------
    causal : bool
        True.
    latency_samples : int
        0: the reference frame is in the past.
    hop : int
        1 frame.
    warmup_frames : int
        ``lag``: frames ``0..lag-1`` compare with copies of frame 0 (frame 0 gives 0).

    Notes
    -----
    ``SF_n = sum_k H(L_{n,k} - max_{|j-k| <= max_bins//2} L_{n-lag,j})``. Designed for
    log-magnitude spectra on a logarithmic frequency axis (Böck & Widmer use 24 bands per
    octave, where 3 bins cover the width of a vibrato); it works on any magnitude or band
    input, with ``max_bins`` then covering a different interval. Suppresses the false
    onsets that vibrato and tremolo give plain flux.

    Examples
    --------
    >>> import numpy as np
    >>> S = np.zeros((1, 4, 5), np.float32); S[0, 1:, 2] = 1; S[0, 3, 1] = 1  # a partial moves by a bin
    >>> SuperFluxOdf(lag=1, log_compression=0.0).process(S)
    array([[0., 1., 0., 0.]], dtype=float32)

    Real-time notes
    ---------------
    Analysis thread. The history (``lag`` compressed and filtered frames, ``(channels, lag,
    n_bins)`` each) is allocated on the first :meth:`process` call (the shape is known only
    then) and reused after :meth:`reset`; each call allocates its output and temporaries the
    size of its input plus the history, never anything that grows with the stream. Causal,
    no look-ahead, latency 0. The result is a new array.
    """

    def __init__(self, max_bins: int = 3, lag: int = 2, log_compression: float = 1.0):
        self._setup(_SuperFlux(max_bins, lag, log_compression))
        self.max_bins, self.lag = self._method.max_bins, self._method.lag
        self.log_compression = self._method.log_compression


class ComplexDomainOdf(_OdfStage):
    """Streaming complex-domain ODF (:func:`complex_domain_odf`, Duxbury/Bello).

    Parameters
    ----------
    rectify : bool
        Dixon's rectified complex domain: only bins whose magnitude did not fall count.

    Attributes
    ----------
    causal : bool
        True.
    latency_samples : int
        0.
    hop : int
        1 frame.
    warmup_frames : int
        2: frame 0 gives 0; frame 1 is predicted from frame 0 with a zero phase advance.

    Notes
    -----
    ``sum_k |X_{n,k} - |X_{n-1,k}| exp(j(2 phi_{n-1,k} - phi_{n-2,k}))|``, computed with
    unit phasors ``u = X / |X|`` as ``X_{n-1} u_{n-1} conj(u_{n-2})`` instead of
    trigonometric functions.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.exp(1j * 0.3 * np.arange(5))[None, :, None].astype(np.complex64)  # a steady partial
    >>> np.round(ComplexDomainOdf().process(X), 3)
    array([[0.   , 0.299, 0.   , 0.   , 0.   ]], dtype=float32)

    Real-time notes
    ---------------
    Analysis thread. The history (two frames of spectrum, magnitude and phasor, ``(channels,
    2, n_bins)`` each) is allocated on the first :meth:`process` call (the shape is known
    only then) and reused after :meth:`reset`; each call allocates its output and
    temporaries the size of its input plus the history, never anything that grows with the
    stream. Causal, no look-ahead, latency 0. The result is a new array.
    """

    def __init__(self, rectify: bool = False):
        self._setup(_ComplexDomain(rectify))
        self.rectify = self._method.rectify


class PhaseDeviationOdf(_OdfStage):
    """Streaming phase-deviation ODF (:func:`phase_deviation_odf`, Bello & Sandler 2003,
    Dixon 2006).

    Parameters
    ----------
    weighted : bool
        Weight each bin's deviation by its magnitude (WPD).
    normalized : bool
        Divide the weighted deviation by the mean magnitude (NWPD); requires ``weighted``.

    Attributes
    ----------
    causal : bool
        True.
    latency_samples : int
        0.
    hop : int
        1 frame.
    warmup_frames : int
        2: frame 0 gives 0; frame 1 shows the phase advance from frame 0.

    Notes
    -----
    ``mean_k w_k |princarg(phi_{n,k} - 2 phi_{n-1,k} + phi_{n-2,k})|`` with ``w = 1``,
    ``|X_{n,k}|``, or ``|X_{n,k}| / mean_j |X_{n,j}|``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.exp(1j * 0.3 * np.arange(5))[None, :, None].astype(np.complex64)
    >>> np.round(PhaseDeviationOdf().process(X), 3)
    array([[0. , 0.3, 0. , 0. , 0. ]], dtype=float32)

    Real-time notes
    ---------------
    Analysis thread. The history (two frames of phase (and magnitude), ``(channels, 2,
    n_bins)`` each) is allocated on the first :meth:`process` call (the shape is known only
    then) and reused after :meth:`reset`; each call allocates its output and temporaries the
    size of its input plus the history, never anything that grows with the stream. Causal,
    no look-ahead, latency 0. The result is a new array.
    """

    def __init__(self, weighted: bool = False, normalized: bool = False):
        self._setup(_PhaseDeviation(weighted, normalized))
        self.weighted, self.normalized = self._method.weighted, self._method.normalized


class BandOdf(_OdfStage):
    """Streaming ODF per frequency band (:func:`band_odf`): any of the six detectors on each
    band's bins, one column per band.

    Parameters
    ----------
    freqs_hz : ndarray [shape=(n_bins,)] [Hz], optional
        Centre frequency of each input bin, strictly increasing (FFT bins, or the band
        centres of a mel/log spectrum). Default: the 1025 bins of n_fft=2048 at 48 kHz.
    edges_hz : sequence of float [Hz]
        Strictly increasing band edges; the last may be ``inf``. A band holds the bins with
        ``edges_hz[b] <= f < edges_hz[b+1]`` and must hold at least one.
    method : str
        One of ``"energy"``, ``"hfc"``, ``"flux"``, ``"superflux"``, ``"complex"``,
        ``"phase"`` (:data:`ODF_METHODS`).
    **params
        The method's parameters, e.g. ``log_compression=1.0`` for ``"flux"``; unknown names
        raise :class:`~fluxstream.errors.ConfigError` listing the allowed ones.

    Attributes
    ----------
    causal : bool
        True.
    latency_samples : int
        0.
    hop : int
        1 frame.
    warmup_frames : int
        The method's (see its stage).
    n_bands : int
    bin_ranges : list of (int, int)
        ``(lo, hi)`` input bins of each band.

    Notes
    -----
    The per-frame transform runs once on the whole spectrum and only the comparison and
    the sum run per band (see :func:`band_odf`), so the cost is about one full-band ODF.

    Examples
    --------
    >>> import numpy as np
    >>> odf = BandOdf()                      # flux in 0-200, 200-2000, 2000+ Hz
    >>> odf.process(np.ones((1, 3, 1025), np.float32)).shape
    (1, 3, 3)

    Real-time notes
    ---------------
    Analysis thread. The history (the method's, ``(channels, context, n_bins)``) is
    allocated on the first :meth:`process` call (the shape is known only then) and reused
    after :meth:`reset`; each call allocates its output and temporaries the size of its
    input plus the history, never anything that grows with the stream. Causal, no look-
    ahead, latency 0. The result is a new array.
    """

    def __init__(self, freqs_hz=None, edges_hz=(0.0, 200.0, 2000.0, math.inf), method: str = "flux", **params):
        m = _make_method(method, params)
        self.method = method
        self.freqs_hz = _check_freqs(_default_freqs() if freqs_hz is None else freqs_hz)
        self.edges_hz = _check_band_edges(edges_hz)
        self.bin_ranges = band_bin_ranges(self.freqs_hz, self.edges_hz)
        self.n_bands = len(self.bin_ranges)
        self._setup(m, self.bin_ranges)

    def _check_bins(self, X: np.ndarray) -> None:
        if X.shape[2] != self.freqs_hz.shape[0]:
            raise ValueError(f"spectra shape {X.shape} has {X.shape[2]} bins but freqs_hz has "
                             f"{self.freqs_hz.shape[0]}")
