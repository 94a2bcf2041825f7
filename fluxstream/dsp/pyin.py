"""Probabilistic YIN with an online fixed-lag Viterbi decoder, and stateful pitch
post-processing: median smoothing and a running tuning (A4) estimate.

All three stages take and give pitch rows ``[f0_hz, confidence, voiced]`` along the frame
axis (axis 1 of ``(channels, n_frames, 3)``, the shape of the estimators in
:mod:`fluxstream.dsp.pitch`), keep their history between calls, and give the same rows for
any partition of the frame sequence into calls (empty calls included): what a stream
delivers is what the batch computation over the whole file gives, bit for bit.

Map
---
pYIN kernels        :func:`beta_threshold_prior`, :func:`pyin_candidates`,
                    :func:`pitch_bin_frequencies`, :func:`transition_log_kernel`,
                    :func:`viterbi_step`
stages              :class:`PYin` (Mauch & Dixon 2014; online fixed-lag decoding),
                    :class:`MedianSmoother` (centred running median of f0),
                    :class:`TuningTracker` (running A4 reference from voiced f0)

Latency
-------
:class:`PYin` decides frame ``t`` when frame ``t + delay_frames`` arrives (fixed-lag
Viterbi; ``delay_frames = round(lag_s * sample_rate / hop_length)``) and the rest at
:meth:`PYin.flush`; :class:`MedianSmoother` is centred, ``width // 2`` frames late;
:class:`TuningTracker` adds no delay. Each states ``latency_samples`` and ``hop``
(``hop_length``, the samples between its input frames).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.special

from ..errors import ConfigError
from .fft import RealFFT
from .pitch import (
    _BLOCK_FRAMES,
    _FramePitch,
    _as_float32,
    _check_int,
    _check_positive,
    _check_real,
    _parabolic_offsets_at,
    _pow2_at_least,
    _too_short,
    _trough_values,
    cumulative_mean_normalized,
    trough_mask,
    yin_difference,
)

_TINY = float(np.finfo(np.float64).tiny)  # floor of the observation probabilities

__all__ = [
    "beta_threshold_prior",
    "pyin_candidates",
    "pitch_bin_frequencies",
    "transition_log_kernel",
    "viterbi_step",
    "ViterbiWorkspace",
    "PYin",
    "MedianSmoother",
    "TuningTracker",
]

_NEG = -np.inf


# -- kernels ---------------------------------------------------------------------------

def beta_threshold_prior(n_thresholds: int = 100, a: float = 2.0, b: float = 18.0) -> tuple[np.ndarray, np.ndarray]:
    """pYIN's threshold distribution: ``n_thresholds`` thresholds ``s_i = i / n`` (``i =
    1..n``) with the probabilities of a Beta(a, b) prior over the bins ``(s_{i-1}, s_i]``.

    ``P_i = I(s_i; a, b) - I(s_{i-1}; a, b)`` with ``I`` the regularized incomplete beta
    function (the Beta CDF), as ``librosa.pyin``. Beta(2, 18) has its mean at 0.1, YIN's
    usual threshold.

    Parameters
    ----------
    n_thresholds : int >= 1
    a, b : float > 0

    Returns
    -------
    thresholds : ndarray [shape=(n_thresholds,), dtype=float64]
        Ascending, ``thresholds[-1] = 1``.
    probabilities : ndarray [shape=(n_thresholds,), dtype=float64]
        Sum to 1.
    """
    n = _check_int("n_thresholds", n_thresholds, 1, "thresholds")
    a = _check_positive("beta_parameters[0]", a, "shape")
    b = _check_positive("beta_parameters[1]", b, "shape")
    edges = np.arange(n + 1, dtype=np.float64) / n
    cdf = scipy.special.betainc(a, b, edges)
    return edges[1:], np.diff(cdf)


def _threshold_tail(probabilities: np.ndarray) -> np.ndarray:
    """``tail[j] = sum_{i > j} P_i`` (``tail[0] = 1``, ``tail[n] = 0``): the mass of the
    thresholds above a value with ``j`` thresholds at or below it."""
    p = np.asarray(probabilities, dtype=np.float64)
    return np.concatenate([np.cumsum(p[::-1])[::-1], [0.0]])


def _candidates_sparse(tv: np.ndarray, thresholds: np.ndarray, tail: np.ndarray,
                       no_trough_prob: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`pyin_candidates` on 2-D ``(rows, n_lags)`` trough values (``inf`` where there
    is no trough), as (row, lag, mass) triples (a row may appear twice: its no-trough share
    is a separate entry)."""
    prefix = np.minimum.accumulate(tv, axis=-1)
    rows, lags = np.nonzero(np.isfinite(tv))
    vt = tv[rows, lags]
    before = np.where(lags > 0, prefix[rows, np.maximum(lags - 1, 0)], np.inf)  # earlier troughs' min
    keep = vt < before
    rows, lags = rows[keep], lags[keep]
    mass = tail[np.searchsorted(thresholds, vt[keep], side="right")]
    mass -= tail[np.searchsorted(thresholds, before[keep], side="right")]
    if no_trough_prob > 0:
        lowest = prefix[:, -1]  # smallest trough value (inf: no trough at all)
        r = np.nonzero(np.isfinite(lowest))[0]
        rest = no_trough_prob * (tail[0] - tail[np.searchsorted(thresholds, lowest[r], side="right")])
        rows = np.concatenate([rows, r])
        lags = np.concatenate([lags, np.argmin(tv[r], axis=-1)])
        mass = np.concatenate([mass, rest])
    return rows, lags, mass


