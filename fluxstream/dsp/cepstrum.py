"""Cepstra: the orthonormal DCT-II of log spectra (MFCC) and the source-filter split.

- :func:`dct_matrix`: the orthonormal DCT-II basis as a matrix.
- :func:`cepstrum`: log (dB) band spectrum -> cepstral coefficients with librosa's
  sinusoidal liftering; on a dB mel spectrum this is ``librosa.feature.mfcc``.
- :func:`deconvolve`: magnitude spectrum -> smooth envelope (low quefrencies, formants) x
  fine structure (the rest, pitch harmonics).

Layout: the spectral axis is last, ``(..., n_bands)`` or ``(..., n_frames, n_bins)``; any
leading axes (channels, frames) pass through. Pure functions, no state.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..errors import ConfigError

__all__ = ["dct_matrix", "cepstrum", "deconvolve"]


def _check_count(name: str, value, low: int = 1, high: int | None = None, what: str = "") -> int:
    bad = isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low
    if not bad and high is not None and value > high:
        raise ConfigError(f"{name}={value!r} must be <= {what}={high}")
    if bad:
        raise ConfigError(f"{name}={value!r} must be an integer >= {low}")
    return int(value)


@lru_cache(maxsize=32)
def _basis(n_in: int, n_out: int, dtype: np.dtype) -> np.ndarray:
    """Read-only orthonormal DCT-II rows 0..n_out-1, built in float64 then cast."""
    n = np.arange(n_in, dtype=np.float64)
    k = np.arange(n_out, dtype=np.float64)[:, None]
    D = np.cos(np.pi * k * (2.0 * n + 1.0) / (2.0 * n_in)) * np.sqrt(2.0 / n_in)
    D[0] *= np.sqrt(0.5)
    D = D.astype(dtype)
    D.flags.writeable = False
    return D


@lru_cache(maxsize=64)
def cepstrum_plan(n_bands: int, n_coeffs: int, lifter: float, dtype: np.dtype) -> tuple:
    """What :func:`cepstrum` multiplies by, prepared once: the transposed DCT-II rows
    ``(n_bands, n_coeffs)`` and the lifter weights (None when ``lifter`` is 0), in
    ``dtype``. Arguments as :func:`cepstrum`'s, already checked."""
    BT = _basis(n_bands, n_coeffs, dtype).T
    if lifter <= 0:
        return BT, None
    n = np.arange(1, n_coeffs + 1, dtype=np.float64)
    lift = (1.0 + (lifter / 2.0) * np.sin(np.pi * n / lifter)).astype(dtype)
    lift.flags.writeable = False
    return BT, lift


def apply_cepstrum(x: np.ndarray, plan: tuple) -> np.ndarray:
    """``x @ BT``, liftered: :func:`cepstrum`'s arithmetic with a :func:`cepstrum_plan`."""
    BT, lift = plan
    c = x.astype(BT.dtype, copy=False) @ BT
    if lift is not None:
        c *= lift
    return c


def _float_dtype(x: np.ndarray) -> np.dtype:
    return np.result_type(x.dtype, np.float32)


