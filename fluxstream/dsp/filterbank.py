"""Filterbanks: weight matrices that map an rFFT spectrum (n_fft//2 + 1 bins) to bands.

A filterbank is a float32 matrix ``fb`` of shape ``(n_bands, n_fft//2 + 1)``; the band
values of a magnitude or power spectrum ``S`` (frequency on the last axis) are
``S @ fb.T`` (:func:`apply_filterbank`). Bands are laid out by
:func:`fluxstream.dsp.scales.band_edges`: ``n_bands + 2`` edges equally spaced on a
frequency scale, band i spanning ``edges[i]`` .. ``edges[i + 2]`` around its centre
``edges[i + 1]``, librosa's mel layout on any scale.

Map
---
filterbank        any scale x shape x norm
mel_filterbank    ``librosa.filters.mel`` (Slaney or HTK mel, Slaney area norm or none)
band_centers_hz   the centre frequency of each band of :func:`filterbank`
apply_filterbank  spectrum (..., n_bins) -> bands (..., n_bands)

Real-time notes: building a filterbank allocates a few ``(n_bands, n_bins)`` float64
temporaries and is meant for a stage's ``__init__``, never for the hot path.
:func:`apply_filterbank` is one matmul; it allocates its result unless given ``out=``.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from ..errors import ConfigError
from .scales import (
    SCALES,
    _check_int,
    _check_real,
    band_edges,
    erb_bandwidth,
    hz_to_scale,
    scale_to_hz,
)
from .spectral import fft_frequencies

__all__ = [
    "SHAPES",
    "NORMS",
    "filterbank",
    "mel_filterbank",
    "band_centers_hz",
    "apply_filterbank",
]

#: Filter shapes understood by :func:`filterbank`.
SHAPES = ("triangle", "rectangle", "gammatone", "hann", "gaussian")

#: Filter normalizations understood by :func:`filterbank` (``None`` means ``"none"``).
NORMS = ("none", "area", "bandwidth")

# Gammatone bandwidth parameter b = 1.019 ERB(fc): the 4th-order gammatone whose equivalent
# rectangular bandwidth equals the ERB (Holdsworth et al. 1988; Patterson et al. 1992).
_GT_B = 1.019


def _layout(sample_rate, n_fft, n_bands, scale, fmin_hz, fmax_hz, shape, norm, htk,
            bins_per_octave, tuning):
    """Validate every parameter of :func:`filterbank`; return (n_bins, norm, edges or None).

    ``edges`` is None for ``scale="linear"`` (the identity over FFT bins).
    """
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Real) \
            or not np.isfinite(sample_rate) or sample_rate <= 0:
        raise ConfigError(f"sample_rate={sample_rate!r} must be a finite number > 0 (Hz)")
    n_fft = _check_int("n_fft", n_fft, 1, "samples")
    n_bins = n_fft // 2 + 1
    if not isinstance(scale, str) or scale not in SCALES:
        raise ConfigError(f"scale={scale!r} is not a known scale; allowed: {', '.join(SCALES)}")
    if not isinstance(shape, str) or shape not in SHAPES:
        raise ConfigError(f"shape={shape!r} is not a known filter shape; allowed: {', '.join(SHAPES)}")
    if norm is None:
        norm = "none"
    if not isinstance(norm, str) or norm not in NORMS:
        raise ConfigError(f"norm={norm!r} is not a known filter norm; allowed: {', '.join(NORMS)} (or None)")
    nyquist = float(sample_rate) / 2.0
    if fmax_hz is None:
        fmax_hz = nyquist
    fmax = _check_real("fmax_hz", fmax_hz, f"<= sample_rate/2={nyquist:g}")
    if fmax > nyquist:
        raise ConfigError(f"fmax_hz={fmax_hz!r} must be <= sample_rate/2={nyquist:g} (Hz, the Nyquist "
                          "frequency): the rFFT has no bins above it")
    if scale == "linear":
        if n_bands is not None and n_bands != n_bins:
            raise ConfigError(f"n_bands={n_bands!r} must be None or n_fft//2+1={n_bins} for scale='linear' "
                              "(the identity: one band per FFT bin)")
        if fmin_hz != 0 or fmax != nyquist:
            raise ConfigError(f"fmin_hz={fmin_hz!r}, fmax_hz={fmax_hz!r}: scale='linear' is the identity over "
                              f"all FFT bins, so it needs fmin_hz=0 and fmax_hz=None or {nyquist:g} (Hz); use "
                              "scale='linspace' for equally spaced bands in a range")
        return n_bins, norm, None
    edges = band_edges(scale, n_bands, fmin_hz, fmax, htk=htk, bins_per_octave=bins_per_octave,
                       tuning=tuning)
    return n_bins, norm, edges


def _triangles(edges: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    # Slaney's construction, in Hz: a rising slope from edges[i] to the peak at edges[i+1]
    # and a falling one to edges[i+2], each evaluated at every bin; their minimum, clipped
    # at 0, is the triangle. The same arithmetic order as librosa keeps equality at float64.
    fdiff = np.diff(edges)
    ramps = np.subtract.outer(edges, freqs)
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    return np.maximum(0.0, np.minimum(lower, upper))


def _rectangles(x_edges: np.ndarray, freqs: np.ndarray, scale: str, kw: dict) -> np.ndarray:
    # Boundaries halfway between adjacent centres on the scale axis, so every band is one
    # step wide on its scale and centred on its centre, and neighbours share a boundary:
    # band i is [b[i], b[i+1]) and each bin in [b[0], b[-1]) belongs to exactly one band.
    b_hz = np.asarray(scale_to_hz(0.5 * (x_edges[:-1] + x_edges[1:]), scale, **kw))
    return ((freqs >= b_hz[:-1, None]) & (freqs < b_hz[1:, None])).astype(np.float64)


def _gammatone(centres_hz: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    # |H(f)| of a 4th-order gammatone near its centre: |1 + j (f - fc) / b|^-4, peak 1 at fc.
    b = _GT_B * np.asarray(erb_bandwidth(centres_hz))
    u = (freqs[None, :] - centres_hz[:, None]) / b[:, None]
    return (1.0 + u * u) ** -2.0


def _on_scale(x_edges: np.ndarray, x_bins: np.ndarray, shape: str) -> np.ndarray:
    lo, hi = x_edges[:-2, None], x_edges[2:, None]
    inside = (x_bins[None, :] >= lo) & (x_bins[None, :] <= hi)
    # Bins outside the band (including 0 Hz at -inf on a log scale) are replaced by the lower
    # edge before the arithmetic, so no inf or nan is ever formed, then masked to 0.
    x = np.where(inside, x_bins[None, :], lo)
    if shape == "hann":
        w = np.sin(np.pi * (x - lo) / (hi - lo)) ** 2
    else:  # gaussian, sigma = (hi - lo) / 4
        c, sigma = 0.5 * (lo + hi), 0.25 * (hi - lo)
        w = np.exp(-0.5 * ((x - c) / sigma) ** 2)
    return np.where(inside, w, 0.0)


def filterbank(
    sample_rate: float,
    n_fft: int,
    n_bands: int | None,
    *,
    scale: str = "mel",
    fmin_hz: float = 0.0,
    fmax_hz: float | None = None,
    shape: str = "triangle",
    norm: str | None = "area",
    htk: bool = False,
    bins_per_octave: int = 12,
    tuning: float = 0.0,
) -> np.ndarray:
    """A filterbank over the rFFT bins: band weights on a frequency scale.

    Parameters
    ----------
    sample_rate : float > 0 [Hz]
    n_fft : int > 0 [samples]
        FFT size; the spectrum has ``n_fft//2 + 1`` bins at ``k * sample_rate / n_fft`` Hz.
    n_bands : int > 0, or None
        Number of bands. None is allowed for ``scale="octave"`` (derived by
        :func:`~fluxstream.dsp.scales.octave_n_bands`) and ``scale="linear"``.
    scale : str
        One of :data:`~fluxstream.dsp.scales.SCALES`. ``"linear"`` is special: the
        ``(n_bins, n_bins)`` identity (each band is one FFT bin, so shape and norm do not
        apply and are ignored; n_bands must be None or n_fft//2 + 1, fmin_hz 0 and
        fmax_hz None or the Nyquist frequency). ``"linspace"`` is equal spacing in Hz.
    fmin_hz : float >= 0 [Hz]
        Lowest band edge; > 0 for ``"log"`` and ``"octave"``.
    fmax_hz : float > fmin_hz, <= sample_rate / 2 [Hz], or None
        Highest band edge; None means sample_rate / 2.
    shape : str
        One of :data:`SHAPES`:

        - ``"triangle"``: 0 at ``edges[i]``, 1 at ``edges[i+1]``, 0 at ``edges[i+2]``,
          linear in Hz between them (librosa's mel filters). Adjacent triangles sum to 1
          between the first and last centre.
        - ``"rectangle"``: 1 on ``[b[i], b[i+1])`` where the boundaries ``b`` lie halfway
          (on the scale axis) between adjacent centres, so each rectangle is one scale step
          wide, centred on its centre, and adjacent rectangles tile without overlap or gap:
          every bin in ``[b[0], b[-1])`` belongs to exactly one band (column sums 1 with
          ``norm="none"``). The half steps ``edges[0]..b[0]`` and ``b[-1]..edges[-1]`` are
          not covered.
        - ``"gammatone"``: the magnitude response of a 4th-order gammatone filter at
          ``fc = edges[i+1]`` with ``b = 1.019 ERB(fc)``:
          ``(1 + ((f - fc) / b)^2)^-2``, peak 1 at fc. Its width comes from the ERB, not
          from the edges (infinite support); meant for ``scale="erb"`` but allowed on any.
        - ``"hann"``: ``sin^2(pi (x - x_lo) / (x_hi - x_lo))`` on the scale axis
          ``x = hz_to_scale(f)`` between the band's lower and upper edge, peak 1 at the
          centre. Adjacent Hann bands overlap by half and sum to 1 on the scale axis
          between the first and last centre.
        - ``"gaussian"``: ``exp(-(x - x_c)^2 / (2 sigma^2))`` on the scale axis, truncated
          to the band's edges, with ``sigma = (x_hi - x_lo) / 4`` (half the band's
          half-width): the edges are at 2 sigma, where the weight has fallen to
          ``exp(-2) = 0.135`` before the truncation.
    norm : str or None
        One of :data:`NORMS`:

        - ``"none"`` (or None): the shapes as above, 1 at the centre frequency (the largest
          bin weight is <= 1, as a bin rarely falls exactly on the centre).
        - ``"area"``: unit area in Hz. Triangles are scaled by Slaney's analytic
          ``2 / (edges[i+2] - edges[i])`` (so ``scale="mel", shape="triangle"`` equals
          ``librosa.filters.mel(norm="slaney")``); every other shape by its numeric area,
          ``1 / (sum_k w[k] * sample_rate / n_fft)``, so that ``sum_k w[k] * df = 1``.
        - ``"bandwidth"``: divided by the band's nominal width in Hz,
          ``edges[i+2] - edges[i]`` (the same width for every shape, including rectangles
          whose tile is about half of it).
    htk : bool
        HTK mel instead of Slaney's (``scale="mel"``).
    bins_per_octave : int > 0
        ``scale="octave"``: the default n_bands (see above).
    tuning : float [fraction of a bin]
        ``scale="octave"``; does not move the edges (see
        :func:`~fluxstream.dsp.scales.band_edges`).

    Returns
    -------
    fb : ndarray [shape=(n_bands, n_fft//2 + 1), dtype=float32]
        Computed in float64, rounded once to float32.

    Raises
    ------
    ConfigError
        Any parameter out of range, naming it, its value and what is allowed.

    Warns
    -----
    UserWarning
        When some bands receive no FFT bin (all-zero rows: too many bands for n_fft at the
        low end of the scale). They are kept, so that the band count and indices stay what
        was asked for, and area normalization leaves them at 0.

    Notes
    -----
    Band edges: :func:`~fluxstream.dsp.scales.band_edges`. Triangles follow Slaney's
    Auditory Toolbox (and librosa) exactly: weights are evaluated in Hz, not on the scale
    axis, so on a non-linear scale a triangle is asymmetric in Hz. Hann and Gaussian shapes
    are instead symmetric on the scale axis.

    References
    ----------
    Slaney, M. (1998). Auditory Toolbox, version 2. Interval Research Corp. TR 1998-010.
    Patterson, R. D., Robinson, K., Holdsworth, J., McKeown, D., Zhang, C. & Allerhand, M.
    (1992). Complex sounds and auditory images. In Auditory Physiology and Perception,
    429-446 (the gammatone; b = 1.019 ERB).
    Glasberg, B. R. & Moore, B. C. J. (1990). Hearing Research 47, 103-138 (the ERB).

    Examples
    --------
    >>> fb = filterbank(16000, 512, 40, scale="erb", shape="gammatone", fmin_hz=50.0)
    >>> fb.shape, fb.dtype
    ((40, 257), dtype('float32'))
    """
    n_bins, norm, edges = _layout(sample_rate, n_fft, n_bands, scale, fmin_hz, fmax_hz, shape, norm,
                                  htk, bins_per_octave, tuning)
    if edges is None:
        return np.eye(n_bins, dtype=np.float32)
    freqs = fft_frequencies(sample_rate, n_fft)
    kw = dict(htk=htk, bins_per_octave=bins_per_octave, tuning=tuning)
    if shape == "triangle":
        w = _triangles(edges, freqs)
    elif shape == "gammatone":
        w = _gammatone(edges[1:-1], freqs)
    else:
        x_edges = np.asarray(hz_to_scale(edges, scale, **kw))
        if shape == "rectangle":
            w = _rectangles(x_edges, freqs, scale, kw)
        else:
            w = _on_scale(x_edges, np.asarray(hz_to_scale(freqs, scale, **kw)), shape)

    empty = ~(w.max(axis=1) > 0)
    if empty.any():
        first = np.flatnonzero(empty)
        warnings.warn(
            f"{int(empty.sum())} of {len(w)} bands receive no FFT bin and stay all zero "
            f"(bands {first[:8].tolist()}{'...' if len(first) > 8 else ''}; scale={scale!r}, "
            f"n_bands={len(w)}, n_fft={n_fft}, sample_rate={sample_rate}): use a larger n_fft, "
            "fewer bands or a higher fmin_hz",
            UserWarning,
            stacklevel=2,
        )

    width_hz = edges[2:] - edges[:-2]
    if norm == "bandwidth" or (norm == "area" and shape == "triangle"):
        w *= ((2.0 if norm == "area" else 1.0) / width_hz)[:, None]
    elif norm == "area":
        area_hz = w.sum(axis=1) * (float(sample_rate) / n_fft)
        # Empty bands (area 0) stay 0 rather than becoming nan.
        np.divide(w, area_hz[:, None], out=w, where=area_hz[:, None] > 0)
    return w.astype(np.float32)


def mel_filterbank(
    sample_rate: float,
    n_fft: int,
    n_mels: int = 128,
    fmin_hz: float = 0.0,
    fmax_hz: float | None = None,
    htk: bool = False,
    norm: str | None = "slaney",
) -> np.ndarray:
    """Mel triangle filterbank, equal to ``librosa.filters.mel``.

    Parameters
    ----------
    sample_rate : float > 0 [Hz]
    n_fft : int > 0 [samples]
    n_mels : int > 0
    fmin_hz : float >= 0 [Hz]
    fmax_hz : float > fmin_hz, <= sample_rate / 2 [Hz], or None (= sample_rate / 2)
    htk : bool
        HTK mel instead of Slaney's.
    norm : {"slaney", None}
        "slaney": each triangle divided by half its width in Hz (unit area in Hz);
        None: peak 1.

    Returns
    -------
    fb : ndarray [shape=(n_mels, n_fft//2 + 1), dtype=float32]

    Notes
    -----
    ``filterbank(sample_rate, n_fft, n_mels, scale="mel", shape="triangle",
    norm="area" if norm == "slaney" else "none", ...)``, equal to
    ``librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin_hz,
    fmax=fmax_hz, htk=htk, norm=norm)`` to float32 round-off. Differences from librosa:
    fmax_hz above the Nyquist frequency is an error (librosa builds filters over bins that
    do not exist); librosa's numeric p-norms (``norm=1``, ``norm=2``, ...) are not offered;
    the empty-band warning is given for every empty band (librosa skips bands whose lower
    edge is 0 Hz).

    Examples
    --------
    >>> mel_filterbank(22050, 2048, 128).shape
    (128, 1025)
    """
    if norm not in ("slaney", None):
        raise ConfigError(f"norm={norm!r} is not a mel filter norm; allowed: 'slaney', None")
    # Checked here so the message names this function's parameter, not filterbank's n_bands.
    _check_int("n_mels", n_mels, 1)
    return filterbank(sample_rate, n_fft, n_mels, scale="mel", fmin_hz=fmin_hz, fmax_hz=fmax_hz,
                      shape="triangle", norm="area" if norm == "slaney" else "none", htk=htk)


def band_centers_hz(
    sample_rate: float,
    n_fft: int,
    n_bands: int | None,
    *,
    scale: str = "mel",
    fmin_hz: float = 0.0,
    fmax_hz: float | None = None,
    shape: str = "triangle",
    norm: str | None = "area",
    htk: bool = False,
    bins_per_octave: int = 12,
    tuning: float = 0.0,
) -> np.ndarray:
    """Centre frequency of each band of the same :func:`filterbank`.

    Takes exactly :func:`filterbank`'s arguments (validated the same way; shape and norm do
    not move the centres).

    Returns
    -------
    centers_hz : ndarray [shape=(n_bands,), dtype=float64] [Hz]
        ``band_edges(...)[1:-1]``, strictly increasing; for ``scale="linear"`` the FFT bin
        frequencies.

    Examples
    --------
    >>> band_centers_hz(16000, 512, 3, scale="linspace", fmax_hz=4000.0)
    array([1000., 2000., 3000.])
    """
    _, _, edges = _layout(sample_rate, n_fft, n_bands, scale, fmin_hz, fmax_hz, shape, norm, htk,
                          bins_per_octave, tuning)
    if edges is None:
        return fft_frequencies(sample_rate, n_fft)
    return edges[1:-1].copy()


def apply_filterbank(S: np.ndarray, fb: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Band values of a spectrum: ``S @ fb.T``.

    Parameters
    ----------
    S : ndarray [shape=(..., n_bins)], real
        Magnitude or power spectra, frequency on the last axis (frames, channels before it).
        Used as float32: float32 input is not copied, other real dtypes are converted.
    fb : ndarray [shape=(n_bands, n_bins), dtype=float32]
        From :func:`filterbank` or :func:`mel_filterbank`.
    out : ndarray [shape=(..., n_bands), dtype=float32], optional
        Where to write the result, so a stage can reuse one buffer per block.

    Returns
    -------
    bands : ndarray [shape=(..., n_bands), dtype=float32]

    Raises
    ------
    ValueError
        Complex S, or S's last axis not of fb's length.

    Notes
    -----
    The transpose of librosa's ``fb @ S`` (librosa keeps frequency on axis -2): here time
    stays on axis 0, as everywhere in fluxstream.

    Examples
    --------
    >>> fb = mel_filterbank(16000, 512, 40)
    >>> apply_filterbank(np.ones((10, 257), np.float32), fb).shape
    (10, 40)
    """
    S = np.asarray(S)
    if np.iscomplexobj(S):
        raise ValueError("S is complex: apply a filterbank to a magnitude or power spectrum")
    if S.ndim < 1 or S.shape[-1] != fb.shape[-1]:
        raise ValueError(f"S.shape={S.shape}: the last axis must have fb.shape[1]={fb.shape[-1]} "
                         "bins (n_fft//2 + 1)")
    S = S.astype(np.float32, copy=False)
    return np.matmul(S, fb.astype(np.float32, copy=False).T, out=out)
