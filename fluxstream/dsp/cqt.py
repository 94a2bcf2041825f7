"""Constant-Q and variable-Q transforms frame by frame, and constant-Q chroma (CQT, CENS).

Map
---
pure helpers            :func:`cqt_frequencies`, :func:`cqt_lengths`, :func:`vqt_gamma`,
                        :func:`cqt_filter_cutoff`, :func:`halfband_lowpass`,
                        :func:`decimate_halfband`, :func:`cqt_octave_kernels`
transform               :class:`Cqt` (frames -> CQT/VQT, also :meth:`Cqt.transform` for a
                        whole signal), :func:`cqt_batch` (the direct batch reference)
chroma                  :func:`cq_to_chroma_matrix`, :func:`chroma_from_cq`,
                        :class:`ChromaCqt` (stateless), :func:`cens_quantize`,
                        :func:`cens_smoothing_window`, :func:`chroma_cens_batch`,
                        :class:`ChromaCens` (stateful, delayed by ``win_len_smooth // 2``
                        frames)

Method
------
The transform is librosa's multirate CQT (Schörkhuber & Klapuri 2010) written as a pure
function of one centred frame. Bins are grouped in octaves from the top (``bins_per_octave``
bins each; the lowest may be partial). Octave ``o`` is computed at decimation level ``l_o =
e + o``: the signal is halved ``l_o`` times by a zero-phase 31-tap Kaiser half-band lowpass
(:func:`halfband_lowpass`: passband 0..0.125 of the input rate flat to 5e-6, stopband from
0.375 below -108 dB), and ``e`` is librosa's early-downsampling count (how many halvings the
top octave's bandwidth allows; 0 at 22.05 kHz, 1 at 44.1 kHz for the defaults). At level
``l`` (rate ``sr / 2**l``) each bin has librosa's kernel: a windowed complex exponential of
``Q sr_l / (f + gamma / alpha)`` samples, normalised by ``norm``, centred in
``n_l = 2**ceil(log2(longest))`` samples, transformed and sparsified (``sparsity``: the
smallest spectral coefficients holding that fraction of each kernel's L1 mass are dropped)
exactly as librosa builds its ``fft_basis``; its inner product with the spectrum of the
``n_l`` level-``l`` samples centred on the frame's reference time is, by Parseval, a real
time-domain inner product, which is what is stored (:func:`cqt_octave_kernels`) and applied
by one matrix product per octave. ``scale=True`` divides by ``sqrt(length)`` as librosa.

All bins of frame ``k`` refer to the same time ``k * hop_length``: every kernel is centred on
the frame's centre sample ``frame_length // 2``. The decimation grid is anchored at that
centre, so a frame needs nothing but itself (the stage is stateless) and ``frame_length``
is the exact support of the longest effective kernel (sparsified kernel tails and the
decimators' reach included), rounded up to an even length. :meth:`Cqt.transform` runs the
same cascade once over a whole signal (file mode, ~30x faster than framing at 22.05 kHz):
the same decimated samples bit for bit and the same numbers as :meth:`Cqt.process` on the
engine's frames to float32 round-off (the matrix products sum in another order) when
``hop_length`` is a multiple of ``2 ** max(level)``; otherwise it frames the signal in
chunks and calls :meth:`Cqt.process`.

Latency
-------
Long kernels for low bins, so their latency is larger. A bin's kernel reaches
``bin_latency_samples = ceil(length / 2)`` samples after the frame's reference time (its
window's half length; the sparsified kernel tails and the decimators' reach extend the
exact support to ``frame_length // 2``, with small weights). Defaults
(``fmin_hz`` = C1, 84 bins, 12 per octave, ``filter_scale=1``, ``gamma=0``) at 22050 Hz:

=========  ===========  ==============  =================  ============
octave     bins         f [Hz]          length [samples]   latency [ms]
=========  ===========  ==============  =================  ============
C1-B1      0-11         32.7-61.7       11686-6191         265.0-140.4
C2-B2      12-23        65.4-123.5      5843-3096          132.5-70.2
C3-B3      24-35        130.8-246.9     2922-1548          66.3-35.1
C4-B4      36-47        261.6-493.9     1461-774           33.2-17.6
C5-B5      48-59        523.3-987.8     731-387            16.6-8.8
C6-B6      60-71        1046.5-1975.5   366-194            8.3-4.4
C7-B7      72-83        2093.0-3951.1   183-97             4.2-2.2
=========  ===========  ==============  =================  ============

(lengths rounded up; ``latency_samples`` = 5843; ``frame_length`` = 18274 samples, 829 ms.
At 44100 Hz the lengths in samples double, the latencies in ms are the same, and
``frame_length`` = 36578.)

Conventions vs librosa
----------------------
- Same frequencies, lengths, kernels, sparsification, normalisation, ``scale`` and octave
  levels as ``librosa.vqt`` (``cqt`` is ``gamma=0``), with ``pad_mode='constant'`` (the
  engine's frames are zero before the stream start and after its end).
- Resampler: librosa halves the rate with soxr (``res_type='soxr_hq'``); here a fixed
  half-band FIR. Both are flat in the analysed band: on music-like signals (tests and
  ``benchmarks/bench_cqt.py``) the per-frame correlation of dB magnitudes is >= 0.999 and
  the level ratio 1.000 (bins within 40 dB of the peak agree to 1 %) on interior frames.
- Edges: librosa resamples the unpadded signal and truncates each octave's signal to
  ``ceil(n / 2)`` samples, dropping the decimation filter's smear before the start and
  after the end; here (frame by frame, so necessarily) the zeros outside the stream are
  filtered like the rest, which is the exact inner product with the zero-padded signal.
  With abrupt starts or ends the low bins of the first and last ``latency_samples /
  hop_length`` frames differ (dB correlation >= 0.95 there, ~0.996 typically).
- librosa also limits early downsampling by the two-factors of ``hop_length`` and stops
  halving when the per-octave hop becomes odd; the frame stage knows no hop, so the levels
  follow the bandwidth rule only. For ``hop_length`` with enough factors of two (512 with
  the defaults) this is librosa's choice.
- ``tuning`` must be given (librosa's ``tuning=None`` estimates it from the signal).

Complexity
----------
Per frame and channel: the cascade, ~``frame_length`` multiply-adds per tap pair (8 pairs),
i.e. ~1.5e5 at 22.05 kHz, and one ``(n_l, 2 * bins_per_octave)`` real matrix product per
octave (~4e4): 0.2-0.3 ms per hop at 22.05/44.1 kHz (p99 < 0.5 ms). :meth:`Cqt.transform`
decimates the whole signal once (~8 pairs per input sample) and runs the octave products as
batched matrix products: ``O(N)`` in the signal length instead of ``O(N * frame_length /
hop)``; 30 s at 22.05 kHz in ~6 ms, ~6x faster than ``librosa.cqt``.

References
----------
J. C. Brown, "Calculation of a constant Q spectral transform", JASA 89(1), 1991.
C. Schörkhuber, A. Klapuri, "Constant-Q transform toolbox for music processing", SMC 2010.
M. Müller, F. Kurth, M. Clausen, "Audio matching via chroma-based statistical features",
ISMIR 2005 (CENS).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError
from ._checks import as_signal as _as_signal
from ._checks import check_int as _int_at_least
from ._checks import check_positive as _positive
from ._checks import check_real as _real
from .chroma import normalize_frames
from .fft import BACKENDS, default_backend
from .framing import frame_signal, n_frames_for
from .windows import WINDOWS, parse_window, periodic_window

__all__ = [
    "C1_HZ",
    "cqt_frequencies",
    "cqt_lengths",
    "vqt_gamma",
    "cqt_filter_cutoff",
    "halfband_lowpass",
    "decimate_halfband",
    "cqt_octave_kernels",
    "cqt_batch",
    "Cqt",
    "cq_to_chroma_matrix",
    "chroma_from_cq",
    "ChromaCqt",
    "cens_quantize",
    "cens_smoothing_window",
    "chroma_cens_batch",
    "ChromaCens",
]

#: C1 in Hz (MIDI 24 at A440), librosa's default ``fmin`` of the CQT.
C1_HZ = 32.703195662574764

# CENS quantisation (Müller et al. 2005), as librosa: a value above each step adds 1/4.
_CENS_STEPS = (0.4, 0.2, 0.1, 0.05)
_CENS_WEIGHT = 0.25

# The half-band decimator: 31 taps, Kaiser beta 11 (passband 0..0.125 of the input rate
# flat to 5e-6; stopband 0.375..0.5 below -108 dB). librosa's early-downsampling rule keeps
# every octave's bandwidth below a quarter of its level's rate, i.e. 0.125 of the rate the
# decimator sees; aliases from 0.375..0.5 fold onto 0.25..0.5 of the output rate, above it.
_HB_TAPS = 31
_HB_BETA = 11.0
# Frames per matrix product: OpenBLAS runs sgemm single-threaded below M*N*K = 2**18
# (here 32 * 24 * 256 at 12 bins per octave), the engine's one-thread-per-stage model.
_ROWS = 32


# -- validation ------------------------------------------------------------------------

def _check_norm(name: str, norm):
    if norm is None:
        return None
    if not isinstance(norm, bool) and isinstance(norm, (int, float, np.integer, np.floating)):
        for ok in (1.0, 2.0, np.inf):
            if float(norm) == ok:
                return ok if ok == np.inf else int(ok)
    raise ConfigError(f"{name}={norm!r} is not supported: must be one of 1, 2, inf, None")


def _check_window(window) -> tuple[str, tuple[float, ...]]:
    name, params = parse_window(window)
    return WINDOWS[name][0], params


def _as_float32(x) -> np.ndarray:
    x = np.asarray(x)
    return x if x.dtype == np.float32 else x.astype(np.float32)


# -- pure helpers ----------------------------------------------------------------------

def cqt_frequencies(n_bins: int, fmin_hz: float, bins_per_octave: int = 12, tuning: float = 0.0) -> np.ndarray:
    """Centre frequencies of a constant-Q transform.

    Parameters
    ----------
    n_bins : int >= 1
    fmin_hz : float > 0 [Hz]
        Frequency of bin 0 before the tuning correction.
    bins_per_octave : int >= 1
    tuning : float [fraction of a bin]
        Deviation from A440 tuning.

    Returns
    -------
    freqs_hz : ndarray [shape=(n_bins,), dtype=float64] [Hz]

    Notes
    -----
    ``f_k = fmin_hz * 2^(tuning / bins_per_octave) * 2^(k / bins_per_octave)``, as
    ``librosa.cqt_frequencies``.

    Examples
    --------
    >>> cqt_frequencies(3, 440.0).round(2).tolist()
    [440.0, 466.16, 493.88]
    """
    n_bins = _int_at_least("n_bins", n_bins, 1, "bins")
    fmin = _positive("fmin_hz", fmin_hz, "Hz")
    bpo = _int_at_least("bins_per_octave", bins_per_octave, 1, "bins per octave")
    tuning = _real("tuning", tuning, "fraction of a bin")
    correction = 2.0 ** (tuning / bpo)
    return correction * fmin * 2.0 ** (np.arange(n_bins, dtype=np.float64) / bpo)


def _alpha(bins_per_octave: int) -> float:
    # Relative bandwidth of geometrically spaced bins: (1 + a) f_{k-1} = (1 - a) f_{k+1}.
    r2 = 2.0 ** (2.0 / bins_per_octave)
    return (r2 - 1.0) / (r2 + 1.0)


def vqt_gamma(bins_per_octave: int = 12) -> float:
    """The VQT bandwidth offset of librosa's ``gamma=None``: ``24.7 * alpha / 0.108`` [Hz],
    which makes each bandwidth proportional to the ERB (Glasberg & Moore 1990).

    Parameters
    ----------
    bins_per_octave : int >= 1

    Returns
    -------
    gamma : float [Hz]
    """
    bpo = _int_at_least("bins_per_octave", bins_per_octave, 1, "bins per octave")
    return 24.7 * _alpha(bpo) / 0.108


def cqt_lengths(freqs_hz, sample_rate: float, bins_per_octave: int = 12, filter_scale: float = 1.0,
                gamma: float | None = 0.0) -> np.ndarray:
    """Kernel lengths of a constant-Q (``gamma=0``) or variable-Q transform.

    Parameters
    ----------
    freqs_hz : array_like [shape=(n_bins,)] [Hz], > 0
    sample_rate : float > 0 [Hz]
    bins_per_octave : int >= 1
        Sets the relative bandwidth ``alpha = (2^(2/b) - 1) / (2^(2/b) + 1)``.
    filter_scale : float > 0
        Longer (> 1) or shorter kernels.
    gamma : float >= 0 or None [Hz]
        Bandwidth offset; None is the ERB rule :func:`vqt_gamma`.

    Returns
    -------
    lengths : ndarray [shape=(n_bins,), dtype=float64] [samples, fractional]

    Notes
    -----
    ``Q = filter_scale / alpha``, ``length = Q * sample_rate / (f + gamma / alpha)``, as
    ``librosa.filters.wavelet_lengths`` for geometrically spaced frequencies.

    Examples
    --------
    >>> float(cqt_lengths([440.0], 22050).round(1)[0])
    868.5
    """
    f = np.asarray(freqs_hz, dtype=np.float64)
    if f.ndim != 1 or f.size == 0 or not np.all(np.isfinite(f)) or np.any(f <= 0):
        raise ConfigError(f"freqs_hz must be a non-empty 1-d array of finite frequencies > 0 (Hz), got {f!r}")
    sr = _positive("sample_rate", sample_rate, "Hz")
    bpo = _int_at_least("bins_per_octave", bins_per_octave, 1, "bins per octave")
    fs = _positive("filter_scale", filter_scale, "relative kernel length")
    alpha = _alpha(bpo)
    g = vqt_gamma(bpo) if gamma is None else _real("gamma", gamma, "Hz")
    if g < 0:
        raise ConfigError(f"gamma={gamma!r} must be >= 0 or None (Hz)")
    Q = fs / alpha
    return Q * sr / (f + g / alpha)


def _window_bandwidth(kind: str, params: tuple[float, ...]) -> float:
    # Equivalent noise bandwidth in bins (librosa's window_bandwidth, n = 1000).
    w = periodic_window(kind, params, 1000)
    return 1000.0 * float(np.sum(w**2)) / float(np.sum(w) ** 2)


def cqt_filter_cutoff(freqs_hz, bins_per_octave: int = 12, filter_scale: float = 1.0,
                      gamma: float | None = 0.0, window: str = "hann") -> float:
    """Highest frequency reached by the kernels' main lobes (librosa's ``f_cutoff``).

    ``max(f * (1 + 0.5 * B_w / Q) + gamma / 2)`` with ``B_w`` the window's equivalent noise
    bandwidth in bins (1.5 for Hann). It must not exceed the Nyquist frequency.

    Returns
    -------
    f_cutoff : float [Hz]
    """
    f = np.asarray(freqs_hz, dtype=np.float64)
    bpo = _int_at_least("bins_per_octave", bins_per_octave, 1, "bins per octave")
    g = vqt_gamma(bpo) if gamma is None else float(gamma)
    Q = float(filter_scale) / _alpha(bpo)
    kind, params = _check_window(window)
    return float(np.max(f * (1.0 + 0.5 * _window_bandwidth(kind, params) / Q) + 0.5 * g))


def halfband_lowpass() -> np.ndarray:
    """The decimators' zero-phase half-band lowpass (31 taps, Kaiser beta 11, unit DC gain).

    Taps at even offsets other than 0 are exactly zero. Passband 0..0.125 of the input rate
    flat to 5e-6, stopband 0.375..0.5 below -108 dB.

    Returns
    -------
    taps : ndarray [shape=(31,), dtype=float64]
        Tap ``i`` is at offset ``i - 15`` samples.
    """
    n = np.arange(_HB_TAPS) - (_HB_TAPS - 1) // 2
    g = 0.5 * np.sinc(n / 2.0) * np.kaiser(_HB_TAPS, _HB_BETA)
    g[(n % 2 == 0) & (n != 0)] = 0.0
    return g / g.sum()


_HB = halfband_lowpass()
_HB_HALF = (_HB_TAPS - 1) // 2
_HB_CENTRE = np.float32(_HB[_HB_HALF])
_HB_PAIRS = tuple((j, np.float32(_HB[_HB_HALF + j])) for j in range(1, _HB_HALF + 1, 2))


def decimate_halfband(y: np.ndarray, y_start: int, start: int, stop: int) -> np.ndarray:
    """Halve the rate: ``z[q] = sum_j g[j] y[2 q - j]`` for ``q`` in ``start .. stop - 1``.

    Sample indices are absolute on each grid: ``y[..., i]`` is sample ``y_start + i``, and
    output sample ``q`` sits at input sample ``2 q`` (zero phase, no delay), so grids nested
    by this function stay anchored at sample 0.

    Parameters
    ----------
    y : ndarray [shape=(..., n), dtype=float32]
        Must hold samples ``2 * start - 15 .. 2 * (stop - 1) + 15``.
    y_start : int
        Absolute index of ``y[..., 0]``.
    start, stop : int
        Output range (absolute, at half the rate).

    Returns
    -------
    z : ndarray [shape=(..., stop - start), dtype=float32]

    Notes
    -----
    Elementwise float32 operations in a fixed order, so a sample's value does not depend on
    the span computed around it (frames and whole signals give identical samples).
    """
    m = stop - start
    s = 2 * start - y_start
    if s - _HB_HALF < 0 or s + 2 * (m - 1) + _HB_HALF >= y.shape[-1]:
        raise ValueError(f"decimate_halfband: input covers {y_start}..{y_start + y.shape[-1] - 1}, "
                         f"needs {2 * start - _HB_HALF}..{2 * (stop - 1) + _HB_HALF}")
    e = s + 2 * m - 1
    out = y[..., s:e:2] * _HB_CENTRE
    tmp = np.empty_like(out)
    for j, gj in _HB_PAIRS:
        np.add(y[..., s - j:e - j:2], y[..., s + j:e + j:2], out=tmp)
        tmp *= gj
        out += tmp
    return out


def _sparsify_rows(K: np.ndarray, quantile: float) -> np.ndarray:
    # Drop, per row, the smallest coefficients holding `quantile` of the row's L1 mass
    # (librosa.util.sparsify_rows' rule, applied densely).
    if quantile <= 0:
        return K
    mags = np.abs(K)
    norms = mags.sum(axis=1, keepdims=True)
    srt = np.sort(mags, axis=1)
    cum = np.cumsum(srt / np.where(norms > 0, norms, 1.0), axis=1)
    idx = np.argmin(cum < quantile, axis=1)
    thresh = srt[np.arange(K.shape[0]), idx][:, None]
    return np.where(mags >= thresh, K, 0.0)


def cqt_octave_kernels(freqs_hz, rate_hz: float, bins_per_octave: int = 12, filter_scale: float = 1.0,
                       gamma: float | None = 0.0, window: str = "hann", norm=1,
                       sparsity: float = 0.01) -> np.ndarray:
    """Time-domain kernels of one octave at one rate, equal to librosa's sparse ``fft_basis``.

    Each bin's kernel is ``exp(2j pi f t / rate)`` over ``arange(floor(-L/2), floor(L/2))``
    times the periodic window, normalised by ``norm``, centred in ``n = 2^ceil(log2(max L))``
    samples, scaled by ``L / n``, transformed; the non-negative-frequency half is sparsified
    (``sparsity``) to ``K``. Applied to the spectrum ``X`` of the ``n`` samples starting
    ``n/2`` before the reference time, ``sum_k K[k] X[k] = sum_j h[j] x[j]`` with
    ``h[j] = sum_k K[k] exp(-2j pi j k / n)``, which is returned.

    Parameters
    ----------
    freqs_hz : array_like [shape=(n_bins,)] [Hz]
    rate_hz : float > 0 [Hz]
        Sample rate at which the kernels run.
    bins_per_octave, filter_scale, gamma, window, norm, sparsity
        As :class:`Cqt`.

    Returns
    -------
    h : ndarray [shape=(n_bins, n), dtype=complex128]
        ``h[b, j]`` multiplies the sample ``j - n/2`` samples after the reference time.
    """
    f = np.asarray(freqs_hz, dtype=np.float64)
    L = cqt_lengths(f, rate_hz, bins_per_octave, filter_scale, gamma)
    kind, params = _check_window(window)
    n = 1 << int(math.ceil(math.log2(max(float(L.max()), 1.0))))
    basis = np.zeros((f.size, n), dtype=np.complex128)
    for b, (ilen, fb) in enumerate(zip(L, f)):
        t = np.arange(math.floor(-ilen / 2.0), math.floor(ilen / 2.0), dtype=np.float64)
        sig = np.exp(2j * np.pi * fb / rate_hz * t) * periodic_window(kind, params, t.size)
        if norm == 1:
            s = np.sum(np.abs(sig))
        elif norm == 2:
            s = np.sqrt(np.sum(np.abs(sig) ** 2))
        elif norm == np.inf:
            s = np.max(np.abs(sig))
        else:
            s = 1.0
        if s > np.finfo(np.float64).tiny:
            sig = sig / s
        lpad = (n - t.size) // 2
        basis[b, lpad:lpad + t.size] = sig * (ilen / n)
    K = np.fft.fft(basis, axis=1)[:, : n // 2 + 1]
    K = _sparsify_rows(K, sparsity)
    full = np.zeros((f.size, n), dtype=np.complex128)
    full[:, : n // 2 + 1] = K
    return np.fft.fft(full, axis=1)


# -- the transform ---------------------------------------------------------------------

class Cqt:
    """Constant-Q / variable-Q transform of the engine's centred frames.

    Parameters
    ----------
    sample_rate : float > 0 [Hz]
    fmin_hz : float > 0 [Hz]
        Lowest bin before tuning (default C1).
    n_bins : int >= 1
    bins_per_octave : int >= 1
    tuning : float [fraction of a bin]
    filter_scale : float > 0
        Kernel length factor (``Q = filter_scale / alpha``).
    gamma : float >= 0 or None [Hz]
        Bandwidth offset: 0 is the CQT, > 0 a VQT, None librosa's ERB rule
        (:func:`vqt_gamma`).
    window : str
        Kernel window (:mod:`fluxstream.dsp.windows`), default ``"hann"``.
    norm : {1, 2, inf, None}
        Kernel normalisation (librosa's ``norm``).
    scale : bool
        Divide each bin by ``sqrt(length)`` (librosa's ``scale=True``).
    sparsity : float in [0, 1)
        Fraction of each spectral kernel's L1 mass dropped (librosa's ``sparsity``).
    output : {"magnitude", "complex"}
        float32 magnitudes or complex64 values (librosa's phase convention).
    backend : {"pyfftw", "scipy"} or None
        Validated for interface uniformity with the spectral stages; the hot path runs no
        FFT (kernels are time-domain matrices), so it does not change the results.

    Attributes
    ----------
    freqs_hz : ndarray [shape=(n_bins,)] [Hz]
    lengths : ndarray [shape=(n_bins,)] [samples at ``sample_rate``, fractional]
    frame_length : int [samples]
        The frame length the engine must give: twice the reach of the longest effective
        kernel (even). 18274 for the defaults at 22050 Hz.
    bin_latency_samples : ndarray [shape=(n_bins,), dtype=int64] [samples]
        ``ceil(length / 2)``: how far after the frame's reference time a bin's window
        reaches. Long kernels for low bins, so their latency is larger.
    latency_samples : int [samples]
        ``max(bin_latency_samples)`` (the lowest bin).
    support_samples : int [samples]
        Exact reach of the effective kernels on either side (``frame_length // 2``).
    causal : bool
        False: kernels are centred on the frame centre.
    hop : int
        1 frame: one row per input frame.
    octave_levels : tuple of int
        Decimation level of each octave, from the top one.
    dim : int
        ``n_bins``.

    Notes
    -----
    All bins of frame ``k`` refer to time ``k * hop_length`` (the frame's centre sample
    ``frame_length // 2``). Bin ``b`` of octave ``o`` at level ``l`` is

    ``X[b] = G_l * sum_j h_b[j] y_l[j - n_l / 2]``,   ``G_l = 2^l / sqrt(L_b)`` (``scale``)
    or ``2^l``,

    with ``y_l`` the frame halved ``l`` times around its centre, ``h_b`` from
    :func:`cqt_octave_kernels` and ``L_b`` the length at ``sample_rate``; see the module
    docstring for the differences with ``librosa.cqt`` / ``librosa.vqt`` (resampler only).

    Examples
    --------
    >>> import numpy as np
    >>> cq = Cqt(22050, fmin_hz=220.0, n_bins=24)
    >>> t = np.arange(cq.frame_length) / 22050
    >>> frame = np.sin(2 * np.pi * 440.0 * t).astype(np.float32)[None, None]
    >>> int(cq.process(frame)[0, 0].argmax())
    12

    Real-time notes
    ---------------
    Analysis thread. ``__init__`` builds the kernels (a few ms). :meth:`process` is
    stateless: it allocates its output and temporaries of the input's size, never anything
    that grows with the stream, and returns a new array. Non-causal with respect to the
    frame's reference time by ``latency_samples`` (the engine's framing supplies the
    look-ahead: the frame reaches ``frame_length - frame_length // 2`` samples ahead).

    References
    ----------
    C. Schörkhuber, A. Klapuri, "Constant-Q transform toolbox for music processing", 2010.
    """

    causal = False
    hop = 1

    def __init__(self, sample_rate: float = 22050.0, *, fmin_hz: float = C1_HZ, n_bins: int = 84,
                 bins_per_octave: int = 12, tuning: float = 0.0, filter_scale: float = 1.0,
                 gamma: float | None = 0.0, window: str = "hann", norm=1, scale: bool = True,
                 sparsity: float = 0.01, output: str = "magnitude", backend: str | None = None):
        sr = _positive("sample_rate", sample_rate, "Hz")
        self.sample_rate = sr
        self.fmin_hz = _positive("fmin_hz", fmin_hz, "Hz")
        self.n_bins = _int_at_least("n_bins", n_bins, 1, "bins")
        bpo = self.bins_per_octave = _int_at_least("bins_per_octave", bins_per_octave, 1, "bins per octave")
        self.tuning = _real("tuning", tuning, "fraction of a bin")
        self.filter_scale = _positive("filter_scale", filter_scale, "relative kernel length")
        if gamma is not None:
            gamma = _real("gamma", gamma, "Hz")
            if gamma < 0:
                raise ConfigError(f"gamma={gamma!r} must be >= 0 or None (Hz)")
        self.gamma = vqt_gamma(bpo) if gamma is None else gamma
        self.window = window
        _check_window(window)
        self.norm = _check_norm("norm", norm)
        if not isinstance(scale, (bool, np.bool_)):
            raise ConfigError(f"scale={scale!r} must be True or False")
        self.scale = bool(scale)
        sp = _real("sparsity", sparsity, "fraction of kernel mass")
        if not 0.0 <= sp < 1.0:
            raise ConfigError(f"sparsity={sparsity!r} must be in [0, 1) (fraction of kernel mass)")
        self.sparsity = sp
        if output not in ("magnitude", "complex"):
            raise ConfigError(f"output={output!r} must be 'magnitude' or 'complex'")
        self.output = output
        if backend is not None and backend not in BACKENDS:
            raise ConfigError(f"backend={backend!r} is not an FFT backend; allowed: {', '.join(BACKENDS)}")
        self.backend = default_backend() if backend is None else backend

        self.freqs_hz = cqt_frequencies(self.n_bins, self.fmin_hz, bpo, self.tuning)
        self.lengths = cqt_lengths(self.freqs_hz, sr, bpo, self.filter_scale, self.gamma)
        cutoff = cqt_filter_cutoff(self.freqs_hz, bpo, self.filter_scale, self.gamma, window)
        nyquist = sr / 2.0
        if cutoff > nyquist:
            raise ConfigError(
                f"n_bins={self.n_bins} from fmin_hz={self.fmin_hz:g} reaches {cutoff:.1f} Hz (the top "
                f"kernel's main lobe), above the Nyquist frequency {nyquist:g} Hz at sample_rate={sr:g}: "
                f"lower n_bins or fmin_hz (Hz)")
        self.bin_latency_samples = np.ceil(self.lengths / 2.0).astype(np.int64)
        self.latency_samples = int(self.bin_latency_samples.max())
        self.dim = self.n_bins
        self._build(cutoff, nyquist)
        self.reset()

    # The plan: which octave at which level, which samples each level needs.
    def _build(self, cutoff: float, nyquist: float) -> None:
        bpo, nb = self.bins_per_octave, self.n_bins
        n_oct = int(math.ceil(nb / bpo))
        nf = min(bpo, nb)
        # librosa's early-downsampling count (bandwidth rule).
        e = max(0, int(math.ceil(math.log2(nyquist / cutoff)) - 1) - 1)
        octaves = []  # (level, bin slice, n_l, W float32 (n_l, 2 * nb_o))
        for o in range(n_oct):
            hi = nb - o * nf
            lo = max(0, hi - nf)
            lvl = e + o
            rate = self.sample_rate / 2**lvl
            h = cqt_octave_kernels(self.freqs_hz[lo:hi], rate, bpo, self.filter_scale, self.gamma,
                                   self.window, self.norm, self.sparsity)
            gain = 2.0**lvl / (np.sqrt(self.lengths[lo:hi]) if self.scale else 1.0)
            h = h * np.broadcast_to(gain, (hi - lo,))[:, None]
            W = np.concatenate([h.real.T, h.imag.T], axis=1).astype(np.float32)
            octaves.append((lvl, lo, hi, h.shape[1], W, h))
        self.octave_levels = tuple(o[0] for o in octaves)
        self.n_octaves = n_oct
        self._octaves = octaves
        top = max(self.octave_levels)
        # Needed sample range [lo_l, hi_l] per level (relative to the reference time, in
        # level-l samples), from the deepest level up.
        need: list[tuple[int, int]] = [(0, -1)] * (top + 1)
        for lvl in range(top, -1, -1):
            lo, hi = 0, -1
            for (ol, _, _, n_l, _, _) in octaves:
                if ol == lvl:
                    lo, hi = min(lo, -n_l // 2), max(hi, n_l // 2 - 1)
            if lvl < top:
                clo, chi = need[lvl + 1]
                lo, hi = min(lo, 2 * clo - _HB_HALF), max(hi, 2 * chi + _HB_HALF)
            need[lvl] = (lo, hi)
        self._need = need
        reach = max(-need[0][0], need[0][1] + 1)
        self.support_samples = int(reach)
        self.frame_length = int(2 * reach)
        self._top_level = top

    def reset(self) -> None:
        """Nothing to forget: the transform is stateless. Returns None."""
        return None

    def effective_kernels(self) -> np.ndarray:
        """The full-rate kernels: ``X[b] = sum_j K[b, j] frame[j]`` (exact linear map).

        Each octave's level kernel pushed back through the decimators (upsample by two,
        filter with the half-band lowpass, ``l`` times).

        Returns
        -------
        K : ndarray [shape=(n_bins, frame_length), dtype=complex128]
        """
        F = self.frame_length
        K = np.zeros((self.n_bins, F), dtype=np.complex128)
        for (lvl, lo, hi, n_l, _, h) in self._octaves:
            k = h  # at level lvl, positions -n_l/2 .. n_l/2 - 1
            start = -n_l // 2
            for _ in range(lvl):
                up = np.zeros((k.shape[0], 2 * k.shape[1] - 1), dtype=np.complex128)
                up[:, ::2] = k
                k = np.stack([np.convolve(r, _HB) for r in up])
                start = 2 * start - _HB_HALF
            K[lo:hi, F // 2 + start: F // 2 + start + k.shape[1]] = k
        return K

    def _levels(self, y0: np.ndarray, y0_start: int, extra: int) -> list[np.ndarray]:
        """The decimation cascade: level arrays, level ``l`` covering ``need_l`` widened by
        ``extra / 2**l`` samples after (the later frames of a whole signal)."""
        ys = [y0]
        starts = [y0_start]
        for lvl in range(1, self._top_level + 1):
            lo, hi = self._need[lvl]
            stop = hi + 1 + extra // 2**lvl
            ys.append(decimate_halfband(ys[-1], starts[-1], lo, stop))
            starts.append(lo)
        return ys

    def _finish(self, raw: np.ndarray, out_shape) -> np.ndarray:
        # raw [..., 2 * n_bins] = [re | im] per octave, laid out by bin.
        re, im = raw[..., : self.n_bins], raw[..., self.n_bins:]
        if self.output == "complex":
            out = np.empty(out_shape, dtype=np.complex64)
            out.real, out.imag = re, im
            return out
        return np.hypot(re, im).astype(np.float32, copy=False)

    def process(self, frames: np.ndarray) -> np.ndarray:
        """Transform frames.

        Parameters
        ----------
        frames : ndarray [shape=(channels, n_frames, frame_length)]
            Unwindowed centred frames (float32), ``n_frames >= 0``; not modified.

        Returns
        -------
        X : ndarray [shape=(channels, n_frames, n_bins), dtype=float32 or complex64]
            Magnitudes (or complex values); all bins of a frame at its centre sample.
        """
        x = np.asarray(frames)
        F = self.frame_length
        if x.ndim != 3 or x.shape[-1] != F:
            raise ValueError(f"frames shape {x.shape} must be (channels, n_frames, frame_length={F})")
        C, n, _ = x.shape
        dtype = np.complex64 if self.output == "complex" else np.float32
        if C == 0 or n == 0:
            return np.zeros((C, n, self.n_bins), dtype=dtype)
        flat = _as_float32(x).reshape(C * n, F)
        raw = np.empty((C * n, 2 * self.n_bins), dtype=np.float32)
        nb = self.n_bins
        # Blocks of frames keep the cascade's temporaries in cache (and the products small).
        step = 16
        for i in range(0, C * n, step):
            ys = self._levels(flat[i:i + step], -(F // 2), 0)
            for (lvl, lo, hi, n_l, W, _) in self._octaves:
                y = ys[lvl]
                s = -n_l // 2 - self._need[lvl][0] if lvl else -n_l // 2 + F // 2
                r = y[:, s:s + n_l] @ W
                m = hi - lo
                raw[i:i + step, lo:hi] = r[:, :m]
                raw[i:i + step, nb + lo:nb + hi] = r[:, m:]
        return self._finish(raw.reshape(C, n, 2 * nb), (C, n, nb))

    def transform(self, x: np.ndarray, hop_length: int) -> np.ndarray:
        """File mode: the transform of a whole signal at times ``k * hop_length``.

        The same numbers as ``process(frame_signal(x, frame_length, hop_length))`` (float32
        round-off: the matrix products sum in another order), computed with one decimation
        cascade over the signal instead of one per frame when ``hop_length`` is a multiple
        of ``2 ** max(octave_levels)``; otherwise by framing in chunks.

        Parameters
        ----------
        x : ndarray [shape=(n_samples,) or (n_samples, channels)]
        hop_length : int >= 1 [samples]

        Returns
        -------
        X : ndarray [shape=(channels, n_frames, n_bins)]
            ``n_frames = 1 + n_samples // hop_length`` (librosa's count, centred framing).
        """
        hop = _int_at_least("hop_length", hop_length, 1, "samples")
        x = _as_signal(x, np.float32)
        N, C = x.shape
        F = self.frame_length
        n = n_frames_for(N, F, hop, True)
        nb = self.n_bins
        if n == 0 or C == 0:
            return np.zeros((C, n, nb), dtype=np.complex64 if self.output == "complex" else np.float32)
        if hop % (1 << self._top_level):
            step = 64
            parts = []
            for k0 in range(0, n, step):
                # Frames k0.. of the centred framing: samples from k0 * hop - F // 2.
                a = k0 * hop - F // 2
                k1 = min(n, k0 + step)
                b = (k1 - 1) * hop - F // 2 + F
                seg = np.zeros((b - a, C), dtype=np.float32)
                s0, s1 = max(a, 0), min(b, N)
                if s1 > s0:
                    seg[s0 - a:s1 - a] = x[s0:s1]
                parts.append(self.process(frame_signal(seg, F, hop, center=False)))
            return np.concatenate(parts, axis=1)
        extra = (n - 1) * hop
        lo0, hi0 = -(F // 2), F - F // 2 - 1
        y0 = np.zeros((C, hi0 + extra - lo0 + 1), dtype=np.float32)
        y0[:, -lo0:-lo0 + N] = x.T
        return self._cascade(y0, n, hop)

    def transform_frames(self, frames: np.ndarray, hop_length: int) -> np.ndarray:
        """:meth:`process` of consecutive frames ``hop_length`` apart (a framer's output),
        computed like :meth:`transform` from the samples they span when that is faster
        (16 frames or more, ``hop_length`` a multiple of ``2 ** max(octave_levels)`` and
        at most ``frame_length``): the same numbers to float32 round-off.

        Parameters
        ----------
        frames : ndarray [shape=(channels, n_frames, frame_length)]
            Frame ``k + 1`` starts ``hop_length`` samples after frame ``k``.
        hop_length : int >= 1 [samples]
        """
        x = np.asarray(frames)
        hop = _int_at_least("hop_length", hop_length, 1, "samples")
        F = self.frame_length
        if x.ndim != 3 or x.shape[-1] != F:
            raise ValueError(f"frames shape {x.shape} must be (channels, n_frames, frame_length={F})")
        C, n, _ = x.shape
        if n < 16 or hop % (1 << self._top_level) or hop > F:
            return self.process(x)
        # The span of the frames: the first frame, then each later frame's last hop samples.
        y0 = np.empty((C, F + (n - 1) * hop), dtype=np.float32)
        y0[:, :F] = x[:, 0]
        y0[:, F:] = x[:, 1:, F - hop:].reshape(C, (n - 1) * hop)
        return self._cascade(y0, n, hop)

    def _cascade(self, y0: np.ndarray, n: int, hop: int) -> np.ndarray:
        """Frames ``0 .. n-1`` centred at ``F // 2 + k * hop`` of the samples ``y0``
        ``(C, F + (n - 1) hop)``, by one decimation cascade (``hop`` a multiple of
        ``2 ** max(octave_levels)``)."""
        C = y0.shape[0]
        F, nb = self.frame_length, self.n_bins
        extra = (n - 1) * hop
        lo0 = -(F // 2)
        ys = self._levels(y0, lo0, extra)
        raw = np.empty((C, n, 2 * nb), dtype=np.float32)
        for (lvl, lo, hi, n_l, W, _) in self._octaves:
            y = ys[lvl]
            start = -n_l // 2 - (self._need[lvl][0] if lvl else lo0)
            stride = hop >> lvl
            m = hi - lo
            for c in range(C):
                v = np.lib.stride_tricks.as_strided(y[c, start:], (n, n_l), (stride * 4, 4), writeable=False)
                # Products of _ROWS frames at a time: small enough for OpenBLAS to stay on
                # one thread (a 2-thread sgemm on a loaded 2-core machine ran 10x slower).
                for r0 in range(0, n, _ROWS):
                    r = np.ascontiguousarray(v[r0:r0 + _ROWS]) @ W
                    raw[c, r0:r0 + _ROWS, lo:hi] = r[:, :m]
                    raw[c, r0:r0 + _ROWS, nb + lo:nb + hi] = r[:, m:]
        return self._finish(raw, (C, n, nb))


def cqt_batch(x: np.ndarray, sample_rate: float, hop_length: int, **params) -> np.ndarray:
    """The batch reference: direct inner products of the effective kernels with the signal.

    ``X[c, k, b] = sum_d K_b[d] x[k * hop_length + d]`` with ``K`` from
    :meth:`Cqt.effective_kernels` (``d`` from ``-frame_length // 2``), the signal zero
    padded on both sides, in float64; no decimation cascade, no frame logic.

    Parameters
    ----------
    x : ndarray [shape=(n_samples,) or (n_samples, channels)]
    sample_rate : float > 0 [Hz]
    hop_length : int >= 1 [samples]
    **params
        Any :class:`Cqt` keyword.

    Returns
    -------
    X : ndarray [shape=(channels, 1 + n_samples // hop_length, n_bins)]
        float32 magnitudes or complex64 (``output``).
    """
    cq = Cqt(sample_rate, **params)
    hop = _int_at_least("hop_length", hop_length, 1, "samples")
    x = _as_signal(x, np.float64)
    N, C = x.shape
    F = cq.frame_length
    K = cq.effective_kernels()
    n = n_frames_for(N, F, hop, True)
    pad = np.zeros((C, N + F), dtype=np.float64)
    pad[:, F // 2:F // 2 + N] = x.T
    out = np.empty((C, n, cq.n_bins), dtype=np.complex128)
    for k in range(n):
        out[:, k] = pad[:, k * hop:k * hop + F] @ K.T
    if cq.output == "complex":
        return out.astype(np.complex64)
    return np.abs(out).astype(np.float32)


# -- constant-Q chroma -----------------------------------------------------------------

def cq_to_chroma_matrix(n_bins: int, bins_per_octave: int = 12, n_chroma: int = 12,
                        fmin_hz: float = C1_HZ) -> np.ndarray:
    """Folding matrix from constant-Q bins to pitch classes (librosa's ``cq_to_chroma``).

    Each chroma class sums the ``bins_per_octave / n_chroma`` bins per octave centred on it
    (the merge is rolled left by half of it), rotated so that class 0 is C given the pitch
    class of ``fmin_hz`` (``round((midi(fmin_hz) mod 12) * n_chroma / 12)``, half to even).

    Parameters
    ----------
    n_bins : int >= 1
    bins_per_octave : int, a multiple of ``n_chroma``
    n_chroma : int >= 1
    fmin_hz : float > 0 [Hz]
        Frequency of bin 0 (before tuning, as librosa).

    Returns
    -------
    M : ndarray [shape=(n_chroma, n_bins), dtype=float32]
    """
    n_bins = _int_at_least("n_bins", n_bins, 1, "bins")
    bpo = _int_at_least("bins_per_octave", bins_per_octave, 1, "bins per octave")
    n_chroma = _int_at_least("n_chroma", n_chroma, 1, "classes")
    fmin = _positive("fmin_hz", fmin_hz, "Hz")
    if bpo % n_chroma:
        raise ConfigError(f"bins_per_octave={bins_per_octave!r} must be a multiple of n_chroma={n_chroma}")
    merge = bpo // n_chroma
    M = np.repeat(np.eye(n_chroma), merge, axis=1)
    M = np.roll(M, -(merge // 2), axis=1)
    M = np.tile(M, int(math.ceil(n_bins / bpo)))[:, :n_bins]
    midi0 = np.mod(12.0 * (np.log2(fmin) - np.log2(440.0)) + 69.0, 12)
    roll = int(np.round(midi0 * (n_chroma / 12.0)))
    return np.roll(M, roll, axis=0).astype(np.float32)


def chroma_from_cq(cq_mag: np.ndarray, matrix: np.ndarray, norm=np.inf, threshold: float = 0.0) -> np.ndarray:
    """Fold constant-Q magnitudes to chroma, zero values below ``threshold``, normalise.

    Parameters
    ----------
    cq_mag : ndarray [shape=(..., n_bins)]
    matrix : ndarray [shape=(n_chroma, n_bins)] (:func:`cq_to_chroma_matrix`)
    norm : {inf, 1, 2, None}
    threshold : float

    Returns
    -------
    chroma : ndarray [shape=(..., n_chroma)], float32 for float32 input
    """
    S = np.asarray(cq_mag)
    if S.shape[-1:] != matrix.shape[-1:]:
        raise ValueError(f"cq_mag shape {S.shape} does not match the matrix's n_bins={matrix.shape[-1]}")
    dtype = np.result_type(S.dtype, np.float32)
    raw = S.astype(dtype, copy=False) @ matrix.T.astype(dtype, copy=False)
    raw[raw < threshold] = 0.0
    return normalize_frames(raw, norm)


class ChromaCqt:
    """Constant-Q chroma: CQT magnitudes -> pitch classes (stateless).

    Parameters
    ----------
    n_bins : int >= 1
        CQT bins of the input (default 7 octaves of 36).
    bins_per_octave : int, a multiple of ``n_chroma``
    fmin_hz : float > 0 [Hz]
        Frequency of the input's bin 0 before tuning (default C1).
    n_chroma : int >= 1
    norm : {inf, 1, 2, None}
        Per-frame normalisation (librosa's default inf).
    threshold : float
        Chroma values below it become 0 (before normalisation).

    Attributes
    ----------
    matrix : ndarray [shape=(n_chroma, n_bins), dtype=float32]
    causal : bool
        True (one frame in, one frame out).
    latency_samples : int
        0.
    hop : int
        1 frame.
    dim : int
        ``n_chroma``.

    Notes
    -----
    Equal to ``librosa.feature.chroma_cqt(C=...)`` (the folding, threshold and
    normalisation) on the same magnitudes. Fed by :class:`Cqt` with ``bins_per_octave=36,
    n_bins=252`` it is librosa's ``chroma_cqt(y, sr)`` with ``tuning=0``.

    Examples
    --------
    >>> import numpy as np
    >>> S = np.zeros((1, 1, 36), np.float32); S[..., 27] = 1.0  # A (bin 27 of 36 from C)
    >>> int(ChromaCqt(n_bins=36).process(S)[0, 0].argmax())
    9

    Real-time notes
    ---------------
    Any thread; allocates its output per call. Stateless, no latency.
    """

    causal = True
    latency_samples = 0
    hop = 1

    def __init__(self, *, n_bins: int = 252, bins_per_octave: int = 36, fmin_hz: float = C1_HZ,
                 n_chroma: int = 12, norm=np.inf, threshold: float = 0.0):
        self.matrix = cq_to_chroma_matrix(n_bins, bins_per_octave, n_chroma, fmin_hz)
        self.n_bins, self.bins_per_octave, self.fmin_hz, self.n_chroma = int(n_bins), int(bins_per_octave), \
            float(fmin_hz), int(n_chroma)
        self.norm = _check_norm("norm", norm)
        self.threshold = _real("threshold", threshold, "magnitude")
        self.dim = self.n_chroma
        self.reset()

    def reset(self) -> None:
        """Stateless: nothing to forget. Returns None."""
        return None

    def process(self, cq_mag: np.ndarray) -> np.ndarray:
        """``cq_mag`` [shape=(channels, n_frames, n_bins)] -> chroma
        [shape=(channels, n_frames, n_chroma), dtype=float32]."""
        S = np.asarray(cq_mag)
        if S.ndim != 3 or S.shape[-1] != self.n_bins:
            raise ValueError(f"cq_mag shape {S.shape} must be (channels, n_frames, n_bins={self.n_bins})")
        return chroma_from_cq(_as_float32(S), self.matrix, self.norm, self.threshold)


# -- CENS ------------------------------------------------------------------------------

def cens_quantize(chroma: np.ndarray) -> np.ndarray:
    """L1-normalise each frame and quantise: ``0.25 * #{steps (0.4, 0.2, 0.1, 0.05) < v}``.

    Parameters
    ----------
    chroma : ndarray [shape=(..., n_chroma)], >= 0

    Returns
    -------
    q : ndarray [shape=(..., n_chroma)] in {0, 0.25, 0.5, 0.75, 1}
    """
    c = normalize_frames(chroma, 1)
    q = np.zeros_like(c)
    for step in _CENS_STEPS:
        q += (c > step) * c.dtype.type(_CENS_WEIGHT)
    return q


def cens_smoothing_window(win_len_smooth: int | None = 41, smoothing_window: str = "hann") -> tuple[np.ndarray, int]:
    """The CENS temporal smoothing taps and the offset of the first one.

    librosa's window: the *symmetric* window of ``win_len_smooth + 2`` points normalised to
    sum 1, applied by ``scipy.ndimage.convolve(mode="constant")``. Zero end taps (Hann) are
    dropped, so the taps span ``-win_len_smooth // 2 .. win_len_smooth // 2`` frames for
    Hann.

    Returns
    -------
    taps : ndarray [shape=(m,), dtype=float64]
        ``smoothed[k] = sum_i taps[i] q[k + first + i]``.
    first : int [frames]
        Offset of ``taps[0]`` (<= 0).
    """
    if win_len_smooth is None:
        return np.ones(1), 0
    w = _int_at_least("win_len_smooth", win_len_smooth, 1, "frames")
    kind, params = _check_window(smoothing_window)
    K = w + 2
    sym = np.concatenate([periodic_window(kind, params, K - 1), [0.0]])
    sym[-1] = sym[0]  # symmetric window of K points = periodic of K - 1 plus its first point
    sym = sym / sym.sum()
    # ndimage.convolve: out[i] = sum_j w[j] x[i + K//2 - j]; symmetric -> offsets j - (K-1)//2.
    first = -((K - 1) // 2)
    nz = np.flatnonzero(sym)
    return sym[nz[0]:nz[-1] + 1].copy(), first + int(nz[0])


def chroma_cens_batch(chroma: np.ndarray, win_len_smooth: int | None = 41, smoothing_window: str = "hann",
                      norm=2, downsample: int = 1) -> np.ndarray:
    """CENS of a whole chroma sequence (the batch reference of :class:`ChromaCens`).

    Parameters
    ----------
    chroma : ndarray [shape=(..., n_frames, n_chroma)]
        Chroma (any normalisation; it is L1-normalised first).
    win_len_smooth : int >= 1 or None [frames]
    smoothing_window : str
    norm : {inf, 1, 2, None}
    downsample : int >= 1
        Keep frames ``0, d, 2d, ...``.

    Returns
    -------
    cens : ndarray [shape=(..., ceil(n_frames / downsample), n_chroma)]
    """
    taps, first = cens_smoothing_window(win_len_smooth, smoothing_window)
    d = _int_at_least("downsample", downsample, 1, "frames")
    norm = _check_norm("norm", norm)
    q = cens_quantize(np.asarray(chroma))
    n = q.shape[-2]
    m = taps.size
    pad = np.zeros(q.shape[:-2] + (n + m - 1, q.shape[-1]), dtype=q.dtype)
    pad[..., -first:-first + n, :] = q
    sm = np.zeros_like(q)
    for i in range(m):
        sm += pad[..., i:i + n, :] * q.dtype.type(taps[i])
    return normalize_frames(sm[..., ::d, :], norm)


class ChromaCens:
    """Online CENS (chroma energy normalised statistics) from a chroma stream.

    Parameters
    ----------
    win_len_smooth : int >= 1 or None [frames]
        Length of the temporal smoothing (librosa's 41); None: no smoothing.
    smoothing_window : str
        Window of the smoothing (librosa: symmetric ``win_len_smooth + 2`` points).
    norm : {inf, 1, 2, None}
        Final normalisation (librosa's 2).
    downsample : int >= 1
        Keep every ``downsample``-th smoothed frame (frames ``0, d, 2d ...``).
    hop_length : int >= 1 [samples]
        Samples between input chroma frames; only sets :attr:`latency_samples`.

    Attributes
    ----------
    delay_frames : int [frames]
        Input frames that must follow frame ``k`` before it is emitted
        (``win_len_smooth // 2`` for Hann).
    latency_samples : int [samples]
        ``delay_frames * hop_length``.
    causal : bool
        True: outputs are emitted late instead of peeking ahead.
    hop : int
        ``downsample`` input frames per output frame.

    Notes
    -----
    Per frame: L1 normalisation, quantisation (:func:`cens_quantize`), smoothing with the
    normalised window centred on the frame (frames before the start and after the end count
    as zeros, as ``scipy.ndimage.convolve(mode="constant")`` in librosa), normalisation.
    Equal to ``librosa.feature.chroma_cens`` on the same chroma (fed as ``C=``).

    Examples
    --------
    >>> import numpy as np
    >>> cens = ChromaCens()
    >>> x = np.zeros((1, 30, 12), np.float32); x[..., 9] = 1.0
    >>> a = cens.process(x); b = cens.flush()
    >>> a.shape[1], b.shape[1]
    (10, 20)

    Real-time notes
    ---------------
    Analysis thread. Keeps the last ``len(taps) - 1`` quantised frames (allocated in
    ``__init__``); :meth:`process` allocates temporaries of its input's size and returns a
    new array of the completed frames (possibly none). Delayed by :attr:`delay_frames`.
    """

    causal = True

    def __init__(self, *, win_len_smooth: int | None = 41, smoothing_window: str = "hann", norm=2,
                 downsample: int = 1, hop_length: int = 512):
        self.taps, self._first = cens_smoothing_window(win_len_smooth, smoothing_window)
        self.win_len_smooth = win_len_smooth
        self.smoothing_window = smoothing_window
        self.norm = _check_norm("norm", norm)
        self.downsample = _int_at_least("downsample", downsample, 1, "frames")
        self.hop_length = _int_at_least("hop_length", hop_length, 1, "samples")
        self.delay_frames = int(self._first + self.taps.size - 1)
        self.latency_samples = self.delay_frames * self.hop_length
        self.hop = self.downsample
        self._hist_len = self.taps.size - 1
        self._hist = None
        self._channels = None
        self._taps32 = self.taps.astype(np.float32)
        self.reset()

    def reset(self) -> None:
        """Forget the stream: the next frame is frame 0. Returns None."""
        self._n_in = 0      # frames received
        self._next = 0      # next frame index to emit
        self._flushed = False
        if self._hist is not None:
            self._hist.fill(0.0)

    def _run(self, q: np.ndarray) -> np.ndarray:
        C = q.shape[0]
        if self._hist is None or self._hist.shape[0] != C:
            self._hist = np.zeros((C, self._hist_len, q.shape[-1]), dtype=np.float32)
        # ext[:, e] is quantised frame n_in - hist_len + e (zeros before the stream).
        ext = np.concatenate([self._hist, q], axis=1)
        total = self._n_in + q.shape[1]
        base = self._n_in - self._hist_len
        last = total - 1 - self.delay_frames
        k0 = self._next
        count = max(0, last - k0 + 1)
        sm = np.zeros((C, count, q.shape[-1]), dtype=np.float32)
        if count:
            for i, t in enumerate(self._taps32):
                s = k0 + self._first + i - base
                sm += ext[:, s:s + count] * t
        self._next = k0 + count
        self._n_in = total
        if self._hist_len:
            self._hist[...] = ext[:, ext.shape[1] - self._hist_len:]
        keep = (np.arange(k0, k0 + count) % self.downsample) == 0
        return normalize_frames(sm[:, keep], self.norm)

    def process(self, chroma: np.ndarray) -> np.ndarray:
        """Add chroma frames; return the CENS frames they completed.

        Parameters
        ----------
        chroma : ndarray [shape=(channels, n_frames, n_chroma)], ``n_frames >= 0``

        Returns
        -------
        cens : ndarray [shape=(channels, m, n_chroma), dtype=float32]
            Frames ``k`` (of those kept by ``downsample``) with ``k + delay_frames`` received.
        """
        x = np.asarray(chroma)
        if x.ndim != 3:
            raise ValueError(f"chroma shape {x.shape} must be (channels, n_frames, n_chroma)")
        if self._flushed:
            raise RuntimeError("ChromaCens.process after flush(): call reset() first")
        if self._hist is not None and (x.shape[0] != self._hist.shape[0] or x.shape[2] != self._hist.shape[2]):
            raise ValueError(f"chroma shape {x.shape} changed channels or n_chroma mid-stream "
                             f"(was {self._hist.shape[0]}, {self._hist.shape[2]})")
        return self._run(cens_quantize(_as_float32(x)))

    def flush(self) -> np.ndarray:
        """End of stream: the last ``delay_frames`` frames (later frames count as zeros)."""
        if self._flushed or self._hist is None:
            self._flushed = True
            C = 0 if self._hist is None else self._hist.shape[0]
            n_ch = 12 if self._hist is None else self._hist.shape[2]
            return np.zeros((C, 0, n_ch), dtype=np.float32)
        zeros = np.zeros((self._hist.shape[0], self.delay_frames, self._hist.shape[2]), dtype=np.float32)
        out = self._run(zeros)
        self._flushed = True
        return out
