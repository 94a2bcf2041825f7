"""Online spectral gating: a noise profile per frequency, a mask where the signal rises
above it, the mask smoothed, applied to the STFT, and the audio resynthesised.

The method is spectral gating as described for the noisereduce package (Sainburg et al.,
2020): statistics of the noise's dB spectrum per frequency -> a threshold per frequency
-> a binary mask where the signal exceeds it -> the mask smoothed over frequency and time
-> applied to the signal's STFT -> inverse STFT. Here every step is causal and runs
frame by frame, so it can sit in a live signal path.

Module map
----------
NoiseProfile          mean and standard deviation of the noise's dB spectrum per bin,
                      learned from a clip, saved/loaded as ``.npz``
SpectralGateParams    the validated configuration of a :class:`SpectralGate`
SpectralGate          the streaming gate (blocks in, gated and delayed blocks out)
NoiseTracker          the non-stationary mode's causal per-bin noise tracker
magnitude_db          ``20 log10 |X|`` with a floor (pure kernel)
gate_mask             binary mask ``S_db > threshold_db`` (pure kernel)
freq_kernel           the triangular frequency-smoothing kernel for a bin spacing
smooth_freq           mask smoothing over frequency, renormalised at the band edges
time_weights          the triangular weights over past (and look-ahead) frames
mask_gain             ``1 - prop_decrease * (1 - mask)``
noise_db_offsets      where the mean and spread of a Gaussian noise's dB spectrum lie
                      relative to its low quantile (the non-stationary tracker's model)
truncated_mean_offset where a mean of dB values that ignores those ``c`` dB above it
                      settles, for Gaussian noise
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import scipy.ndimage
import scipy.optimize
import scipy.special

from ..errors import ConfigError
from ..params import Params, opt
from .stft import Istft, Stft, stft

__all__ = [
    "NoiseProfile",
    "SpectralGateParams",
    "SpectralGate",
    "NoiseTracker",
    "MODES",
    "magnitude_db",
    "gate_mask",
    "freq_kernel",
    "smooth_freq",
    "time_weights",
    "mask_gain",
    "noise_db_offsets",
    "truncated_mean_offset",
]

#: The gate's modes.
MODES = ("stationary", "nonstationary")

#: Floor of :func:`magnitude_db` [dB]: digital silence maps here instead of -inf.
FLOOR_DB = -200.0

#: Standard deviation of ``10 log10 P`` for an exponentially distributed power ``P``
#: (one STFT bin of Gaussian noise): ``10 log10(e) * pi / sqrt(6)`` [dB].
GAUSSIAN_DB_STD = 10 * math.log10(math.e) * math.pi / math.sqrt(6)

#: The non-stationary tracker's slow floor follows this quantile of each bin's dB values.
TRACK_QUANTILE = 0.1

#: The non-stationary tracker averages only cells less than this many Gaussian-noise
#: standard deviations (:data:`GAUSSIAN_DB_STD`) above its current mean (1.5 sigma = 8.4
#: dB; tuned on ``benchmarks/bench_denoise.py``: 2 sigma follows rising noise better but
#: lets more of the signal into the estimate, 1.5 sigma is the best overall).
TRACK_EXCLUDE_STD = 1.5

#: The slow floor lifts the non-stationary tracker's mean only to this far below the mean
#: it implies [dB]: the floor jitters by about 1.5 dB, and a signal's onset (a cell above
#: the band) must not lift the estimate by that jitter.
TRACK_FLOOR_MARGIN_DB = 2.0


# -- pure kernels ------------------------------------------------------------------------

def magnitude_db(X: np.ndarray, floor_db: float = FLOOR_DB) -> np.ndarray:
    """``20 log10 |X|`` [dB], at least ``floor_db``.

    Parameters
    ----------
    X : ndarray [shape=(...), dtype=complex64]

    Returns
    -------
    S_db : ndarray [shape=(...), dtype=float32]
    """
    P = X.real * X.real
    P += X.imag * X.imag
    np.maximum(P, np.float32(10.0 ** (floor_db / 10.0)), out=P)
    np.log10(P, out=P)
    P *= np.float32(10.0)
    return P


def gate_mask(S_db: np.ndarray, threshold_db: np.ndarray) -> np.ndarray:
    """The binary gate: 1 where ``S_db > threshold_db``, else 0 (float32).

    Parameters
    ----------
    S_db : ndarray [shape=(..., n_bins)] [dB]
    threshold_db : ndarray broadcastable to ``S_db`` [dB]
    """
    return np.greater(S_db, threshold_db).astype(np.float32)


def freq_kernel(freq_smooth_hz: float, sample_rate: float, n_fft: int) -> np.ndarray:
    """Triangular smoothing kernel over frequency, spanning ``freq_smooth_hz`` in all.

    ``m = round(freq_smooth_hz / 2 / (sample_rate / n_fft))`` bins each side of the centre,
    weights ``1 - |j| / (m + 1)`` for ``j = -m..m``; ``[1]`` when ``m = 0``. Not
    normalised (:func:`smooth_freq` normalises).

    Returns
    -------
    kernel : ndarray [shape=(2 m + 1,), dtype=float32]
    """
    m = int(round(freq_smooth_hz / 2.0 / (sample_rate / n_fft)))
    j = np.arange(-m, m + 1)
    return (1.0 - np.abs(j) / (m + 1.0)).astype(np.float32)


def smooth_freq(mask: np.ndarray, kernel: np.ndarray, norm: np.ndarray | None = None) -> np.ndarray:
    """Smooth ``mask`` along its last axis (bins) by ``kernel``, renormalised at the edges.

    ``out[k] = sum_j kernel[j] mask[k + j] / sum_j kernel[j] [0 <= k + j < n_bins]``: a
    weighted mean over the bins that exist, so the band edges are not pulled towards 0.

    Parameters
    ----------
    mask : ndarray [shape=(..., n_bins), dtype=float32]
    kernel : ndarray [shape=(2 m + 1,)]
    norm : ndarray [shape=(n_bins,)], optional
        The denominators (``smooth_freq``'s own when omitted; pass them to save the work).
    """
    if kernel.shape[0] == 1:
        return mask
    if norm is None:
        norm = scipy.ndimage.convolve1d(np.ones(mask.shape[-1], np.float32), kernel, mode="constant")
    out = scipy.ndimage.convolve1d(mask, kernel, axis=-1, mode="constant")
    out /= norm
    return out


def time_weights(n_past: int, n_future: int = 0) -> np.ndarray:
    """Triangular weights over frames ``k - n_past .. k + n_future`` for frame ``k``.

    Age ``d`` (frames before ``k``; negative: after) gets ``1 - d / (n_past + 1)`` for
    ``d >= 0`` and ``1 - |d| / (n_future + 1)`` for ``d < 0``; oldest first. Not
    normalised (the gate divides by the sum of the weights of the frames that exist).

    Returns
    -------
    w : ndarray [shape=(n_past + 1 + n_future,), dtype=float32]
    """
    past = 1.0 - np.arange(n_past, -1, -1) / (n_past + 1.0)
    future = 1.0 - np.arange(1, n_future + 1) / (n_future + 1.0)
    return np.concatenate([past, future]).astype(np.float32)


def mask_gain(mask: np.ndarray, prop_decrease: float) -> np.ndarray:
    """Gain of a smoothed mask: ``1 - prop_decrease * (1 - mask)`` (a new float32 array)."""
    g = np.subtract(np.float32(1.0), mask, dtype=np.float32)
    g *= np.float32(-prop_decrease)
    g += np.float32(1.0)
    return g


def noise_db_offsets(quantile: float = TRACK_QUANTILE) -> tuple[float, float]:
    """``(mean - quantile, std)`` of the dB value of one STFT bin of Gaussian noise [dB].

    The power ``P`` of a bin of Gaussian noise is exponential with mean ``mu``; then
    ``10 log10(P / mu)`` has mean ``-10 log10(e) * gamma`` (gamma: Euler's constant,
    -2.51 dB), standard deviation :data:`GAUSSIAN_DB_STD` (5.57 dB) and ``q``-quantile
    ``10 log10(-ln(1 - q))``. The non-stationary tracker follows the quantile; these
    offsets turn it into the mean and spread the threshold needs.
    """
    mean_rel = -10.0 * math.log10(math.e) * 0.5772156649015329
    q_rel = 10.0 * math.log10(-math.log1p(-quantile))
    return mean_rel - q_rel, GAUSSIAN_DB_STD


def truncated_mean_offset(c_db: float) -> float:
    """Where a running mean of Gaussian noise's dB values settles when it ignores every
    value ``c_db`` or more above itself, relative to the true mean of the dB values [dB].

    With ``X = 10 log10 u``, ``u ~ Exp(1)``, the fixed point ``N`` solves
    ``E[(X - N) [X < N + c]] = 0``; in closed form (``a = 10 / ln 10``,
    ``U = 10^((N + c) / 10)``, ``E1`` the exponential integral)
    ``a (-exp(-U) ln U - E1(U) - gamma) - N (1 - exp(-U)) = 0``. The answer is
    ``N + a gamma`` (the true mean is ``-a gamma``); about -0.25 dB for ``c`` = 8.4 dB.
    """
    a = 10.0 / math.log(10.0)
    gamma = 0.5772156649015329

    def g(N):
        U = 10.0 ** ((N + c_db) / 10.0)
        return a * (-math.exp(-U) * math.log(U) - scipy.special.exp1(U) - gamma) - N * (1.0 - math.exp(-U))

    N = scipy.optimize.brentq(g, -60.0, 20.0, xtol=1e-10)
    return N + a * gamma


class NoiseTracker:
    """Causal per-bin tracker of the mean of a noise's dB spectrum (non-stationary mode).

    Two estimates per bin, both in dB:

    - a fast mean ``N``: a recursive average, time constant ``noise_smooth_ms``, of the
      cells that are less than :data:`TRACK_EXCLUDE_STD` Gaussian-noise standard
      deviations above it. Noise that rises gradually stays within that band and is
      followed at this speed; a signal's onset jumps out of it and is ignored.
    - a slow floor ``Q``: a stochastic-approximation tracker of the
      :data:`TRACK_QUANTILE` quantile (``Q += e q`` when ``S > Q``, else
      ``Q -= e (1 - q)``), step ``e_k = 1 / (p min(k, K))`` with ``p`` the density of
      Gaussian noise's dB values at that quantile and ``K = time_constant_s *
      sample_rate / hop_length`` frames: the running quantile for the first
      ``time_constant_s`` (the optimal Robbins-Monro step), then a tracker whose expected
      error on Gaussian noise decays as ``exp(-t / time_constant_s)``. A signal moves it
      up by at most ``e q`` per frame.

    Where a cell is above the band, ``N`` is raised to the mean that ``Q`` implies, less
    :data:`TRACK_FLOOR_MARGIN_DB`, if it is below that, so noise that jumps up faster
    than ``N`` accepts is caught up (the low tail of the louder noise also falls inside
    the band and pulls ``N`` up: a 20 dB jump is followed within about one to three time
    constants). A signal that stays above the
    band raises ``Q``, and so the estimate, by at most ``q / p`` = 4.6 dB per
    ``time_constant_s``. The returned
    mean is ``N`` corrected for the bias of its exclusion (:func:`truncated_mean_offset`).
    A bin starts at its first frame above digital silence (``FLOOR_DB + 10`` dB), taken as
    noise; before that its mean is ``+inf`` (nothing passes, and there is nothing to pass).

    Parameters
    ----------
    shape : tuple of int
        Leading shape of the state, e.g. ``(channels, n_bins)``.
    sample_rate : int [Hz]
    hop_length : int [samples]
    time_constant_s : float > 0 [s]
    noise_smooth_ms : float > 0 [ms]

    Real-time notes
    ---------------
    The state is allocated in ``__init__``; :meth:`track` loops over the frames it is
    given (one per hop live) with a few array operations each, allocating only
    temporaries of one frame's size and its output.
    """

    def __init__(self, shape: tuple[int, ...], sample_rate: int, hop_length: int, time_constant_s: float,
                 noise_smooth_ms: float):
        q = TRACK_QUANTILE
        self._q = np.float32(q)
        self._q_offset, _ = noise_db_offsets(q)
        self._exclude = np.float32(TRACK_EXCLUDE_STD * GAUSSIAN_DB_STD)
        self._bias = np.float32(truncated_mean_offset(TRACK_EXCLUDE_STD * GAUSSIAN_DB_STD))
        u = -math.log1p(-q)
        self._density = (1.0 - q) * u * math.log(10.0) / 10.0
        self.mean = np.zeros(shape, np.float32)  # N (biased by _bias)
        self.floor = np.zeros(shape, np.float32)  # Q
        self.count = np.zeros(shape, np.float32)
        self.ready = np.zeros(shape, bool)
        self.set_time_constants(sample_rate, hop_length, time_constant_s, noise_smooth_ms)
        self.clear()

    def set_time_constants(self, sample_rate: int, hop_length: int, time_constant_s: float,
                           noise_smooth_ms: float) -> None:
        """Recompute the step sizes (the state is kept)."""
        self._max_count = np.float32(time_constant_s * sample_rate / hop_length)
        self._beta = np.float32(-math.expm1(-hop_length / (noise_smooth_ms / 1000.0 * sample_rate)))

    def clear(self) -> None:
        """Forget everything: every bin waits for its first frame."""
        self.mean.fill(0.0)
        self.floor.fill(0.0)
        self.count.fill(0.0)
        self.ready.fill(False)

    def seed(self, mean_db: np.ndarray) -> None:
        """Start every bin at a known noise mean [dB] (e.g. a profile's ``mean_db``), as
        if it had been tracked for a whole time constant."""
        self.mean[...] = mean_db + self._bias
        self.floor[...] = mean_db - np.float32(self._q_offset)
        self.count[...] = self._max_count
        self.ready[...] = True

    def track(self, S_db: np.ndarray) -> np.ndarray:
        """Feed frames ``S_db`` [shape=(n_frames, *shape)] [dB]; return the noise mean
        estimate after each [shape=(n_frames, *shape), dtype=float32] [dB]."""
        out = np.empty(S_db.shape, np.float32)
        N, Q, cnt, ready = self.mean, self.floor, self.count, self.ready
        q, beta, c, bias = self._q, self._beta, self._exclude, self._bias
        q_floor = np.float32(self._q_offset - TRACK_FLOOR_MARGIN_DB) + bias
        silent = np.float32(FLOOR_DB + 10.0)
        for i in range(S_db.shape[0]):  # sequential by nature: each frame moves the state
            s = S_db[i]
            new = ~ready & (s > silent)
            # Step of the quantile tracker: 1 / (p k) for the k-th update, at least 1 / (p K).
            step = np.float32(1.0 / self._density) / np.minimum(cnt + 1.0, self._max_count)
            dq = np.where(s > Q, step * q, step * (q - 1.0))
            dq *= ready
            Q += dq
            d = s - N
            inside = d < c
            d *= ready & inside
            d *= beta
            N += d
            # A cell above the band may be noise that jumped up: the mean the slow floor
            # implies (less a margin for its jitter) is a lower bound there. (Clamping
            # every cell would bias N up by the floor's jitter, about 1 dB.)
            np.maximum(N, Q + q_floor, out=N, where=~inside)
            cnt += ready
            if new.any():
                N[new] = s[new] + bias
                Q[new] = s[new] - np.float32(self._q_offset)
                ready |= new
            np.subtract(N, bias, out=out[i])
            out[i][~ready] = np.inf
        return out


# -- noise profile -----------------------------------------------------------------------

def _check_rate_and_size(sample_rate, n_fft) -> tuple[int, int]:
    for name, v, unit in (("sample_rate", sample_rate, "Hz"), ("n_fft", n_fft, "samples")):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ConfigError(f"{name}={v!r} must be an integer >= 1 ({unit})")
    return int(sample_rate), int(n_fft)


class _DbStats:
    """Running sums of dB values per bin (float64), pooled over frames and channels."""

    def __init__(self, n_bins: int):
        self.s = np.zeros(n_bins)
        self.ss = np.zeros(n_bins)
        self.n = 0

    def clear(self) -> None:
        self.s.fill(0.0)
        self.ss.fill(0.0)
        self.n = 0

    def add(self, S_db: np.ndarray) -> None:
        """Add ``S_db`` [shape=(..., n_bins)]."""
        flat = S_db.reshape(-1, S_db.shape[-1]).astype(np.float64)
        self.s += flat.sum(axis=0)
        self.ss += np.einsum("ij,ij->j", flat, flat)
        self.n += flat.shape[0]

    def mean_std(self) -> tuple[np.ndarray, np.ndarray]:
        mean = self.s / self.n
        var = np.maximum(self.ss / self.n - mean * mean, 0.0)
        return mean.astype(np.float32), np.sqrt(var).astype(np.float32)


@dataclass(frozen=True, eq=False)
class NoiseProfile:
    """Statistics of a noise's spectrum: mean and standard deviation of ``20 log10 |X|``
    per STFT bin (periodic Hann window of ``n_fft`` samples, unnormalised FFT).

    Parameters
    ----------
    sample_rate : int > 0 [Hz]
    n_fft : int > 0 [samples]
    mean_db : ndarray [shape=(n_fft // 2 + 1,), dtype=float32] [dB]
    std_db : ndarray [shape=(n_fft // 2 + 1,), dtype=float32] [dB], >= 0

    The arrays are stored as read-only float32 copies, so a profile can be shared between
    threads and gates.

    Examples
    --------
    >>> import numpy as np
    >>> noise = np.random.default_rng(0).standard_normal(48000).astype(np.float32) * 0.01
    >>> p = NoiseProfile.learn(noise, 48000, n_fft=1024, hop_length=256)
    >>> p.mean_db.shape, bool(abs(np.median(p.std_db) - GAUSSIAN_DB_STD) < 0.3)  # about 5.57 dB
    ((513,), True)
    """

    sample_rate: int
    n_fft: int
    mean_db: np.ndarray
    std_db: np.ndarray

    def __post_init__(self):
        sr, n_fft = _check_rate_and_size(self.sample_rate, self.n_fft)
        n_bins = n_fft // 2 + 1
        arrays = {}
        for name in ("mean_db", "std_db"):
            a = np.array(getattr(self, name), dtype=np.float32, copy=True)
            if a.shape != (n_bins,):
                raise ConfigError(f"noise profile {name} has shape {a.shape}, but n_fft={n_fft} needs "
                                  f"({n_bins},) (n_fft // 2 + 1 bins)")
            if not np.isfinite(a).all():
                raise ConfigError(f"noise profile {name} has non-finite values")
            a.flags.writeable = False
            arrays[name] = a
        if (arrays["std_db"] < 0).any():
            raise ConfigError("noise profile std_db has negative values (must be >= 0 dB)")
        object.__setattr__(self, "sample_rate", sr)
        object.__setattr__(self, "n_fft", n_fft)
        object.__setattr__(self, "mean_db", arrays["mean_db"])
        object.__setattr__(self, "std_db", arrays["std_db"])

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    def threshold_db(self, n_std: float) -> np.ndarray:
        """The gate threshold per bin, ``mean_db + n_std * std_db`` [dB]."""
        return (self.mean_db + np.float32(n_std) * self.std_db).astype(np.float32)

    @classmethod
    def learn(cls, x: np.ndarray, sample_rate: int, n_fft: int = 2048, hop_length: int = 512) -> "NoiseProfile":
        """Learn a profile from a noise clip.

        The clip is framed without padding (``center=False``: only whole frames, so its
        edges do not bias the statistics low), Hann-windowed and transformed; channels are
        pooled. Non-finite samples are taken as 0.

        Parameters
        ----------
        x : ndarray [shape=(n_samples,) or (n_samples, channels)], n_samples >= n_fft
        sample_rate : int > 0 [Hz]
        n_fft : int > 0 [samples]
        hop_length : int > 0 [samples]

        Raises
        ------
        ConfigError
            The clip is shorter than one frame, or a size is invalid.
        """
        sr, n_fft = _check_rate_and_size(sample_rate, n_fft)
        x = np.nan_to_num(np.asarray(x, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        if x.ndim not in (1, 2) or x.shape[0] < n_fft:
            raise ConfigError(f"noise clip of shape {x.shape} is shorter than one frame: it needs at "
                              f"least n_fft={n_fft} samples ({n_fft / sr:.3f} s at {sr} Hz)")
        X = stft(x, n_fft, hop_length, center=False)
        stats = _DbStats(n_fft // 2 + 1)
        stats.add(magnitude_db(X))
        mean, std = stats.mean_std()
        return cls(sr, n_fft, mean, std)

    def save(self, path) -> None:
        """Write the profile as a ``.npz`` file (numpy adds ``.npz`` to a name without it)."""
        np.savez(path, format=np.array("fluxstream.noise_profile"), version=np.array(1),
                 sample_rate=np.array(self.sample_rate), n_fft=np.array(self.n_fft),
                 mean_db=self.mean_db, std_db=self.std_db)

    @classmethod
    def load(cls, path, sample_rate: int | None = None, n_fft: int | None = None) -> "NoiseProfile":
        """Read a profile written by :meth:`save`, checking it fits the gate that will use it.

        Parameters
        ----------
        path : str or path-like
        sample_rate : int, optional [Hz]
            When given, the profile must have been learned at this rate.
        n_fft : int, optional [samples]
            When given, the profile must have this FFT size (so ``n_fft // 2 + 1`` bins).

        Raises
        ------
        ConfigError
            Not a profile file, or a sample rate or size that does not match (the message
            names both values).
        """
        try:
            with np.load(path, allow_pickle=False) as z:
                fmt = str(z["format"]) if "format" in z else ""
                missing = [k for k in ("sample_rate", "n_fft", "mean_db", "std_db") if k not in z]
                if fmt != "fluxstream.noise_profile" or missing:
                    raise ConfigError(f"{os.fspath(path)} is not a fluxstream noise profile "
                                      f"(missing: {', '.join(missing) or 'format tag'})")
                p = cls(int(z["sample_rate"]), int(z["n_fft"]), z["mean_db"], z["std_db"])
        except (OSError, ValueError) as e:
            if isinstance(e, ConfigError):
                raise
            raise ConfigError(f"cannot read noise profile {os.fspath(path)}: {e}") from None
        p.check_fits(sample_rate, n_fft, where=os.fspath(path))
        return p

    def check_fits(self, sample_rate: int | None = None, n_fft: int | None = None, where: str = "") -> None:
        """Raise :class:`ConfigError` unless the profile was made at ``sample_rate`` with
        ``n_fft`` (either may be None: not checked)."""
        what = f"noise profile {where}" if where else "noise profile"
        if sample_rate is not None and int(sample_rate) != self.sample_rate:
            raise ConfigError(f"{what} was learned at sample_rate={self.sample_rate} Hz but the gate runs "
                              f"at sample_rate={int(sample_rate)} Hz; learn a profile at this rate")
        if n_fft is not None and int(n_fft) != self.n_fft:
            raise ConfigError(f"{what} has n_fft={self.n_fft} ({self.n_bins} bins) but the gate uses "
                              f"n_fft={int(n_fft)} ({int(n_fft) // 2 + 1} bins); learn a profile "
                              "with this n_fft")


# -- the streaming gate ------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class SpectralGateParams(Params):
    """Configuration of a :class:`SpectralGate` (see there for the meaning of each field).

    Structural fields (:attr:`STRUCTURAL`) are fixed for a gate's life; the control
    fields (``n_std``, ``prop_decrease``, ``freq_smooth_hz``, ``time_smooth_ms``,
    ``time_constant_s``, ``noise_smooth_ms``) can be changed with
    :meth:`SpectralGate.set_params`.
    """

    sample_rate: int = opt(48000, int, "an integer >= 1 (Hz)", check=lambda v: v >= 1)
    channels: int = opt(1, int, "an integer >= 1 (channels)", check=lambda v: v >= 1)
    n_fft: int = opt(2048, int, "an integer >= 4 (samples)", check=lambda v: v >= 4)
    hop_length: int = opt(512, int, "an integer >= 1 (samples)", check=lambda v: v >= 1)
    mode: str = opt("stationary", str, "one of 'stationary', 'nonstationary'", choices=MODES)
    learn_s: float = opt(0.0, float, "a number >= 0 (s; 0 = no learning at the start)", check=lambda v: v >= 0)
    n_std: float = opt(1.5, float, "a finite number (standard deviations above the noise mean)")
    prop_decrease: float = opt(1.0, float, "a number in 0..1 (proportion of the gated energy removed)",
                               check=lambda v: 0.0 <= v <= 1.0)
    freq_smooth_hz: float = opt(50.0, float, "a number >= 0 (Hz; 0 = no smoothing over frequency)",
                                check=lambda v: v >= 0)
    time_smooth_ms: float = opt(20.0, float, "a number >= 0 (ms; 0 = no smoothing over time)",
                                check=lambda v: v >= 0)
    time_constant_s: float = opt(2.0, float, "a number > 0 (s)", check=lambda v: v > 0)
    lookahead_frames: int = opt(0, int, "an integer >= 0 (frames)", check=lambda v: v >= 0)
    noise_smooth_ms: float = opt(50.0, float, "a number > 0 (ms)", check=lambda v: v > 0)

    STRUCTURAL = ("sample_rate", "channels", "n_fft", "hop_length", "mode", "learn_s", "lookahead_frames")

    def validate(self) -> None:
        if self.hop_length > self.n_fft // 2:
            raise ConfigError(
                f"hop_length={self.hop_length} must be <= n_fft // 2 = {self.n_fft // 2} (samples): "
                "the Hann windows must overlap by at least half for the weighted overlap-add to "
                "rebuild every sample")
        if self.learn_s > 0:
            if self.mode != "stationary":
                raise ConfigError(f"learn_s={self.learn_s} needs mode='stationary' (mode={self.mode!r} "
                                  "tracks the noise itself)")
            if _learn_frames(round(self.learn_s * self.sample_rate), self.n_fft, self.hop_length) < 1:
                raise ConfigError(
                    f"learn_s={self.learn_s} must be 0 or at least one frame, n_fft / sample_rate = "
                    f"{self.n_fft / self.sample_rate:.4f} s")


def _learn_frames(n_samples: int, n_fft: int, hop: int) -> int:
    """Whole frames of ``n_fft`` every ``hop`` inside ``n_samples``."""
    return 0 if n_samples < n_fft else 1 + (n_samples - n_fft) // hop


class SpectralGate:
    """Streaming spectral gate: blocks in, gated blocks out, delayed by
    :attr:`latency_samples`.

    Each STFT frame (periodic Hann window, ``n_fft``, ``hop_length``, centred frames) is
    turned into dB, compared with a threshold per bin, and the binary mask is smoothed
    over frequency and over past frames (plus ``lookahead_frames`` later ones, if any),
    turned into a gain and applied to the frame, and the frames are resynthesised by
    weighted overlap-add (:class:`~fluxstream.dsp.stft.Istft`).

    Parameters
    ----------
    sample_rate : int > 0 [Hz]
    channels : int > 0
        Channels are gated independently (same profile, own masks and trackers).
    n_fft : int >= 4 [samples]
    hop_length : int in 1..n_fft // 2 [samples]
    mode : {"stationary", "nonstationary"}
        ``"stationary"``: the threshold is a fixed :class:`NoiseProfile`'s
        ``mean_db + n_std * std_db``. ``"nonstationary"``: a causal noise tracker per bin
        (:class:`NoiseTracker`) supplies the mean; no profile is needed.
    profile : NoiseProfile, optional
        Stationary mode: the noise profile (its ``sample_rate`` and ``n_fft`` must match).
        Without one (and until learning ends) a stationary gate passes its input through.
        Non-stationary mode: if given, it seeds the tracker (instead of the first frame).
    learn_s : float >= 0 [s]
        Stationary mode: learn the profile from the whole frames within the first
        ``learn_s`` seconds of the stream. While learning, the output is the input passed
        through (delayed as always); gating starts with the first frame after.
    n_std : float
        Threshold in standard deviations of the noise's dB values above their mean.
    prop_decrease : float in 0..1
        How much of the masked-out energy is removed: gain ``1 - prop_decrease * (1 -
        mask)``. 0 passes everything through (the mask is ignored).
    freq_smooth_hz : float >= 0 [Hz]
        Total width of the triangular mask smoothing over frequency (:func:`freq_kernel`).
    time_smooth_ms : float >= 0 [ms]
        Span of the triangular smoothing over past frames: ``n_past =
        round(time_smooth_ms / 1000 * sample_rate / hop_length)`` frames before the current
        one (:func:`time_weights`).
    time_constant_s : float > 0 [s]
        Non-stationary mode: time constant of the tracker's slow noise floor (its
        recovery from sudden rises of the noise; see :class:`NoiseTracker`).
    lookahead_frames : int >= 0
        Later frames included in the time smoothing (weights falling over
        ``lookahead_frames + 1`` frames); each adds ``hop_length`` samples of latency.
    noise_smooth_ms : float > 0 [ms]
        Non-stationary mode: time constant of the tracker's running mean of the cells
        below its exclusion threshold (how fast it follows gradually changing noise).

    Attributes
    ----------
    causal : bool
        True.
    latency_samples : int
        ``n_fft - hop_length + lookahead_frames * hop_length``: output sample ``j`` is
        input sample ``j - latency_samples`` (gated). 1536 samples (32 ms at 48 kHz) with
        the defaults, less than one frame.
    hop : int
        ``hop_length``.
    params : SpectralGateParams
    profile : NoiseProfile or None
        The stationary profile in use (learning replaces it when done).
    n_bins : int

    Notes
    -----
    Threshold in stationary mode, per bin ``f``: ``T_f = mean_db_f + n_std * std_db_f``;
    in non-stationary mode ``T = N + n_std * 5.57 dB`` with ``N`` the tracker's noise
    mean (5.57 dB: the spread of Gaussian noise's dB values, :data:`GAUSSIAN_DB_STD`).
    Binary mask per frame ``k``: ``m_kf = [S_kf > T_f]`` with ``S = 20 log10 |X|``.
    Smoothed mask ``M_k = sum_d w_d (K * m_{k-d}) / sum_d w_d`` over the frames that
    exist (at the stream's start and, with look-ahead, its end only the frames there are
    count), where ``K`` is :func:`smooth_freq` and ``w`` :func:`time_weights`. Output
    frame ``Y_k = X_k (1 - prop_decrease (1 - M_k))``; ``y = ISTFT(Y)`` normalised by the
    sum of squared windows, so with ``M = 1`` (or ``prop_decrease = 0``) the output is the
    input delayed by ``latency_samples`` to float32 round-off.

    Defaults were tuned on ``benchmarks/bench_denoise.py``: smoothing a binary mask over
    500 Hz (noisereduce's default) dilutes the few bins of an isolated partial or formant
    harmonic at n_fft 2048 and cost 5-6 dB of SI-SDR improvement there; 50 Hz (a 3-tap
    kernel) and 20 ms (2 past frames) were the best of the values tried.

    Input samples that are NaN or infinite are taken as 0 (the frames around them are
    gated as if they were silent). The output is float32.

    Output timing: :meth:`process` returns the samples its block completed; over a stream
    they are the input delayed by ``latency_samples``, preceded by that many zeros. When
    ``n_fft // 2`` is a multiple of ``hop_length`` and blocks are whole hops (the live
    case, block = hop = 512), every call returns exactly as many samples as it received;
    otherwise a call returns up to ``hop_length - 1`` samples fewer or more than it was
    given (the total is the same). An audio callback that needs exactly ``n`` samples
    back per call puts an output FIFO primed with ``hop_length`` zeros after the gate.
    :meth:`flush` returns the rest: after it, the stream's output is
    ``latency_samples`` samples longer than its input.

    References
    ----------
    T. Sainburg, M. Thielk, T. Q. Gentner (2020), "Finding, visualizing, and quantifying
    latent structure across diverse animal vocal repertoires", PLOS Comput. Biol. 16(10),
    and the noisereduce package's description of spectral gating.
    R. Martin (2001), "Noise power spectral density estimation based on optimal smoothing
    and minimum statistics", IEEE Trans. Speech Audio Process. 9(5); I. Cohen (2003),
    "Noise spectrum estimation in adverse environments: improved minima controlled
    recursive averaging", IEEE Trans. Speech Audio Process. 11(5) (averaging only the
    cells judged to be noise).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> noise = (0.01 * rng.standard_normal((48000, 1))).astype(np.float32)
    >>> gate = SpectralGate(profile=NoiseProfile.learn(noise, 48000))
    >>> tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(48000) / 48000)[:, None]
    >>> x = (tone + 0.01 * rng.standard_normal((48000, 1))).astype(np.float32)
    >>> y = np.concatenate([gate.process(x), gate.flush()])
    >>> y.shape, gate.latency_samples
    ((49536, 1), 1536)

    Real-time notes
    ---------------
    Analysis (or audio) thread. Everything is allocated in ``__init__``; FFT plans are
    made on the first use of a batch shape (warm up with one block before going live).
    :meth:`process` allocates temporaries the size of its block only, never anything
    that grows with the stream, and returns a new array. Causal; latency as above. The
    non-stationary tracker loops over the frames of a call in Python (one frame per hop
    live). :meth:`learn_from`, :meth:`start_learning`, :meth:`set_params` and setting
    :attr:`profile` are meant for a control queue drained between blocks, not for another
    thread racing :meth:`process`.
    """

    causal = True

    def __init__(self, sample_rate: int = 48000, channels: int = 1, n_fft: int = 2048, hop_length: int = 512,
                 mode: str = "stationary", profile: NoiseProfile | None = None, learn_s: float = 0.0,
                 n_std: float = 1.5, prop_decrease: float = 1.0, freq_smooth_hz: float = 50.0,
                 time_smooth_ms: float = 20.0, time_constant_s: float = 2.0, lookahead_frames: int = 0,
                 noise_smooth_ms: float = 50.0):
        params = SpectralGateParams(
            sample_rate=sample_rate, channels=channels, n_fft=n_fft, hop_length=hop_length, mode=mode,
            learn_s=learn_s, n_std=n_std, prop_decrease=prop_decrease, freq_smooth_hz=freq_smooth_hz,
            time_smooth_ms=time_smooth_ms, time_constant_s=time_constant_s, lookahead_frames=lookahead_frames,
            noise_smooth_ms=noise_smooth_ms)
        self._build(params, profile)

    @classmethod
    def from_params(cls, params: SpectralGateParams, profile: NoiseProfile | None = None) -> "SpectralGate":
        """A gate from a validated :class:`SpectralGateParams` (e.g. built from TOML)."""
        self = cls.__new__(cls)
        self._build(params, profile)
        return self

    def _build(self, p: SpectralGateParams, profile: NoiseProfile | None) -> None:
        self.params = p
        N, hop, C = p.n_fft, p.hop_length, p.channels
        if profile is not None:
            if not isinstance(profile, NoiseProfile):
                raise ConfigError(f"profile={profile!r} must be a NoiseProfile or None")
            profile.check_fits(p.sample_rate, N)
            if p.learn_s > 0:
                raise ConfigError(f"give profile or learn_s={p.learn_s}, not both")
        self.n_bins = F = N // 2 + 1
        self.hop = self.hop_length = hop
        self.channels = C
        self.n_fft = N
        self.lookahead_frames = L = p.lookahead_frames
        self.latency_samples = int(N - hop + L * hop)
        self._stft = Stft(N, hop, channels=C, center=True)
        self._istft = Istft(N, hop, channels=C, center=True)
        self._initial_profile = profile
        self._stats = _DbStats(F)
        self._first_full_frame = -(-(N // 2) // hop)  # frames before it include pre-stream zeros
        # Variant chosen once: the threshold source.
        self._thresholds = self._stationary if p.mode == "stationary" else self._nonstationary
        self._profile = None
        self._tracker = NoiseTracker((C, F), p.sample_rate, hop, p.time_constant_s, p.noise_smooth_ms)
        self._derive()
        self._mask_hist = np.zeros((C, self._n_taps - 1, F), np.float32)
        self._valid_hist = np.zeros(self._n_taps - 1, np.float32)
        self._x_hist = np.zeros((C, L, F), np.complex64)
        self.reset()

    def _derive(self) -> None:
        """Derived values of the control parameters (the tap count is fixed at build)."""
        p = self.params
        n_past = int(round(p.time_smooth_ms / 1000.0 * p.sample_rate / p.hop_length))
        if hasattr(self, "_n_taps") and n_past + 1 + p.lookahead_frames != self._n_taps:
            raise ConfigError(
                f"time_smooth_ms={p.time_smooth_ms} changes the number of smoothed frames "
                f"({self._n_taps - 1 - p.lookahead_frames} -> {n_past}); that is structural: "
                "build a new SpectralGate")
        self._kernel = freq_kernel(p.freq_smooth_hz, p.sample_rate, p.n_fft)
        self._fnorm = scipy.ndimage.convolve1d(np.ones(self.n_bins, np.float32), self._kernel, mode="constant")
        self._n_taps = n_past + 1 + p.lookahead_frames
        self._n_past = n_past
        self._tw = time_weights(n_past, p.lookahead_frames)
        self._prop = float(p.prop_decrease)
        self._ns_offset = np.float32(p.n_std * GAUSSIAN_DB_STD)
        self._tracker.set_time_constants(p.sample_rate, p.hop_length, p.time_constant_s, p.noise_smooth_ms)

    # -- public control --------------------------------------------------------------------

    def reset(self) -> None:
        """Forget the stream: back to the just-constructed state (the constructor's
        profile, learning from the start if ``learn_s`` > 0). Reallocates nothing."""
        p = self.params
        self._stft.reset()
        self._istft.reset()
        self._mask_hist.fill(0.0)
        self._valid_hist.fill(0.0)
        self._x_hist.fill(0)
        self._tracker.clear()
        self._n_in = 0
        self._n_out = 0
        self._flushed = False
        self._stats.clear()
        self.profile = self._initial_profile
        if p.learn_s > 0:
            n = _learn_frames(round(p.learn_s * p.sample_rate), p.n_fft, p.hop_length)
            self._learn_first = self._first_full_frame
            self._learn_last = self._learn_first + n - 1
        else:
            self._learn_first, self._learn_last = 0, -1

    @property
    def profile(self) -> NoiseProfile | None:
        """The stationary noise profile in use (None: a stationary gate passes through).
        Setting one in non-stationary mode re-seeds the tracker with its mean."""
        return self._profile

    @profile.setter
    def profile(self, value: NoiseProfile | None) -> None:
        if value is not None:
            if not isinstance(value, NoiseProfile):
                raise ConfigError(f"profile={value!r} must be a NoiseProfile or None")
            value.check_fits(self.params.sample_rate, self.params.n_fft)
        self._profile = value
        self._profile_thr = None if value is None else value.threshold_db(self.params.n_std)
        if value is not None and self.params.mode == "nonstationary":
            self._tracker.seed(value.mean_db)

    @property
    def learning(self) -> bool:
        """True while frames are being collected for a profile."""
        return self._learn_last >= self._stft.next_index

    def start_learning(self, seconds: float) -> None:
        """Learn a new stationary profile from the next ``1 + (round(seconds *
        sample_rate) - n_fft) // hop_length`` frames that start at or after the next
        sample :meth:`process` receives (the whole frames of the next ``seconds``, give or
        take one hop).

        Until it is ready the current profile stays in use (without one the output passes
        through).
        """
        try:
            s = float(seconds)
        except (TypeError, ValueError):
            s = float("nan")
        p = self.params
        n = _learn_frames(round(s * p.sample_rate), p.n_fft, p.hop_length) if math.isfinite(s) else 0
        if n < 1:
            raise ConfigError(f"seconds={seconds!r} must be at least one frame, n_fft / sample_rate = "
                              f"{p.n_fft / p.sample_rate:.4f} s")
        self._stats.clear()
        # The first frame that starts at or after the next input sample (earlier frames
        # reach back into what came before the command).
        N, hop = p.n_fft, p.hop_length
        self._learn_first = max(-(-(self._n_in + N // 2) // hop), self._first_full_frame)
        self._learn_last = self._learn_first + n - 1

    def learn_from(self, x: np.ndarray) -> NoiseProfile:
        """Learn a profile from the noise clip ``x`` now (:meth:`NoiseProfile.learn`), use
        it, and return it. Allocates: call it from the control side, between blocks."""
        p = self.params
        prof = NoiseProfile.learn(x, p.sample_rate, p.n_fft, p.hop_length)
        self.profile = prof
        return prof

    def set_params(self, **changes) -> None:
        """Change control parameters (``n_std``, ``prop_decrease``, ``freq_smooth_hz``,
        ``time_smooth_ms`` (same number of frames only), ``time_constant_s``,
        ``noise_smooth_ms``); the derived values are recomputed and the state is kept.
        Structural ones raise :class:`ConfigError`."""
        names = list(SpectralGateParams.__dataclass_fields__)
        for k in changes:
            if k not in names:
                raise ConfigError(f"unknown parameter {k}; valid: {', '.join(names)}")
            if k in SpectralGateParams.STRUCTURAL:
                raise ConfigError(f"{k} is structural: build a new SpectralGate to change it")
        old = self.params
        self.params = SpectralGateParams(**{**{k: getattr(old, k) for k in names}, **changes})
        try:
            self._derive()
        except ConfigError:
            self.params = old
            self._derive()
            raise
        self._profile_thr = None if self._profile is None else self._profile.threshold_db(self.params.n_std)

    # -- processing ------------------------------------------------------------------------

    def process(self, block: np.ndarray) -> np.ndarray:
        """Gate a block; return the output samples it completed.

        Parameters
        ----------
        block : ndarray [shape=(n_samples, channels), or (n_samples,) when mono]
            Any ``n_samples >= 0``. Not modified.

        Returns
        -------
        out : ndarray [shape=(n_out, channels), or (n_out,) for 1-D input, dtype=float32]
            The next ``n_out`` samples of the gated input delayed by ``latency_samples``
            (see the class notes for ``n_out``).
        """
        if self._flushed:
            raise RuntimeError("SpectralGate.process after flush(): call reset() first")
        x = np.asarray(block)
        mono = x.ndim == 1
        if mono and self.channels == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != self.channels:
            raise ValueError(f"block shape {np.shape(block)} does not match (n_samples, channels={self.channels})")
        if x.dtype != np.float32 or not np.isfinite(x).all():
            x = np.nan_to_num(x.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        self._n_in += x.shape[0]
        k0 = self._stft.next_index
        X = self._stft.process(x)  # (n, C, F)
        y = self._gate_frames(X, k0, real=True)
        out = self._emit(y, self._n_in)
        return out[:, 0] if mono else out

    def flush(self, mono: bool = False) -> np.ndarray:
        """End of stream: the rest of the delayed output (the tail frames, the look-ahead
        frames drained), so that the whole output is ``latency_samples`` longer than the
        input. Call :meth:`reset` before the next stream."""
        if self._flushed:
            return np.zeros((0,) if mono else (0, self.channels), np.float32)
        k0 = self._stft.next_index
        X = self._stft.flush()
        parts = [self._gate_frames(X, k0, real=True)]
        L = self.lookahead_frames
        if L:
            pad = np.zeros((L, self.channels, self.n_bins), np.complex64)
            parts.append(self._gate_frames(pad, k0 + X.shape[0], real=False))
        parts.append(self._istft.flush(end_sample=self._n_in))
        end = self._n_in + self.latency_samples
        y = np.concatenate(parts, axis=0)
        out = self._emit(y, end)
        self._flushed = True
        return out[:, 0] if mono else out

    def _emit(self, y: np.ndarray, limit: int) -> np.ndarray:
        """Prefix the latency's zeros (up to ``limit`` output samples in all) to ``y``."""
        z = max(0, min(self.latency_samples, limit) - self._n_out)
        if z:
            y = np.concatenate([np.zeros((z, self.channels), np.float32), y], axis=0)
        self._n_out += y.shape[0]
        return y

    def _stationary(self, S_db: np.ndarray, k0: int) -> np.ndarray | None:
        """Thresholds [shape broadcastable to (n, C, F)] for frames ``k0..``; None: pass."""
        return self._profile_thr

    def _nonstationary(self, S_db: np.ndarray, k0: int) -> np.ndarray:
        thr = self._tracker.track(S_db)
        thr += self._ns_offset
        return thr

    def _gate_frames(self, X: np.ndarray, k0: int, real: bool) -> np.ndarray:
        """Masks for the new frames ``X`` [shape=(n, C, F)] (starting at frame ``k0``),
        time smoothing, gain, overlap-add; returns the completed samples. ``real=False``:
        virtual frames past the end that drain the look-ahead."""
        n = X.shape[0]
        C, F = self.channels, self.n_bins
        if n == 0:
            return np.zeros((0, C), np.float32)
        if real:
            masks = self._masks(magnitude_db(X), k0)
            valid = np.ones(n, np.float32)
        else:
            masks = np.zeros((n, C, F), np.float32)
            valid = np.zeros(n, np.float32)
        # Time smoothing over [k - n_past, k + L]: windows over the history plus the new
        # frames; window j ends at new frame j and is centred on frame j - L.
        T = self._n_taps
        H = np.concatenate([self._mask_hist, np.moveaxis(masks, 0, 1)], axis=1)  # (C, T-1+n, F)
        V = np.concatenate([self._valid_hist, valid])
        M = np.zeros((C, n, F), np.float32)
        norm = np.zeros(n, np.float32)
        for t in range(T):
            w = self._tw[t]
            M += w * H[:, t : t + n]
            norm += w * V[t : t + n]
        centre_valid = V[self._n_past : self._n_past + n] > 0
        Xall = np.concatenate([self._x_hist, np.moveaxis(X, 0, 1)], axis=1) if self.lookahead_frames \
            else np.moveaxis(X, 0, 1)
        Xc = Xall[:, :n]
        if not centre_valid.all():  # stream start with look-ahead: the first centres are not frames yet
            keep = np.flatnonzero(centre_valid)
            M, norm, Xc = M[:, keep], norm[keep], Xc[:, keep]
        # Keep the newest T-1 frames of history (their masks and validity) and L spectra.
        if T > 1:
            self._mask_hist[...] = H[:, H.shape[1] - (T - 1):]
            self._valid_hist[...] = V[V.shape[0] - (T - 1):]
        if self.lookahead_frames:
            self._x_hist[...] = Xall[:, Xall.shape[1] - self.lookahead_frames:]
        if M.shape[1] == 0:
            return np.zeros((0, C), np.float32)
        M /= norm[None, :, None]
        G = mask_gain(M, self._prop)
        Y = np.moveaxis(Xc * G, 0, 1)  # (n, C, F)
        return self._istft.process(Y)

    def _masks(self, S_db: np.ndarray, k0: int) -> np.ndarray:
        """Frequency-smoothed binary masks [shape=(n, C, F)] of frames ``k0..``; learning
        frames are collected (and pass, if there is no profile yet)."""
        n = S_db.shape[0]
        k1 = k0 + n
        if self._learn_last >= k0:  # a learning window overlaps this batch
            out = np.empty_like(S_db)
            split = min(k1, self._learn_last + 1) - k0
            a, b = max(self._learn_first, k0) - k0, split
            if b > a:
                self._stats.add(S_db[a:b])
            if split:
                out[:split] = self._masks_now(S_db[:split], k0)
            if self._learn_last < k1:  # learning ends here: the new profile gates the rest
                mean, std = self._stats.mean_std()
                self.profile = NoiseProfile(self.params.sample_rate, self.params.n_fft, mean, std)
                self._learn_first, self._learn_last = 0, -1
                if split < n:
                    out[split:] = self._masks_now(S_db[split:], k0 + split)
            return out
        return self._masks_now(S_db, k0)

    def _masks_now(self, S_db: np.ndarray, k0: int) -> np.ndarray:
        thr = self._thresholds(S_db, k0)
        if thr is None:
            return np.ones_like(S_db)
        return smooth_freq(gate_mask(S_db, thr), self._kernel, self._fnorm)
