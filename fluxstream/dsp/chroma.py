"""Chroma: energy per pitch class, from STFT power spectra or octave-scale spectra.

- :func:`chroma_filterbank`: Ellis's Gaussian-bump chroma filterbank (``librosa.filters
  .chroma``), :func:`chroma_stft_batch` its application and :func:`normalize_frames` the
  per-frame normalisation (``librosa.feature.chroma_stft`` at a fixed tuning).
- :class:`TuningEstimator`: online tuning (deviation from A440 in fractions of a bin) from
  spectral peaks, a running histogram.
- :class:`Chroma`: the streaming stage, at a fixed tuning or following the estimator.
- :func:`fold_octaves`: chroma from a log-frequency (constant-Q style) spectrum.

Layout: spectra ``(..., n_frames, n_bins)`` -> chroma ``(..., n_frames, n_chroma)``,
frequency / pitch class last. Stages take ``(C, n, n_bins)``. Chroma class 0 is C when
``base_c`` (A otherwise), as librosa.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError

__all__ = [
    "chroma_filterbank",
    "normalize_frames",
    "chroma_stft_batch",
    "fold_octaves",
    "TuningEstimator",
    "Chroma",
]

_NORMS = (np.inf, 1, 2, None)


# --- validation ------------------------------------------------------------------------------

def _is_int(v) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, np.integer))


def _is_real(v) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float, np.integer, np.floating)) and np.isfinite(v)


def _int_at_least(name: str, v, low: int, unit: str = "") -> int:
    if not _is_int(v) or v < low:
        raise ConfigError(f"{name}={v!r} must be an integer >= {low}{f' ({unit})' if unit else ''}")
    return int(v)


def _positive(name: str, v, unit: str) -> float:
    if not _is_real(v) or v <= 0:
        raise ConfigError(f"{name}={v!r} must be a finite number > 0 ({unit})")
    return float(v)


def _finite(name: str, v, unit: str) -> float:
    if not _is_real(v):
        raise ConfigError(f"{name}={v!r} must be a finite number ({unit})")
    return float(v)


def _check_norm(name: str, norm):
    if norm is None:
        return None
    if norm is np.inf:  # the default, checked cheaply
        return norm
    if not isinstance(norm, bool) and isinstance(norm, (int, float, np.integer, np.floating)):
        for ok in _NORMS[:-1]:
            if float(norm) == ok:
                return ok
    raise ConfigError(f"{name}={norm!r} is not supported: must be one of inf, 1, 2, None")


_TINY32 = float(np.finfo(np.float32).tiny)
_TINY64 = float(np.finfo(np.float64).tiny)


# --- filterbank and normalisation ------------------------------------------------------------

def normalize_frames(X: np.ndarray, norm=np.inf) -> np.ndarray:
    """Normalise each frame (vector over the last axis) to unit norm.

    ``X / ||X||_p`` over the last axis with ``p = norm``: ``inf`` (max |x|), ``1`` (sum |x|),
    ``2`` (Euclidean) or ``None`` (no normalisation: a copy). Frames whose norm is below
    the smallest normal number of the dtype (``np.finfo(float32).tiny`` for float32:
    silence) are left unnormalised -- zeros stay zeros, never NaN -- as
    ``librosa.util.normalize(..., fill=None)``.

    Parameters
    ----------
    X : ndarray [shape=(..., dim)], finite
    norm : {inf, 1, 2, None}

    Returns
    -------
    Xn : ndarray [shape=(..., dim)]
        A new array; float32 for float32 input.

    Raises
    ------
    ConfigError
        ``norm`` not one of inf, 1, 2, None.
    """
    norm = _check_norm("norm", norm)
    x = np.asarray(X)
    dtype = np.result_type(x.dtype, np.float32)
    if norm is None:
        return x.astype(dtype, copy=True)
    if norm == np.inf and x.ndim and x.size == x.shape[-1] and x.size:
        # One frame (a live hop): the maximum as a Python float, no float64 copy. The same
        # numbers: a float32 quotient rounded once equals the float64 one rounded to
        # float32 (float64 carries more than twice float32's precision).
        m = float(np.abs(x).max())
        if m < (_TINY32 if dtype == np.float32 else _TINY64):
            m = 1.0
        return np.divide(x, m, dtype=dtype)
    # Norms and the division in float64 (as librosa): a float32 2-norm of large raw power
    # chroma could overflow, and the result is rounded once.
    a = np.abs(x).astype(np.float64)
    if norm == np.inf:
        length = a.max(axis=-1, keepdims=True, initial=0.0)
    elif norm == 1:
        length = a.sum(axis=-1, keepdims=True)
    else:
        length = np.sqrt(np.einsum("...k,...k->...", a, a))[..., None]
    length = np.where(length < (_TINY32 if dtype == np.float32 else _TINY64), 1.0, length)
    return np.divide(x, length).astype(dtype, copy=False)


def chroma_filterbank(sample_rate: float, n_fft: int, n_chroma: int = 12, tuning: float = 0.0,
                      ctroct: float = 5.0, octwidth: float | None = 2.0, norm=2,
                      base_c: bool = True) -> np.ndarray:
    """Chroma filterbank: weights from rFFT bins onto pitch classes (Ellis's chromagram).

    Bin ``k`` (``f_k = k * sample_rate / n_fft``) sits at ``q_k = n_chroma * log2(f_k /
    (A440 * 2**(tuning / n_chroma) / 16))`` chroma bins above A0 (27.5 Hz at tuning 0). It
    contributes to class ``c`` with a Gaussian bump in the circular distance ``d =
    ((q_k - c + n_chroma/2) mod n_chroma) - n_chroma/2``: ``exp(-0.5 * (2 d / w_k)**2)``,
    ``w_k = max(q_{k+1} - q_k, 1)`` (broad where bins are coarse, one chroma bin at
    least). Each bin's column is normalised (``norm``), then weighted by a Gaussian over
    octaves, ``exp(-0.5 * ((q_k / n_chroma - ctroct) / octwidth)**2)`` (unless ``octwidth``
    is None), and the classes are rolled so that class 0 is C (``base_c``) instead of A.
    The 0 Hz bin, which has no pitch, is placed 1.5 octaves below bin 1.

    Parameters
    ----------
    sample_rate : float > 0 [Hz]
    n_fft : int >= 2 [samples]
    n_chroma : int >= 1
        Classes per octave (12 semitones, 24 quarter tones, ...).
    tuning : float [fractions of a chroma bin]
        Deviation of the reference A from 440 Hz.
    ctroct : float [octaves above A0]
        Centre of the octave weighting (5 = A5, 880 Hz).
    octwidth : float > 0 or None [octaves]
        Gaussian half-width of the octave weighting; None = flat.
    norm : {2, 1, inf, None}
        Normalisation of each bin's column before the octave weighting.
    base_c : bool
        Class 0 is C (else A).

    Returns
    -------
    fb : ndarray [shape=(n_chroma, n_fft // 2 + 1), dtype=float32]
        ``chroma = P @ fb.T``.

    Raises
    ------
    ConfigError
        On any parameter outside the ranges above.

    Notes
    -----
    Equals ``librosa.filters.chroma(sr=sample_rate, n_fft=n_fft, n_chroma=n_chroma,
    tuning=tuning, ctroct=ctroct, octwidth=octwidth, norm=norm, base_c=base_c)`` (computed
    in float64, cast to float32).

    References
    ----------
    D. P. W. Ellis, "Chroma feature analysis and synthesis", 2007,
    https://www.ee.columbia.edu/~dpwe/resources/matlab/chroma-ansyn/ (``fft2chromamx.m``).
    """
    sr = _positive("sample_rate", sample_rate, "Hz")
    n_fft = _int_at_least("n_fft", n_fft, 2, "samples")
    n_chroma = _int_at_least("n_chroma", n_chroma, 1, "classes per octave")
    tuning = _finite("tuning", tuning, "fractions of a chroma bin")
    ctroct = _finite("ctroct", ctroct, "octaves above A0")
    if octwidth is not None:
        octwidth = _positive("octwidth", octwidth, "octaves")
    norm = _check_norm("norm", norm)
    n_bins = n_fft // 2 + 1
    # Bins 1..n_bins (one beyond the last kept, for its width), but never past n_fft - 1.
    top = min(n_bins + 1, n_fft)
    f = np.arange(1, top, dtype=np.float64) * (sr / n_fft)
    a440 = 440.0 * 2.0 ** (tuning / n_chroma)
    q = n_chroma * np.log2(f / (a440 / 16.0))
    q = np.concatenate(([q[0] - 1.5 * n_chroma], q))  # the 0 Hz bin, 1.5 octaves down
    width = np.maximum(np.diff(q), 1.0)
    if width.shape[0] < n_bins:  # the last bin of the full n_fft range has width 1
        width = np.concatenate((width, [1.0]))
    q, width = q[:n_bins], width[:n_bins]
    half = np.round(n_chroma / 2.0)
    D = q[None, :] - np.arange(n_chroma, dtype=np.float64)[:, None]
    D = np.remainder(D + half + 10 * n_chroma, n_chroma) - half
    wts = np.exp(-0.5 * (2.0 * D / width[None, :]) ** 2)
    wts = normalize_frames(wts.T, norm).T  # each column
    if octwidth is not None:
        wts *= np.exp(-0.5 * ((q / n_chroma - ctroct) / octwidth) ** 2)[None, :]
    if base_c:
        wts = np.roll(wts, -3 * (n_chroma // 12), axis=0)
    return np.ascontiguousarray(wts, dtype=np.float32)


def chroma_stft_batch(P: np.ndarray, fb: np.ndarray, norm=np.inf) -> np.ndarray:
    """Chroma of power spectra: ``normalize_frames(P @ fb.T, norm)``.

    Parameters
    ----------
    P : ndarray [shape=(..., n_bins)], >= 0
        Power spectra ``|X|**2`` (librosa's ``chroma_stft`` uses ``power=2``).
    fb : ndarray [shape=(n_chroma, n_bins)]
        :func:`chroma_filterbank`.
    norm : {inf, 1, 2, None}
        Per-frame normalisation (:func:`normalize_frames`); silent frames stay 0.

    Returns
    -------
    chroma : ndarray [shape=(..., n_chroma)]
        float32 for float32 input; in ``[0, 1]`` for ``norm=inf``.

    Notes
    -----
    Equals ``librosa.feature.chroma_stft(S=P_T, sr=sample_rate, tuning=tuning, norm=norm,
    n_chroma=...)`` (frames last there: transpose) with ``fb = chroma_filterbank(
    sample_rate, n_fft, n_chroma, tuning)``. librosa's default ``tuning=None`` estimates one
    tuning from the whole signal; here the tuning is given (or followed online by
    :class:`Chroma`).
    """
    P = np.asarray(P)
    if P.shape[-1:] != fb.shape[-1:]:
        raise ValueError(f"spectra shape {P.shape} does not match the filterbank's n_bins={fb.shape[-1]}")
    dtype = np.result_type(P.dtype, np.float32)
    raw = P.astype(dtype, copy=False) @ fb.T.astype(dtype, copy=False)
    return normalize_frames(raw, norm)


def fold_octaves(S_oct: np.ndarray, bins_per_octave: int, n_chroma: int = 12,
                 first_bin_pitch_class: float = 0.0) -> np.ndarray:
    """Chroma from an octave-scale (log-frequency) spectrum by summing over octaves.

    Band ``k`` is at pitch class ``first_bin_pitch_class + k * 12 / bins_per_octave``
    semitones above C (0 = C, 9 = A), i.e. ``q_k = first_bin_pitch_class * n_chroma / 12 +
    k * n_chroma / bins_per_octave`` chroma bins. It is added to class ``floor(q_k + 1/2)
    mod n_chroma``: each class gets the ``bins_per_octave / n_chroma`` bands per octave
    nearest its centre, and a band exactly half way between two classes goes to the upper
    one (librosa's ``filters.cq_to_chroma``).

    Parameters
    ----------
    S_oct : ndarray [shape=(..., n_bands)]
        Magnitude or power per band (any scale that adds: not dB).
    bins_per_octave : int, a multiple of ``n_chroma``
    n_chroma : int >= 1
    first_bin_pitch_class : float [semitones above C]
        Pitch class of band 0 (for a constant-Q spectrum starting at ``fmin_hz``:
        ``(12 * log2(fmin_hz / 440) + 9) mod 12``).

    Returns
    -------
    chroma : ndarray [shape=(..., n_chroma)]
        Unnormalised sums (use :func:`normalize_frames`); float32 for float32 input.

    Raises
    ------
    ConfigError
        ``n_chroma`` < 1, ``bins_per_octave`` not a positive multiple of ``n_chroma``,
        ``first_bin_pitch_class`` not finite.

    Examples
    --------
    >>> import numpy as np
    >>> S = np.zeros(72, np.float32); S[[9, 21, 45]] = 1.0     # A in three octaves
    >>> fold_octaves(S, 12)
    array([0., 0., 0., 0., 0., 0., 0., 0., 0., 3., 0., 0.], dtype=float32)
    """
    n_chroma = _int_at_least("n_chroma", n_chroma, 1, "classes per octave")
    bpo = _int_at_least("bins_per_octave", bins_per_octave, 1, "bands per octave")
    if bpo % n_chroma:
        raise ConfigError(f"bins_per_octave={bins_per_octave!r} must be a multiple of n_chroma={n_chroma}")
    first = _finite("first_bin_pitch_class", first_bin_pitch_class, "semitones above C")
    S = np.asarray(S_oct)
    if S.ndim < 1:
        raise ValueError(f"S_oct shape {S.shape} must be (..., n_bands)")
    dtype = np.result_type(S.dtype, np.float32)
    n_bands = S.shape[-1]
    m = bpo // n_chroma  # bands per class per octave
    # class = floor(off + 1/2 + k/m) with off = first * n_chroma / 12. Split off + 1/2 into
    # an integer shift and frac in [0, 1); for integer k, floor(frac + k/m) = (k +
    # floor(frac * m)) // m exactly, so only frac * m meets floating point (the 1e-9 keeps
    # an exact half-way band, e.g. frac * m = 0.9999999999, on the upper side).
    off = first * n_chroma / 12.0
    shift = np.floor(off + 0.5)
    frac = off + 0.5 - shift
    k = np.arange(n_bands)
    cls = (k + int(np.floor(frac * m + 1e-9))) // m + int(shift)
    M = np.zeros((n_chroma, n_bands), dtype=dtype)
    M[np.mod(cls, n_chroma), k] = 1.0
    return S.astype(dtype, copy=False) @ M.T


# --- tuning ----------------------------------------------------------------------------------

class TuningEstimator:
    """Online tuning estimate from spectral peaks: a running histogram of their deviations
    from the equal-tempered grid.

    For each frame: peaks are the bins ``k`` with ``P[k-1] < P[k] >= P[k+1]``, centre
    frequency ``f_k`` in ``[fmin_hz, fmax_hz]``, and magnitude above ``threshold`` times the
    frame's largest magnitude (``P[k] > threshold**2 * max(P)``, librosa's ``piptrack``
    convention on magnitudes). Each peak's frequency is refined by a parabola through the
    log powers of bins ``k-1, k, k+1`` (``delta = (a - c) / (2 (a - 2b + c))``, ``f = (k +
    delta) * sample_rate / n_fft``) and mapped to its deviation from the A440 grid,
    ``dev = p - round(p)`` in ``[-0.5, 0.5)`` with ``p = bins_per_octave * log2(f / 440)``.
    The deviation is added, weighted by the peak's interpolated magnitude, to the histogram
    bin whose centre ``j * resolution`` is nearest (circularly: +0.5 is -0.5). A frame's
    estimate is the centre of the histogram's largest bin after that frame (so the first
    ``argmax`` in ``[-0.5, 0.5)`` on ties), and 0.0 while no peak has been seen (silence).

    Parameters
    ----------
    sample_rate : float > 0 [Hz]
    n_fft : int >= 2 [samples]
    bins_per_octave : int >= 1
        Grid (12 = semitones); for :class:`Chroma` this is ``n_chroma``.
    resolution : float in (0, 0.5], ``1 / resolution`` an integer [fractions of a bin]
        Histogram bin width, and so the step of the estimate.
    threshold : float in [0, 1)
        Peak magnitude relative to the frame's maximum magnitude.
    fmin_hz, fmax_hz : float [Hz], ``0 <= fmin_hz < fmax_hz <= sample_rate / 2``
        Range of the peaks' bin centres.
    hop_length : int > 0 [samples]
        Samples between frames (``hop``; the stage itself adds no latency).

    Attributes
    ----------
    n_bins : int
        ``n_fft // 2 + 1``.
    n_hist : int
        ``round(1 / resolution)`` histogram bins.
    latency_samples : int
        0 (a frame's estimate uses that frame and earlier ones).
    hop : int
    causal : bool

    Notes
    -----
    A batch over frames is the same computation as a stream of them: per-frame histogram
    contributions are accumulated by a sequential cumulative sum starting from the running
    histogram, so any partition of the frames gives bit-identical estimates. The histogram
    never forgets (until :meth:`reset`): the estimate settles as evidence accumulates, as
    ``librosa.estimate_tuning`` over a whole file, which however takes the median-magnitude
    peaks' unweighted histogram and returns the bin's left edge.

    Real-time notes
    ---------------
    Analysis thread. The per-channel histogram is allocated on the first :meth:`process`
    (the channel count is fixed from then until :meth:`reset`). Each call allocates
    temporaries proportional to its frames (``n * n_hist`` histogram rows). Causal, no
    added latency.
    """

    causal = True

    def __init__(self, sample_rate: float = 22050.0, n_fft: int = 2048, bins_per_octave: int = 12,
                 resolution: float = 0.01, threshold: float = 0.1, fmin_hz: float = 150.0,
                 fmax_hz: float = 4000.0, *, hop_length: int = 512):
        self.sample_rate = _positive("sample_rate", sample_rate, "Hz")
        self.n_fft = _int_at_least("n_fft", n_fft, 2, "samples")
        self.bins_per_octave = _int_at_least("bins_per_octave", bins_per_octave, 1, "bins per octave")
        res = _positive("resolution", resolution, "fractions of a bin")
        n_hist = int(round(1.0 / res)) if res <= 0.5 else 0
        if res > 0.5 or abs(n_hist * res - 1.0) > 1e-9:
            raise ConfigError(f"resolution={resolution!r} must be in (0, 0.5] and divide 1 "
                              f"(1/resolution an integer) (fractions of a bin)")
        self.resolution = res
        self.n_hist = n_hist
        if not _is_real(threshold) or not 0 <= threshold < 1:
            raise ConfigError(f"threshold={threshold!r} must be a number in [0, 1) (relative magnitude)")
        self.threshold = float(threshold)
        nyq = self.sample_rate / 2.0
        if not _is_real(fmin_hz) or fmin_hz < 0:
            raise ConfigError(f"fmin_hz={fmin_hz!r} must be a finite number >= 0 (Hz)")
        if not _is_real(fmax_hz) or not fmin_hz < fmax_hz <= nyq:
            raise ConfigError(f"fmax_hz={fmax_hz!r} must be in (fmin_hz={fmin_hz}, sample_rate/2={nyq}] (Hz)")
        self.fmin_hz, self.fmax_hz = float(fmin_hz), float(fmax_hz)
        self.hop_length = _int_at_least("hop_length", hop_length, 1, "samples")
        self.hop = self.hop_length
        self.latency_samples = 0
        self.n_bins = self.n_fft // 2 + 1
        # Peak candidates: bins with both neighbours, centre frequency in range.
        df = self.sample_rate / self.n_fft
        lo = max(1, int(np.ceil(self.fmin_hz / df - 1e-9)))
        hi = min(self.n_bins - 2, int(np.floor(self.fmax_hz / df + 1e-9)))
        self._lo, self._hi = lo, max(hi, lo - 1)  # empty when hi < lo
        self._hist: np.ndarray | None = None
        self.reset()

    def reset(self) -> None:
        """Forget the histogram; estimates restart at 0.0."""
        self._channels: int | None = None
        if self._hist is not None:
            self._hist[:] = 0.0

    @property
    def tuning(self) -> np.ndarray | None:
        """Current estimate per channel [fractions of a bin], shape (C,); None before any
        input."""
        if self._channels is None:
            return None
        return self.index_to_tuning(self._argmax(self._hist))

    def index_to_tuning(self, idx: np.ndarray) -> np.ndarray:
        """Histogram bin index -> tuning [fractions of a bin] (float64), the bin centre."""
        return (np.asarray(idx) - self.n_hist // 2) * self.resolution

    def _argmax(self, H: np.ndarray) -> np.ndarray:
        idx = np.argmax(H, axis=-1)
        # No evidence (silence so far): tuning 0 (the centre bin), not the first bin.
        return np.where(H.max(axis=-1) > 0, idx, self.n_hist // 2)

    def _peaks(self, P: np.ndarray):
        """Peak (channel, frame) indices, histogram bins and weights of a batch."""
        lo, hi = self._lo, self._hi
        if hi < lo:
            e = np.zeros(0, np.int64)
            return e, e, e, np.zeros(0)
        mid = P[..., lo : hi + 1]
        left, right = P[..., lo - 1 : hi], P[..., lo + 1 : hi + 2]
        floor = (self.threshold ** 2) * P.max(axis=-1, keepdims=True, initial=0)
        c, i, k = np.nonzero((mid > left) & (mid >= right) & (mid > floor))
        tiny = np.finfo(np.float64).tiny
        a = np.log(np.maximum(left[c, i, k].astype(np.float64), tiny))
        b = np.log(np.maximum(mid[c, i, k].astype(np.float64), tiny))
        g = np.log(np.maximum(right[c, i, k].astype(np.float64), tiny))
        den = a - 2.0 * b + g  # < 0: b > a and b >= g
        d = np.clip(0.5 * (a - g) / den, -0.5, 0.5)
        log_peak = b - 0.25 * (a - g) * d  # parabola's height (log power)
        f = (k + lo + d) * (self.sample_rate / self.n_fft)
        p = self.bins_per_octave * np.log2(f / 440.0)
        dev = p - np.floor(p + 0.5)  # [-0.5, 0.5)
        j = np.mod(np.rint(dev / self.resolution).astype(np.int64) + self.n_hist // 2, self.n_hist)
        return c, i, j, np.exp(0.5 * log_peak)

    def process_index(self, P: np.ndarray) -> np.ndarray:
        """As :meth:`process`, returning histogram bin indices (int64, shape (C, n))."""
        P = np.asarray(P)
        if P.ndim != 3 or P.shape[-1] != self.n_bins:
            raise ValueError(f"spectra shape {P.shape} must be (C, n, n_bins={self.n_bins})")
        C, n, _ = P.shape
        if self._channels is None:
            if self._hist is None or self._hist.shape[0] != C:
                self._hist = np.zeros((C, self.n_hist), dtype=np.float64)
            self._channels = C
        elif C != self._channels:
            raise ValueError(f"spectra shape {P.shape} has C={C}, this stream has {self._channels}; reset() first")
        if n == 0:
            return np.zeros((C, 0), dtype=np.int64)
        c, i, j, w = self._peaks(P)
        rows = np.zeros((C, n + 1, self.n_hist), dtype=np.float64)
        rows[:, 0] = self._hist
        flat = (c * (n + 1) + i + 1) * self.n_hist + j
        rows.reshape(-1)[:] += np.bincount(flat, weights=w, minlength=rows.size)
        np.cumsum(rows, axis=1, out=rows)  # sequential: (h + c0) + c1 ... as frame by frame
        self._hist[:] = rows[:, -1]
        return self._argmax(rows[:, 1:])

    def process(self, P: np.ndarray) -> np.ndarray:
        """Add power spectra; return the tuning estimate after each frame.

        Parameters
        ----------
        P : ndarray [shape=(C, n, n_bins)], >= 0
            Power spectra ``|X|**2``.

        Returns
        -------
        tuning : ndarray [shape=(C, n), dtype=float32] [fractions of a bin]
            In ``[-0.5, 0.5)``, on the ``resolution`` grid.
        """
        return self.index_to_tuning(self.process_index(P)).astype(np.float32)


# --- the stage -------------------------------------------------------------------------------

class Chroma:
    """Streaming chroma from power spectra, at a fixed tuning or following the tuning online.

    Parameters
    ----------
    sample_rate : float > 0 [Hz]
    n_fft : int >= 2 [samples]
    n_chroma : int >= 1
    tuning : float or None [fractions of a chroma bin]
        Fixed tuning, or None to follow a :class:`TuningEstimator` (``bins_per_octave =
        n_chroma``) per channel.
    norm : {inf, 1, 2, None}
        Per-frame normalisation (:func:`normalize_frames`).
    ctroct, octwidth, base_c
        As :func:`chroma_filterbank` (its column norm is 2, as ``librosa.feature
        .chroma_stft``).
    resolution, threshold, fmin_hz, fmax_hz
        The estimator's (used only when ``tuning is None``).
    hop_length : int > 0 [samples]
        Samples between frames (``hop``).

    Attributes
    ----------
    n_bins : int
        ``n_fft // 2 + 1``.
    fb : ndarray [shape=(n_chroma, n_bins), dtype=float32]
        The filterbank at the fixed tuning (at tuning 0 when following the estimate).
    estimator : TuningEstimator or None
        The online estimator (``tuning=None``), else None.
    latency_samples : int
        0 (each frame's chroma uses that frame, and for the tuning earlier ones).
    hop : int
    causal : bool

    Notes
    -----
    With a fixed tuning every frame is :func:`chroma_stft_batch` with
    ``chroma_filterbank(sample_rate, n_fft, n_chroma, tuning, ...)``, i.e.
    ``librosa.feature.chroma_stft(S=P_T, sr=sample_rate, tuning=tuning, norm=norm,
    n_chroma=n_chroma)``. With ``tuning=None``, frame ``i`` of channel ``c`` uses the
    filterbank at the estimator's tuning after that frame (estimates live on the
    ``resolution`` grid); each channel's filterbank is rebuilt only when its quantized
    estimate changes (often at the start, rarely once it settles). This is not librosa's
    ``tuning=None``, which estimates one tuning from the whole signal before any chroma.

    Real-time notes
    ---------------
    Analysis thread. The fixed filterbank is built in ``__init__``; with online tuning a
    per-channel filterbank ``(C, n_chroma, n_bins)`` is allocated on the first call and a
    column set is recomputed (about ``n_chroma * n_bins`` exponentials) whenever a
    channel's estimate moves. Outputs are new arrays. Causal, no added latency.
    """

    causal = True

    def __init__(self, sample_rate: float = 22050.0, n_fft: int = 2048, n_chroma: int = 12,
                 tuning: float | None = 0.0, norm=np.inf, ctroct: float = 5.0,
                 octwidth: float | None = 2.0, base_c: bool = True, *, resolution: float = 0.01,
                 threshold: float = 0.1, fmin_hz: float = 150.0, fmax_hz: float = 4000.0,
                 hop_length: int = 512):
        self.norm = _check_norm("norm", norm)
        self._fb_args = dict(ctroct=ctroct, octwidth=octwidth, norm=2, base_c=bool(base_c))
        if tuning is not None:
            tuning = _finite("tuning", tuning, "fractions of a chroma bin")
        self.tuning = tuning
        # Validates sample_rate, n_fft, n_chroma and the filterbank arguments.
        self.fb = chroma_filterbank(sample_rate, n_fft, n_chroma, 0.0 if tuning is None else tuning,
                                    **self._fb_args)
        self.sample_rate, self.n_fft, self.n_chroma = float(sample_rate), int(n_fft), int(n_chroma)
        self.n_bins = self.n_fft // 2 + 1
        self.hop_length = _int_at_least("hop_length", hop_length, 1, "samples")
        self.hop = self.hop_length
        self.latency_samples = 0
        self.estimator = None if tuning is not None else TuningEstimator(
            sample_rate, n_fft, n_chroma, resolution, threshold, fmin_hz, fmax_hz, hop_length=hop_length)
        self._fbs: np.ndarray | None = None  # (C, n_chroma, n_bins) with online tuning
        self._fb_idx: np.ndarray | None = None  # (C,) estimator bin each filterbank is for
        self.reset()

    def reset(self) -> None:
        """Forget the past (the tuning estimate, when following it)."""
        if self.estimator is not None:
            self.estimator.reset()
        self._fb_idx = None

    def _filterbank(self, idx: int) -> np.ndarray:
        t = float(self.estimator.index_to_tuning(idx))
        return chroma_filterbank(self.sample_rate, self.n_fft, self.n_chroma, t, **self._fb_args)

    def process(self, P: np.ndarray) -> np.ndarray:
        """Chroma of each frame.

        Parameters
        ----------
        P : ndarray [shape=(C, n, n_bins)], >= 0
            Power spectra ``|X|**2``.

        Returns
        -------
        chroma : ndarray [shape=(C, n, n_chroma), dtype=float32]
        """
        P = np.asarray(P)
        if P.ndim != 3 or P.shape[-1] != self.n_bins:
            raise ValueError(f"spectra shape {P.shape} must be (C, n, n_bins={self.n_bins})")
        if self.estimator is None:
            return chroma_stft_batch(P, self.fb, self.norm).astype(np.float32, copy=False)
        idx = self.estimator.process_index(P)
        C, n, _ = P.shape
        if self._fb_idx is None:
            if self._fbs is None or self._fbs.shape[0] != C:
                self._fbs = np.empty((C, self.n_chroma, self.n_bins), dtype=np.float32)
            self._fb_idx = np.full(C, -1, dtype=np.int64)
        raw = np.empty((C, n, self.n_chroma), dtype=np.float32)
        for c in range(C):
            # Runs of frames with the same estimate share one filterbank.
            cuts = np.flatnonzero(np.diff(idx[c])) + 1
            for s, e in zip(np.concatenate(([0], cuts)), np.concatenate((cuts, [n]))):
                if s == e:
                    continue
                j = int(idx[c, s])
                if j != self._fb_idx[c]:
                    self._fbs[c] = self._filterbank(j)
                    self._fb_idx[c] = j
                raw[c, s:e] = P[c, s:e].astype(np.float32, copy=False) @ self._fbs[c].T
        return normalize_frames(raw, self.norm)