def pyin_candidates(cmnd: np.ndarray, values: np.ndarray, thresholds: np.ndarray,
                    probabilities: np.ndarray, no_trough_prob: float) -> np.ndarray:
    """Probability of each lag being YIN's choice under the threshold prior (pYIN step 1).

    For threshold ``s_i``, YIN picks the first trough of ``cmnd`` (:func:`~fluxstream.dsp.
    pitch.trough_mask`) whose value is below ``s_i``. A trough with value ``v`` after
    earlier troughs whose smallest value is ``m`` (``inf`` if none) is therefore picked for
    the thresholds in ``(v, m]``, and gets ``sum_{v < s_i <= m} P_i`` (0 unless ``v < m``).
    Thresholds no trough is below (``s_i <=`` the smallest trough value) give
    ``no_trough_prob * P_i`` to the lowest trough, as ``librosa.pyin`` (Mauch & Dixon
    2014, sec. 2.1: YIN's fallback to the global minimum); a frame without any trough
    (silence, where ``d'`` is flat) gets nothing. (librosa spreads each threshold's mass
    over all the troughs below it with a Boltzmann prior instead of giving it to the
    first.)

    Parameters
    ----------
    cmnd : ndarray [shape=(..., n_lags)]
        Cumulative-mean-normalized difference over the lag search range.
    values : ndarray [shape=(..., n_lags)]
        The trough values compared with the thresholds (``cmnd`` itself, or its
        interpolated ordinates from :func:`~fluxstream.dsp.pitch.parabolic_vertex_values`).
    thresholds, probabilities : ndarray [shape=(n_thresholds,)]
        From :func:`beta_threshold_prior` (thresholds ascending).
    no_trough_prob : float in [0, 1]

    Returns
    -------
    mass : ndarray [shape=(..., n_lags), dtype=float64]
        Probability of each lag; the total per frame (the voicing probability) is <= 1.
    """
    cmnd = np.asarray(cmnd)
    L = cmnd.shape[-1]
    c2 = cmnd.reshape(-1, L)
    tv = np.where(trough_mask(c2), np.asarray(values, dtype=np.float64).reshape(-1, L), np.inf)
    rows, lags, m = _candidates_sparse(tv, np.asarray(thresholds, dtype=np.float64),
                                       _threshold_tail(probabilities), float(no_trough_prob))
    out = np.zeros(c2.shape)
    np.add.at(out, (rows, lags), m)
    return out.reshape(cmnd.shape)


def pitch_bin_frequencies(fmin_hz: float, fmax_hz: float, resolution: float) -> np.ndarray:
    """Centres of pYIN's pitch bins: ``fmin_hz * 2**(b resolution / 12)`` for ``b = 0 ..
    floor(12 log2(fmax/fmin) / resolution)``.

    Parameters
    ----------
    fmin_hz, fmax_hz : float [Hz]
    resolution : float > 0 [semitones]

    Returns
    -------
    freqs_hz : ndarray [shape=(n_bins,), dtype=float64] [Hz]
    """
    n = int(math.floor(12.0 * math.log2(fmax_hz / fmin_hz) / resolution + 1e-9)) + 1
    return fmin_hz * 2.0 ** (np.arange(n) * resolution / 12.0)


def transition_log_kernel(half_width: int) -> np.ndarray:
    """Log of pYIN's triangular pitch-transition weights over jumps ``-H .. H`` bins.

    ``log((H + 1 - |d|) / (H + 1))`` for ``|d| <= H`` (unnormalized: each source bin's row
    is normalized separately, see :meth:`PYin`).

    Parameters
    ----------
    half_width : int >= 0 [bins]

    Returns
    -------
    log_kernel : ndarray [shape=(2 half_width + 1,), dtype=float64]
    """
    H = int(half_width)
    d = np.arange(-H, H + 1)
    return np.log((H + 1.0 - np.abs(d)) / (H + 1.0))


class ViterbiWorkspace:
    """Buffers for :func:`viterbi_step` at a fixed batch shape: the ``-inf``-padded
    source array, its sliding-window view and the candidate and argmax arrays.

    Parameters
    ----------
    lead : tuple of int
        Leading shape of ``delta`` (e.g. ``(channels,)``).
    n_bins : int >= 1
    half_width : int >= 0 [bins]
    """

    def __init__(self, lead: tuple[int, ...], n_bins: int, half_width: int):
        n, H = int(n_bins), int(half_width)
        W = 2 * H + 1
        self.lead, self.n_bins, self.half_width = tuple(lead), n, H
        self.padded = np.full(self.lead + (2, n + 2 * H), _NEG)
        self.source = self.padded[..., H : H + n]
        st = self.padded.strides
        self.windows = np.lib.stride_tricks.as_strided(self.padded, self.lead + (2, n, W), st + (st[-1],),
                                                       writeable=False)
        self.cand = np.empty(self.lead + (2, n, W))
        self.arg = np.empty(self.lead + (2, n), dtype=np.intp)
        self.base = np.arange(0, self.cand.size, W).reshape(self.arg.shape)
        self.offset = np.arange(n) - H


