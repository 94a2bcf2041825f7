"""Stateless spectral kernels over frame batches: magnitude, power, dB, RMS, centroid.

Every kernel is a pure function over arrays whose last axis is frequency (or time within a
frame) and whose leading axes are anything (channels, frames). They allocate their result
and never mutate their input.
"""

from __future__ import annotations

import math

import numpy as np

from . import _jit, frame_kernels

__all__ = [
    "fft_frequencies",
    "magnitude",
    "power",
    "power_to_db",
    "frame_rms",
    "spectral_centroid",
]

_TINY32 = np.finfo(np.float32).tiny


def fft_frequencies(sample_rate: float, n_fft: int) -> np.ndarray:
    """Centre frequency of each rFFT bin: ``k * sample_rate / n_fft`` for k = 0..n_fft//2.

    Returns
    -------
    freqs_hz : ndarray [shape=(n_fft//2 + 1,), dtype=float64] [Hz]
    """
    return np.arange(n_fft // 2 + 1, dtype=np.float64) * (float(sample_rate) / n_fft)


def magnitude(X: np.ndarray) -> np.ndarray:
    """Magnitude ``|X|`` of a complex spectrum (float32 for complex64 input)."""
    return np.abs(X)


def power(X: np.ndarray) -> np.ndarray:
    """Power ``|X|**2`` of a complex spectrum, computed as ``re**2 + im**2`` (no sqrt)."""
    if _jit.ENABLED and X.ndim and X.size == X.shape[-1] and X.dtype == np.complex64 and X.flags.c_contiguous:
        out = np.empty(X.shape, dtype=np.float32)  # one frame (a live hop): one compiled pass
        frame_kernels.power_hop(X.reshape(-1), out.reshape(-1))
        return out
    re, im = X.real, X.imag
    out = re * re
    out += im * im
    return out


def power_to_db(P: np.ndarray, ref: float = 1.0, amin: float = 1e-10) -> np.ndarray:
    """Decibels of a power spectrum against a fixed reference.

    ``10 * log10(max(P, amin) / ref)`` [dB]. Equals ``librosa.power_to_db(P, ref=ref,
    amin=amin, top_db=None)``. A streaming dB cannot use librosa's default ``top_db=80``
    relative to the file's maximum, because the maximum of the future is unknown.
    """
    if amin <= 0:
        raise ValueError(f"amin={amin!r} must be > 0")
    if ref <= 0:
        raise ValueError(f"ref={ref!r} must be > 0")
    out = np.maximum(P, np.float32(amin))
    np.log10(out, out=out)
    out *= np.float32(10.0)
    if ref != 1.0:
        out -= np.float32(10.0 * np.log10(ref))
    return out


def frame_rms(frames: np.ndarray) -> np.ndarray:
    """Root mean square of each time-domain frame over its last axis.

    ``sqrt(mean(x**2))`` over the frame's samples, unwindowed, as
    ``librosa.feature.rms(y=...)`` computes it from the same (centred) frames.

    Parameters
    ----------
    frames : ndarray [shape=(..., frame_length)]

    Returns
    -------
    rms : ndarray [shape=(...)] (linear amplitude, full scale = 1)
    """
    n = frames.shape[-1]
    # vecdot forms the sum of squares without materializing frames**2.
    ss = np.asarray(np.vecdot(frames, frames))
    ss *= np.float32(1.0 / n)
    return np.sqrt(ss, out=ss)


def spectral_centroid(S: np.ndarray, freqs_hz: np.ndarray) -> np.ndarray:
    """Spectral centroid: the magnitude-weighted mean frequency of each frame [Hz].

    ``sum_k f_k S_k / sum_k S_k``. A frame whose magnitudes sum to less than the smallest
    normal float32 (silence) has centroid 0 Hz, as librosa (which leaves such frames
    unnormalised, so the weighted sum is 0).

    Parameters
    ----------
    S : ndarray [shape=(..., n_bins)], non-negative (magnitude spectrum)
    freqs_hz : ndarray [shape=(n_bins,)] [Hz]

    Returns
    -------
    centroid_hz : ndarray [shape=(...)] [Hz]
    """
    if _jit.ENABLED and S.size == S.shape[-1] and S.dtype == np.float32 and S.flags.c_contiguous:
        # One frame (a live hop): one compiled pass.
        f = np.asarray(freqs_hz, dtype=np.float32)
        num, den = frame_kernels.centroid(S.reshape(-1), f) if f.shape == S.shape[-1:] else (0.0, math.nan)
        if math.isfinite(den):  # NaN and inf (and a wrong shape) take the numpy path
            return np.full(S.shape[:-1], num / den if den >= _TINY32 else 0.0, dtype=np.float32)
    num = S @ freqs_hz.astype(S.dtype, copy=False)
    den = S.sum(axis=-1)
    # Silent frames get 0, as librosa's unnormalised 0 (their num is not always 0: bins of
    # subnormal magnitude weighted by kHz can reach a normal number).
    return np.divide(num, den, out=np.zeros_like(num), where=den >= _TINY32)