def dct_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Orthonormal DCT-II basis.

    ``D[k, n] = sqrt(2 / N) * s_k * cos(pi * k * (2n + 1) / (2N))`` with ``N = n_in``,
    ``s_0 = 1 / sqrt(2)`` and ``s_k = 1`` otherwise, so ``x @ D.T ==
    scipy.fft.dct(x, type=2, norm="ortho")[..., :n_out]`` and, for ``n_out == n_in``,
    ``D @ D.T == I`` (its transpose is the inverse, the orthonormal DCT-III).

    Parameters
    ----------
    n_in : int >= 1
        Length of the transformed axis (bands).
    n_out : int in 1..n_in
        Coefficients kept (the lowest quefrencies).

    Returns
    -------
    D : ndarray [shape=(n_out, n_in), dtype=float32]
        A new array.
    """
    n_in = _check_count("n_in", n_in)
    n_out = _check_count("n_out", n_out, 1, n_in, "n_in")
    return _basis(n_in, n_out, np.dtype(np.float32)).copy()


def cepstrum(log_spec: np.ndarray, n_coeffs: int, lifter: float = 0.0) -> np.ndarray:
    """Cepstral coefficients of a log spectrum: orthonormal DCT-II, then liftering.

    ``c[..., n] = L_n * sum_m D[n, m] * log_spec[..., m]`` for ``n < n_coeffs``, with
    :func:`dct_matrix` ``D`` and ``L_n = 1 + (lifter / 2) * sin(pi * (n + 1) / lifter)``
    when ``lifter > 0`` (``L_n = 1`` for ``lifter = 0``).

    Parameters
    ----------
    log_spec : ndarray [shape=(..., n_bands)]
        A log spectrum on any log scale, e.g. dB (:func:`fluxstream.dsp.spectral.power_to_db`
        of a mel power spectrum for MFCC).
    n_coeffs : int in 1..n_bands
    lifter : float >= 0
        Sinusoidal lifter length (librosa's ``lifter``; HTK uses 22); 0 = none.

    Returns
    -------
    c : ndarray [shape=(..., n_coeffs)]
        In the units of ``log_spec`` (orthonormal: energy preserving); float32 for float32
        input.

    Raises
    ------
    ConfigError
        ``n_coeffs`` not an integer in 1..n_bands, ``lifter`` negative or not finite.

    Notes
    -----
    With ``log_spec = power_to_db(mel_power, ref=1.0, amin=1e-10)`` this equals
    ``librosa.feature.mfcc(S=log_spec_T, n_mfcc=n_coeffs, lifter=lifter)`` (librosa has the
    frames last: transpose). librosa's ``mfcc(y=...)`` applies ``power_to_db``'s default
    ``top_db=80`` below the signal's maximum, a whole-signal operation a stream cannot do;
    fluxstream uses a fixed floor (``amin``) instead, so the two agree wherever the mel
    spectrum spans less than 80 dB.

    References
    ----------
    S. B. Davis, P. Mermelstein, "Comparison of parametric representations for monosyllabic
    word recognition in continuously spoken sentences", IEEE Trans. ASSP 28(4), 1980.
    B.-H. Juang, L. R. Rabiner, J. G. Wilpon, "On the use of bandpass liftering in speech
    recognition", IEEE Trans. ASSP 35(7), 1987.

    Examples
    --------
    >>> import numpy as np
    >>> flat = np.full((2, 40), -20.0, dtype=np.float32)      # 2 frames, 40 bands, dB
    >>> c = cepstrum(flat, 13)
    >>> c.shape, bool(np.allclose(c[:, 1:], 0, atol=1e-4)), float(c[0, 0])  # -20 * sqrt(40)
    ((2, 13), True, -126.49110412597656)
    """
    x = np.asarray(log_spec)
    if x.ndim < 1:
        raise ValueError(f"log_spec shape {x.shape} must be (..., n_bands)")
    n_bands = x.shape[-1]
    n_coeffs = _check_count("n_coeffs", n_coeffs, 1, n_bands, "n_bands")
    if isinstance(lifter, bool) or not isinstance(lifter, (int, float, np.integer, np.floating)) \
            or not np.isfinite(lifter) or lifter < 0:
        raise ConfigError(f"lifter={lifter!r} must be a finite number >= 0 (0 = no liftering)")
    return apply_cepstrum(x, cepstrum_plan(n_bands, n_coeffs, float(lifter), _float_dtype(x)))


def deconvolve(S: np.ndarray, n_coeffs: int, amin: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """Split a magnitude spectrum into a smooth envelope and a fine structure (cepstral
    source-filter separation).

    With ``Sm = max(S, amin)`` and the orthonormal DCT-II basis ``D`` over the bins
    (:func:`dct_matrix`, first ``n_coeffs`` rows ``D_q``):

    - ``envelope = exp(log(Sm) @ D_q.T @ D_q)``: the low-quefrency part of the real
      cepstrum (the DCT of the log spectrum) transformed back -- the spectral envelope,
      the vocal tract or body resonances (formants);
    - ``fine = Sm / envelope``: the rest -- the excitation, pitch harmonics and noise.

    so ``envelope * fine == Sm`` to float32 round-off (a few ulp). Scaling ``S`` by ``g``
    scales ``envelope`` by ``g`` and leaves ``fine`` unchanged (as long as ``g * S`` stays
    above ``amin``): any linear magnitude (or power) scale works.

    Parameters
    ----------
    S : ndarray [shape=(..., n_bins)], >= 0
        Magnitude (or power) spectrum, linear scale.
    n_coeffs : int in 1..n_bins
        Quefrency cut-off: cepstral coefficients kept in the envelope. Lower = smoother.
        For a harmonic sound with ``f0`` and bin spacing ``df``, the harmonics sit at
        quefrency index about ``2 * f0 / df`` (``2 * n_bins * f0 / (sample_rate / 2)``); keep
        ``n_coeffs`` well below it.
    amin : float > 0
        Floor before the log (silence is ``amin`` everywhere: envelope ``amin``, fine 1).

    Returns
    -------
    envelope : ndarray [shape=(..., n_bins)]
        Positive, in the units of ``S``; float32 for float32 input.
    fine : ndarray [shape=(..., n_bins)]
        Positive, dimensionless.

    Raises
    ------
    ConfigError
        ``n_coeffs`` not an integer in 1..n_bins, ``amin`` not > 0.

    Notes
    -----
    The log-envelope is clipped to the dtype's finite range so that ``envelope`` is always
    finite and positive; ``fine`` is finite whenever ``Sm / envelope`` is representable,
    i.e. unless one bin exceeds the envelope by more than ~1e38 (a dynamic range beyond
    float32 within one frame).

    References
    ----------
    A. V. Oppenheim, R. W. Schafer, "From frequency to quefrency: a history of the
    cepstrum", IEEE Signal Processing Magazine 21(5), 2004.

    Examples
    --------
    >>> import numpy as np
    >>> S = np.abs(np.random.default_rng(0).standard_normal((3, 513))).astype(np.float32)
    >>> env, fine = deconvolve(S, 20)
    >>> bool(np.allclose(env * fine, np.maximum(S, 1e-10), rtol=1e-6))
    True
    """
    x = np.asarray(S)
    if x.ndim < 1:
        raise ValueError(f"S shape {x.shape} must be (..., n_bins)")
    n_bins = x.shape[-1]
    n_coeffs = _check_count("n_coeffs", n_coeffs, 1, n_bins, "n_bins")
    if isinstance(amin, bool) or not isinstance(amin, (int, float, np.integer, np.floating)) \
            or not amin > 0 or not np.isfinite(amin):
        raise ConfigError(f"amin={amin!r} must be a finite number > 0")
    dtype = _float_dtype(x)
    Sm = np.maximum(x.astype(dtype, copy=False), dtype.type(amin))
    D = _basis(n_bins, n_coeffs, dtype)
    smooth = (np.log(Sm) @ D.T) @ D
    info = np.finfo(dtype)
    np.clip(smooth, np.log(info.tiny), np.log(info.max), out=smooth)
    envelope = np.exp(smooth, out=smooth)
    fine = Sm / envelope
    return envelope, fine