def viterbi_step(delta: np.ndarray, log_kernel: np.ndarray, log_norm: np.ndarray,
                 log_stay: float, log_switch: float, log_obs: np.ndarray,
                 workspace: ViterbiWorkspace | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One Viterbi step of pYIN's HMM over (pitch bin x voiced/unvoiced) states.

    State ``s < n`` is "voiced at bin s", ``s >= n`` is "unvoiced, last pitch at bin
    s - n". The transition from ``(u, i)`` to ``(u', j)`` has probability ``T(i, j) (1 - p
    if u == u' else p)`` with the banded triangular ``T(i, j) = k(j - i) / Z_i``, so the
    maximization over sources is a banded max-plus product, done for all states at once
    with a sliding window over the pitch axis (no dense matrix): ``M_u(j) = max_{|d| <= H}
    delta_u(j - d) - log Z_{j-d} + log k(d)``, cost ``O(n (2H + 1))`` per channel.

    Parameters
    ----------
    delta : ndarray [shape=(..., 2 n)]
        Log probabilities of the best paths into each state at the previous frame.
    log_kernel : ndarray [shape=(2H + 1,)]
        :func:`transition_log_kernel`.
    log_norm : ndarray [shape=(n,)]
        ``log Z_i``, each source bin's normalization (rows are truncated at the edges).
    log_stay, log_switch : float
        ``log(1 - p)`` and ``log p``.
    log_obs : ndarray [shape=(..., 2 n)]
        Log observation probabilities of the new frame.
    workspace : ViterbiWorkspace, optional
        Buffers for this shape (made on the fly when None).

    Returns
    -------
    delta : ndarray [shape=(..., 2 n), dtype=float64]
        Log probabilities of the best paths into each state at the new frame (a new
        array).
    backpointer : ndarray [shape=(..., 2 n), dtype=int32]
        The best previous state of each state. Ties go to the lowest source bin, then to
        staying (voiced-to-voiced into voiced states, unvoiced-to-unvoiced into unvoiced).
    """
    lead = delta.shape[:-1]
    n = log_norm.shape[0]
    H = log_kernel.shape[0] // 2
    ws = workspace if workspace is not None else ViterbiWorkspace(lead, n, H)
    np.subtract(delta.reshape(lead + (2, n)), log_norm, out=ws.source)
    np.add(ws.windows, log_kernel, out=ws.cand)  # window position w: source j - H + w
    np.argmax(ws.cand, axis=-1, out=ws.arg)
    best = ws.cand.reshape(-1)[ws.base + ws.arg]  # (..., 2, n)
    src = ws.arg + ws.offset
    bv, bu = best[..., 0, :], best[..., 1, :]
    out = np.empty(lead + (2 * n,))
    bp = np.empty(lead + (2 * n,), dtype=np.int32)
    stay, switch = bv + log_stay, bu + log_switch  # into voiced
    np.maximum(stay, switch, out=out[..., :n])
    bp[..., :n] = np.where(stay >= switch, src[..., 0, :], src[..., 1, :] + n)
    switch, stay = bv + log_switch, bu + log_stay  # into unvoiced
    np.maximum(switch, stay, out=out[..., n:])
    bp[..., n:] = np.where(switch > stay, src[..., 0, :], src[..., 1, :] + n)
    out += log_obs
    return out, bp


# -- PYin ------------------------------------------------------------------------------

def _check_unit_open(name: str, value, what: str, low_open: bool = True, high: float = 1.0) -> float:
    v = _check_real(name, value, what)
    if not ((0.0 < v) if low_open else (0.0 <= v)) or not v < high:
        lo = "(0" if low_open else "[0"
        raise ConfigError(f"{name}={value!r} must be in {lo}, {high:g}) ({what})")
    return v


class PYin(_FramePitch):
    """Probabilistic YIN (Mauch & Dixon 2014) with an online fixed-lag Viterbi decoder.

    Per frame (vectorized over the frames of a call, as :class:`~fluxstream.dsp.pitch.Yin`):
    YIN's cumulative-mean-normalized difference ``d'`` over the lags of ``[fmin_hz,
    fmax_hz]``; every trough's probability of being YIN's choice when the threshold is
    drawn from a Beta prior (:func:`beta_threshold_prior`, :func:`pyin_candidates`); each
    trough's f0 (parabolic interpolation) binned on a log-frequency grid of ``resolution``
    semitones (:func:`pitch_bin_frequencies`). The observation of state "voiced at bin b"
    is the probability mass in bin ``b``; of "unvoiced", ``(1 - V) / n_bins`` with ``V``
    the frame's total mass (its voicing probability).

    Then an HMM over (pitch bin x voiced/unvoiced) with triangular pitch transitions
    (:func:`transition_log_kernel`) and voicing switches of probability ``switch_prob``,
    decoded online (:func:`viterbi_step`): the forward log probabilities and a ring of
    ``delay_frames`` backpointer arrays are kept; when frame ``t`` arrives, frame ``t -
    delay_frames`` is decided by backtracking from frame ``t``'s best state. With
    ``lag_s = 0`` each frame is decided by its own best state (forward-only, causal).
    :meth:`flush` decides the frames still open by backtracking from the last frame's best
    state, so a whole stream decoded with a lag of at least its length equals the offline
    Viterbi path.

    Parameters
    ----------
    sample_rate : float > 0 [Hz]
    frame_length : int [samples]
    fmin_hz, fmax_hz : float [Hz], ``0 < fmin_hz < fmax_hz <= sample_rate / 2``
    hop_length : int >= 1 [samples]
        Samples between consecutive input frames (sets the transition width and the
        latency).
    lag_s : float >= 0 [s]
        Decision lag of the fixed-lag decoder.
    resolution : float in (0, 1] [semitones]
        Pitch-bin width.
    n_thresholds : int >= 1
    beta_parameters : (float, float), both > 0
        Beta prior of the thresholds.
    max_transition_rate : float > 0 [octaves/s]
        Full width of the triangular transition per frame is ``max_transition_rate * 12 *
        hop_length / sample_rate`` semitones (librosa's reading: the largest jump between
        frames is half of it, ``round(width / 2 / resolution)`` bins, at least 1).
    switch_prob : float in (0, 1)
        Probability of a voiced/unvoiced switch between frames.
    no_trough_prob : float in [0, 1)
        Share of the thresholds no trough is below that goes to the lowest trough.
    win_length : int or None [samples]
    difference : {"windowed", "full"}
        The difference function, as :class:`~fluxstream.dsp.pitch.Yin` (windowed: the
        interpolated trough ordinates take part in the threshold test; full: librosa's).
    backend : {"pyfftw", "scipy"}, optional

    Attributes
    ----------
    causal : bool
        True: decisions use only frames already given (they are delayed, not predicted).
    delay_frames : int >= 0
        ``round(lag_s * sample_rate / hop_length)``.
    latency_samples : int
        ``delay_frames * hop_length``: a frame's row leaves with the frame ``delay_frames``
        later.
    hop : int
        ``hop_length`` [samples].
    n_bins : int
        Pitch bins; the HMM has ``2 n_bins`` states.
    bin_hz : ndarray [shape=(n_bins,)] [Hz]
        Bin centres.
    transition_half_width : int [bins]

    Notes
    -----
    Output rows ``[f0_hz, V, voiced]`` with ``V`` the frame's voicing probability (the
    total candidate mass, in 0..1; 0 for silence, which has no trough). A voiced frame's f0
    is the mass-weighted mean of that frame's candidate frequencies that fall in the
    decided bin (so it is not quantized to the grid), or the bin centre when the decoded
    path crosses a bin without a candidate. Unvoiced: ``[0, V, 0]``.

    Emission: after ``k`` frames have been given, ``max(0, k - delay_frames)`` rows have
    been returned, in frame order; :meth:`flush` returns the other ``min(k,
    delay_frames)`` and ends the stream (call :meth:`reset` before the next one).

    Differences from ``librosa.pyin``: trough probabilities follow the paper (each
    threshold's mass to YIN's pick, the first trough below it) rather than librosa's
    Boltzmann spread over all troughs below the threshold; the default pitch grid is 0.2
    semitones (librosa 0.1), which halves the states and cuts the decoder's cost fourfold,
    while the reported f0 is refined within the bin (librosa reports bin centres); the
    default difference function is the unbiased windowed one (librosa 0.11: full frame);
    librosa decodes offline (this is online, equal to offline once the lag covers the
    stream). Like librosa, ``max_transition_rate`` is the triangle's full width.

    Examples
    --------
    >>> import numpy as np
    >>> from fluxstream.dsp.framing import frame_signal
    >>> sr = 48000
    >>> y = np.sin(2 * np.pi * 220.0 * np.arange(sr // 4) / sr).astype(np.float32)
    >>> frames = frame_signal(y, 2048, 512)                      # (1, 24, 2048)
    >>> p = PYin(sample_rate=sr, hop_length=512, lag_s=0.05)
    >>> rows = np.concatenate([p.process(frames), p.flush()], axis=1)
    >>> rows.shape, round(float(np.median(rows[0, 4:-4, 0])))
    ((1, 24, 3), 220)

    Real-time notes
    ---------------
    Analysis thread. FFT plans, the prior, the kernel and the bin tables are made in
    ``__init__``; the decoder's state (forward log probabilities, ``delay_frames``
    backpointer arrays, the open frames' observations) is allocated on the first
    :meth:`process` call, when the channel count becomes known, and reused after
    :meth:`reset` for the same count; it takes ``(delay_frames + 1) x channels x 2 n_bins``
    values (about 7 kB per frame of lag per channel at the defaults), so a lag meant to
    cover a whole file costs memory in proportion. Nothing grows with the stream; a call
    allocates temporaries proportional to its frames. The decoder runs frame by frame (a
    Viterbi step is sequential); the YIN part is vectorized over the call's frames. Outputs
    are new arrays. Latency ``delay_frames * hop_length`` samples on top of the framing.

    References
    ----------
    M. Mauch, S. Dixon, "pYIN: A fundamental frequency estimator using probabilistic
    threshold distributions", Proc. IEEE ICASSP, 2014.
    """

    def __init__(self, *, sample_rate: float = 48000, frame_length: int = 2048, fmin_hz: float = 65.0,
                 fmax_hz: float = 2093.0, hop_length: int = 512, lag_s: float = 0.1,
                 resolution: float = 0.2, n_thresholds: int = 100,
                 beta_parameters: tuple[float, float] = (2.0, 18.0), max_transition_rate: float = 35.92,
                 switch_prob: float = 0.01, no_trough_prob: float = 0.01, win_length: int | None = None,
                 difference: str = "windowed", backend: str | None = None):
        self._common(sample_rate, frame_length, fmin_hz, fmax_hz)
        sr, N = self.sample_rate, self.frame_length
        self.hop_length = _check_int("hop_length", hop_length, 1, "samples")
        self.hop = self.hop_length
        lag = _check_real("lag_s", lag_s, "s")
        if lag < 0:
            raise ConfigError(f"lag_s={lag_s!r} must be >= 0 (s)")
        self.lag_s = lag
        self.delay_frames = int(round(lag * sr / self.hop_length))
        self.latency_samples = self.delay_frames * self.hop_length
        res = _check_positive("resolution", resolution, "semitones")
        if res > 1.0:
            raise ConfigError(f"resolution={resolution!r} must be <= 1 (semitones)")
        self.resolution = res
        try:
            a, b = beta_parameters
        except (TypeError, ValueError):
            raise ConfigError(f"beta_parameters={beta_parameters!r} must be two numbers > 0") from None
        self.thresholds, self.threshold_probs = beta_threshold_prior(n_thresholds, a, b)
        self.n_thresholds = len(self.thresholds)
        self.beta_parameters = (float(a), float(b))
        self.max_transition_rate = _check_positive("max_transition_rate", max_transition_rate, "octaves/s")
        self.switch_prob = _check_unit_open("switch_prob", switch_prob, "probability")
        self.no_trough_prob = _check_unit_open("no_trough_prob", no_trough_prob, "probability", low_open=False)
        self._u_floor_prob = max(self.no_trough_prob, _TINY)
        if difference not in ("windowed", "full"):
            raise ConfigError(f"difference={difference!r} must be 'windowed' or 'full'")
        self.difference = difference
        # Lags and difference function: as Yin.
        self.min_lag = int(math.floor(sr / self.fmax_hz))
        self.max_lag = int(math.ceil(sr / self.fmin_hz))
        if difference == "full":
            self.win_length = None
            if self.max_lag > N - 1:
                raise _too_short("PYin(difference='full')", N, self.max_lag + 1, sr, self.fmin_hz,
                                 "one period of fmin_hz plus one sample", N - 1)
            L = _pow2_at_least(N + self.max_lag)
        else:
            W = N // 2 if win_length is None else _check_int("win_length", win_length, 1, "samples")
            if W >= N:
                raise ConfigError(f"win_length={win_length!r} must be < frame_length={N} (samples)")
            if W + self.max_lag > N:
                need = 2 * self.max_lag - 1 if win_length is None else W + self.max_lag
                raise _too_short("PYin", N, need, sr, self.fmin_hz,
                                 "two periods of fmin_hz (win_length = frame_length // 2)"
                                 if win_length is None else "win_length plus one period of fmin_hz", N - W)
            self.win_length = W
            L = N
        self._fft = RealFFT(L, backend)
        self._fft.plan((1, 2 if difference == "windowed" else 1))
        self._fft.plan((1, 1), inverse=True)
        # Pitch grid and transitions.
        self.bin_hz = pitch_bin_frequencies(self.fmin_hz, self.fmax_hz, res)
        self.n_bins = n = len(self.bin_hz)
        self._u_floor = self._u_floor_prob / n
        width_semitones = self.max_transition_rate * 12.0 * self.hop_length / sr
        self.transition_half_width = H = max(1, int(round(width_semitones / 2.0 / res)))
        self._log_kernel = transition_log_kernel(H)
        k = np.exp(self._log_kernel)
        j = np.arange(n)
        # Z_i: sum of the kernel over the targets inside the grid (truncated rows).
        csum = np.concatenate([[0.0], np.cumsum(k)])
        lo_t = np.maximum(j - H, 0) - (j - H)  # first kernel tap inside the grid
        hi_t = np.minimum(j + H, n - 1) - (j - H)
        self._log_norm = np.log(csum[hi_t + 1] - csum[lo_t])
        self._log_stay = math.log1p(-self.switch_prob)
        self._log_switch = math.log(self.switch_prob)
        self._bins_per_octave = 12.0 / res
        self._tail = _threshold_tail(self.threshold_probs)
        self._C: int | None = None
        self._delta = self._bp = self._fsum = self._msum = self._vprob = self._ws = self._obs = None
        self.reset()

    # -- state --------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget the stream: the next frame is the first. Keeps the buffers. Returns None."""
        self._t = 0  # frames given
        self._emitted = 0  # rows returned
        self._flushed = False
        self._C = None

    def _bind(self, C: int) -> None:
        if self._C is None:
            n, D = self.n_bins, self.delay_frames
            R = D + 1
            if self._delta is None or self._delta.shape[0] != C:
                self._delta = np.zeros((C, 2 * n))
                self._bp = np.zeros((max(D, 1), C, 2 * n), dtype=np.int32)
                self._fsum = np.zeros((R, C, n))
                self._msum = np.zeros((R, C, n))
                self._vprob = np.zeros((R, C))
                self._ws = ViterbiWorkspace((C,), n, self.transition_half_width)
                self._obs = np.empty((C, 2 * n))
            self._C = C
        elif C != self._C:
            raise ValueError(f"frames have {C} channels, this stream has {self._C}; reset() first")

    # -- observation --------------------------------------------------------------------

    def _observe(self, x: np.ndarray):
        """Per-bin candidate mass and mass-weighted frequency sums, and V, of frames x."""
        C, m, _ = x.shape
        d = yin_difference(x, self.max_lag, self.win_length, self._fft)
        dp = cumulative_mean_normalized(d)
        lo = self.min_lag
        R = C * m
        seg = dp[..., lo:].reshape(R, -1)
        windowed = self.difference == "windowed"
        tv = _trough_values(seg, windowed)  # interpolated ordinates with "windowed", as Yin
        target = d[..., lo:].reshape(R, -1) if windowed else seg
        rows, lags, w = _candidates_sparse(tv, self.thresholds, self._tail, self.no_trough_prob)
        delta = _parabolic_offsets_at(target, rows, lags)
        f = self.sample_rate / (lags + lo + delta)
        b = np.rint(self._bins_per_octave * np.log2(f / self.fmin_hz)).astype(np.intp)
        np.clip(b, 0, self.n_bins - 1, out=b)
        n = self.n_bins
        flat = rows * n + b
        msum = np.bincount(flat, weights=w, minlength=R * n).reshape(C, m, n)
        fsum = np.bincount(flat, weights=w * f, minlength=R * n).reshape(C, m, n)
        V = np.minimum(np.bincount(rows, weights=w, minlength=R), 1.0).reshape(C, m)
        return msum, fsum, V

    def _row(self, slot: int, c: int, state: int) -> tuple[float, float, float]:
        n = self.n_bins
        V = float(self._vprob[slot, c])
        if state >= n:
            return 0.0, V, 0.0
        ms = self._msum[slot, c, state]
        f0 = float(self._fsum[slot, c, state] / ms) if ms > 0 else float(self.bin_hz[state])
        return f0, V, 1.0

    def process(self, frames: np.ndarray) -> np.ndarray:
        """Add frames; return the rows of the frames decided by them.

        Parameters
        ----------
        frames : ndarray [shape=(channels, n_frames, frame_length)]
            Unwindowed frames, ``n_frames >= 0``; channels fixed until :meth:`reset`.

        Returns
        -------
        pitch : ndarray [shape=(channels, m, 3), dtype=float32]
            ``[f0_hz, voicing probability, voiced]`` for frames ``k - delay_frames .. `` in
            order (``m`` may be 0, or less than ``n_frames`` at the start of a stream).
        """
        x = np.asarray(frames)
        if x.ndim != 3 or x.shape[-1] != self.frame_length:
            raise ValueError(f"frames shape {x.shape} must be (channels, n_frames, "
                             f"frame_length={self.frame_length})")
        if self._flushed:
            raise RuntimeError("PYin.process after flush(): call reset() first")
        C, m, _ = x.shape
        self._bind(C)
        out = np.zeros((C, m, 3), dtype=np.float32)
        if m == 0:
            return out
        x = _as_float32(x)
        n, D, R = self.n_bins, self.delay_frames, self.delay_frames + 1
        k_out = 0
        step = max(1, _BLOCK_FRAMES // C)  # observation blocks, as the frame-wise estimators
        for s0 in range(0, m, step):
            msum, fsum, V = self._observe(x[:, s0 : s0 + step])
            # Floors: a voiced bin without a candidate gets the smallest normal float (a
            # Viterbi in the probability domain with an epsilon); an unvoiced state gets at
            # least no_trough_prob / n_bins. With a voicing probability of 1 and every
            # reachable voiced bin empty (a jump wider than the transition band) all states
            # were -inf and the renormalisation below NaN; with only the epsilon, the path
            # glided through empty voiced bins (wrong pitches) instead of through unvoiced
            # states, which is what it reports now for the few frames of such a jump.
            log_v = np.log(np.maximum(msum, _TINY))
            log_u = np.log(np.maximum((1.0 - V) / n, self._u_floor))
            obs = self._obs
            for i in range(msum.shape[1]):
                t = self._t
                slot = t % R
                self._msum[slot] = msum[:, i]
                self._fsum[slot] = fsum[:, i]
                self._vprob[slot] = V[:, i]
                obs[:, :n] = log_v[:, i]
                obs[:, n:] = log_u[:, i, None]
                if t == 0:
                    np.subtract(obs, math.log(2 * n), out=self._delta)  # uniform initial states
                    if D:
                        self._bp[0] = 0
                else:
                    delta, bp = viterbi_step(self._delta, self._log_kernel, self._log_norm,
                                             self._log_stay, self._log_switch, obs, self._ws)
                    # Renormalize (the best path at 0): bounded numbers, same decisions.
                    delta -= delta.max(axis=-1, keepdims=True)
                    self._delta[...] = delta
                    if D:
                        self._bp[t % D] = bp
                self._t = t + 1
                if t >= D:  # decide frame t - D
                    best = np.argmax(self._delta, axis=-1)
                    for c in range(C):
                        s = int(best[c])
                        for back in range(D):
                            s = int(self._bp[(t - back) % D, c, s])
                        out[c, k_out] = self._row((t - D) % R, c, s)
                    k_out += 1
        self._emitted += k_out
        return out[:, :k_out]

    def flush(self) -> np.ndarray:
        """End of stream: decide the open frames by backtracking from the last frame's best
        state, and return their rows (then no more until :meth:`reset`).

        Returns
        -------
        pitch : ndarray [shape=(channels, min(k, delay_frames), 3), dtype=float32]
            Shape ``(0, 0, 3)`` when no frame was ever given.
        """
        if self._C is None:
            self._flushed = True
            return np.zeros((0, 0, 3), dtype=np.float32)
        C, D, R = self._C, self.delay_frames, self.delay_frames + 1
        t_last = self._t - 1
        u = 0 if self._flushed else self._t - self._emitted
        self._flushed = True
        out = np.zeros((C, u, 3), dtype=np.float32)
        if u == 0:
            return out
        best = np.argmax(self._delta, axis=-1)
        for c in range(C):
            s = int(best[c])
            for back in range(u):
                t = t_last - back
                out[c, u - 1 - back] = self._row(t % R, c, s)
                if back < u - 1:
                    s = int(self._bp[t % D, c, s])
        self._emitted += u
        return out

    def _estimate(self, x):  # pragma: no cover - PYin overrides process()
        raise NotImplementedError


# -- median smoothing --------------------------------------------------------------------

class MedianSmoother:
    """Centred running median of f0 over ``width`` frames, voiced frames only.

    Rule: an unvoiced row leaves unchanged (``f0 = 0``). A voiced row's f0 becomes the
    median of the voiced f0 values among the ``width`` frames centred on it (itself
    included, so there is always one); frames before the stream's start and after its end
    are absent, so the first and last ``width // 2`` windows are truncated. With an even
    number of voiced values the median is the mean of the two middle ones. Confidence and
    voiced columns pass through.

    Parameters
    ----------
    width : odd int >= 1 [frames]
    hop_length : int >= 1 [samples]
        Samples between the input frames; states ``latency_samples`` and ``hop``.

    Attributes
    ----------
    causal : bool
        True (delayed, never predicted).
    delay_frames : int
        ``width // 2``.
    latency_samples : int
        ``delay_frames * hop_length``.
    hop : int
        ``hop_length``.

    Notes
    -----
    After ``k`` frames, ``max(0, k - delay_frames)`` rows have been returned in order;
    :meth:`flush` returns the remaining ones and ends the stream (:meth:`reset` before the
    next). Any partition of the frames into calls gives the same rows.

    Examples
    --------
    >>> import numpy as np
    >>> rows = np.array([[[100, 1, 1], [101, 1, 1], [300, 1, 1], [102, 1, 1], [0, 0.1, 0]]],
    ...                 dtype=np.float32)
    >>> m = MedianSmoother(width=3)
    >>> np.concatenate([m.process(rows), m.flush()], axis=1)[0, :, 0].tolist()
    [100.5, 101.0, 102.0, 201.0, 0.0]

    Real-time notes
    ---------------
    Analysis thread. The ``(channels, 2 (width // 2), 3)`` history is allocated on the first
    :meth:`process` (channel count known) and reused after :meth:`reset`. A call allocates
    temporaries of ``(frames + width) x width`` values; outputs are new arrays.
    """

    causal = True

    def __init__(self, *, width: int = 5, hop_length: int = 512):
        w = _check_int("width", width, 1, "frames")
        if w % 2 == 0:
            raise ConfigError(f"width={width!r} must be odd (frames)")
        self.width = w
        self.hop_length = _check_int("hop_length", hop_length, 1, "samples")
        self.hop = self.hop_length
        self.delay_frames = w // 2
        self.latency_samples = self.delay_frames * self.hop_length
        self._hist: np.ndarray | None = None
        self.reset()

    def reset(self) -> None:
        """Forget the stream (keeps the buffer). Returns None."""
        self._C: int | None = None
        self._held = 0  # rows in the history: up to h of left context + h pending
        self._pending = 0  # rows given but not returned
        self._flushed = False

    def _smooth(self, ext: np.ndarray, first: int, n_out: int) -> np.ndarray:
        """Rows ``first .. first + n_out - 1`` of ``ext`` smoothed. ``ext`` holds every
        neighbour that exists; the ``h`` rows before ``ext[0]`` and after ``ext[-1]`` count
        as absent (only ever reached at the stream's start and end)."""
        h = self.delay_frames
        C = ext.shape[0]
        f = np.full((C, ext.shape[1] + 2 * h), np.nan)
        f[:, h : h + ext.shape[1]] = np.where(ext[..., 2] > 0, ext[..., 0], np.nan)
        win = np.lib.stride_tricks.sliding_window_view(f, self.width, axis=1)[:, first : first + n_out]
        srt = np.sort(win, axis=-1)  # NaN (unvoiced or absent) sort last
        cnt = np.count_nonzero(~np.isnan(srt), axis=-1)
        lo = np.maximum((cnt - 1) // 2, 0)
        hi = np.minimum(cnt // 2, self.width - 1)
        a = np.take_along_axis(srt, lo[..., None], axis=-1)[..., 0]
        b = np.take_along_axis(srt, hi[..., None], axis=-1)[..., 0]
        out = np.array(ext[:, first : first + n_out], dtype=np.float32, copy=True)
        voiced = out[..., 2] > 0  # a voiced centre is in its own window: cnt >= 1
        out[..., 0] = np.where(voiced, 0.5 * (a + b), out[..., 0])
        return out

    def _bind(self, C: int) -> None:
        if self._C is None:
            if self._hist is None or self._hist.shape[0] != C:
                self._hist = np.zeros((C, 2 * self.delay_frames, 3), dtype=np.float32)
            self._C = C
        elif C != self._C:
            raise ValueError(f"pitch has {C} channels, this stream has {self._C}; reset() first")

    def process(self, pitch: np.ndarray) -> np.ndarray:
        """Add pitch rows; return the smoothed rows that became final.

        Parameters
        ----------
        pitch : ndarray [shape=(channels, n_frames, 3)]
            ``[f0_hz, confidence, voiced]`` rows (e.g. from :class:`PYin` or a frame-wise
            estimator); ``n_frames >= 0``, channels fixed until :meth:`reset`.

        Returns
        -------
        smoothed : ndarray [shape=(channels, m, 3), dtype=float32]
            The rows of frames ``k - delay_frames`` and before not yet returned, in order.
        """
        x = np.asarray(pitch, dtype=np.float32)
        if x.ndim != 3 or x.shape[-1] != 3:
            raise ValueError(f"pitch shape {x.shape} must be (channels, n_frames, 3)")
        if self._flushed:
            raise RuntimeError("MedianSmoother.process after flush(): call reset() first")
        C, m, _ = x.shape
        self._bind(C)
        h = self.delay_frames
        if h == 0:
            return x.copy()
        held = self._held
        ext = np.concatenate([self._hist[:, 2 * h - held :], x], axis=1)
        n_out = max(0, self._pending + m - h)
        out = self._smooth(ext, held - self._pending, n_out) if n_out else np.zeros((C, 0, 3), np.float32)
        self._pending += m - n_out
        keep = min(held + m, 2 * h)  # h rows of left context + at most h pending
        self._hist[:, 2 * h - keep :] = ext[:, held + m - keep :]
        self._held = keep
        return out

    def flush(self) -> np.ndarray:
        """End of stream: the last rows (windows truncated at the end), then no more until
        :meth:`reset`.

        Returns
        -------
        smoothed : ndarray [shape=(channels, pending, 3), dtype=float32]
            Shape ``(0, 0, 3)`` when no row was ever given.
        """
        if self._C is None:
            self._flushed = True
            return np.zeros((0, 0, 3), dtype=np.float32)
        h, p = self.delay_frames, (0 if self._flushed else self._pending)
        self._flushed = True
        self._pending = 0
        if p == 0:
            return np.zeros((self._C, 0, 3), dtype=np.float32)
        ext = self._hist[:, 2 * h - self._held :]
        return self._smooth(ext, self._held - p, p)


# -- tuning ------------------------------------------------------------------------------

class TuningTracker:
    """Running estimate of the A4 reference [Hz] from voiced f0: a confidence-weighted
    circular mean of the cents deviations, with exponential forgetting.

    Each voiced row with f0 ``f`` and confidence ``w`` contributes ``w exp(2 pi i c / 100)``
    with ``c = cents_deviation(f, reference_hz)`` in ``[-50, 50)``; deviations are circular
    (+49 cents and -49 cents are 2 cents apart), hence the unit-circle mean. Per frame the
    sum decays by ``lambda = exp(-hop_length / (time_constant_s sample_rate))`` (unvoiced
    frames only decay). The estimate is ``reference_hz * 2**(c_hat / 1200)`` with ``c_hat =
    100 angle(sum) / (2 pi)``, and ``reference_hz`` until ``min_voiced`` voiced frames have
    been seen (or when the sum is 0).

    Parameters
    ----------
    sample_rate : float > 0 [Hz]
    hop_length : int >= 1 [samples]
    time_constant_s : float > 0 [s]
        Forgetting time constant.
    min_voiced : int >= 1 [frames]
        Voiced frames (with confidence > 0) before the estimate leaves ``reference_hz``.
    reference_hz : float > 0 [Hz]
        The grid the deviations are measured on, and the estimate before there is evidence.

    Attributes
    ----------
    causal : bool
        True.
    latency_samples : int
        0: a frame's estimate includes that frame.
    hop : int
        ``hop_length``.

    Examples
    --------
    >>> import numpy as np
    >>> f0 = 440.0 * 2 ** (np.array([0, 3, 7, 12, -5]) / 12) * 2 ** (20 / 1200)  # +20 cents
    >>> rows = np.stack([f0, np.ones(5), np.ones(5)], axis=-1)[None].astype(np.float32)
    >>> t = TuningTracker(min_voiced=3)
    >>> [round(float(a), 1) for a in t.process(rows)[0, :, 0]]
    [440.0, 440.0, 445.1, 445.1, 445.1]

    Real-time notes
    ---------------
    Analysis thread. Per-channel state (a complex sum and a count) is allocated on the
    first :meth:`process` and reused after :meth:`reset`. The recursion runs frame by frame
    (a few scalar operations per frame and channel); outputs are new arrays. Causal, no
    latency.
    """

    causal = True
    latency_samples = 0

    def __init__(self, *, sample_rate: float = 48000, hop_length: int = 512, time_constant_s: float = 10.0,
                 min_voiced: int = 10, reference_hz: float = 440.0):
        self.sample_rate = _check_positive("sample_rate", sample_rate, "Hz")
        self.hop_length = _check_int("hop_length", hop_length, 1, "samples")
        self.hop = self.hop_length
        self.time_constant_s = _check_positive("time_constant_s", time_constant_s, "s")
        self.min_voiced = _check_int("min_voiced", min_voiced, 1, "frames")
        self.reference_hz = _check_positive("reference_hz", reference_hz, "Hz")
        self._decay = math.exp(-self.hop_length / (self.time_constant_s * self.sample_rate))
        self._z: np.ndarray | None = None
        self.reset()

    def reset(self) -> None:
        """Forget the evidence (keeps the buffers). Returns None."""
        self._C: int | None = None
        if self._z is not None:
            self._z[:] = 0.0
            self._count[:] = 0

    def process(self, pitch: np.ndarray) -> np.ndarray:
        """Add pitch rows; return the A4 estimate after each.

        Parameters
        ----------
        pitch : ndarray [shape=(channels, n_frames, 3)]
            ``[f0_hz, confidence, voiced]`` rows.

        Returns
        -------
        a4_hz : ndarray [shape=(channels, n_frames, 1), dtype=float32] [Hz]
        """
        x = np.asarray(pitch)
        if x.ndim != 3 or x.shape[-1] != 3:
            raise ValueError(f"pitch shape {x.shape} must be (channels, n_frames, 3)")
        C, m, _ = x.shape
        if self._C is None:
            if self._z is None or self._z.shape[0] != C:
                self._z = np.zeros(C, dtype=np.complex128)
                self._count = np.zeros(C, dtype=np.int64)
            self._C = C
        elif C != self._C:
            raise ValueError(f"pitch has {C} channels, this stream has {self._C}; reset() first")
        out = np.empty((C, m, 1), dtype=np.float32)
        if m == 0:
            return out
        f = x[..., 0].astype(np.float64)
        w = np.clip(x[..., 1].astype(np.float64), 0.0, 1.0)
        use = (x[..., 2] > 0) & (f > 0) & (w > 0)
        p = np.zeros(f.shape)
        np.log2(f / self.reference_hz, out=p, where=use)
        p *= 12.0
        phase = 2.0 * np.pi * (p - np.floor(p + 0.5))  # cents deviation, as an angle
        contrib = np.where(use, w * np.exp(1j * phase), 0.0)
        lam = self._decay
        z, cnt = self._z, self._count
        ref = self.reference_hz
        for c in range(C):
            zc, nc = complex(z[c]), int(cnt[c])
            for i in range(m):
                zc = lam * zc + complex(contrib[c, i])
                nc += bool(use[c, i])
                if nc >= self.min_voiced and zc != 0:
                    out[c, i, 0] = ref * 2.0 ** (math.atan2(zc.imag, zc.real) / (2.0 * math.pi) / 12.0)
                else:
                    out[c, i, 0] = ref
            z[c], cnt[c] = zc, nc
        return out
