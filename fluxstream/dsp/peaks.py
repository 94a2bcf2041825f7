"""Online onset picking: from an onset detection function (ODF) to onsets, and from an
onset's frame to the sample where its attack starts.

:class:`OnsetPicker` decides, frame by frame and from past frames plus a fixed look-ahead
only, where an ODF (:mod:`fluxstream.dsp.onset`) peaks: an adaptive threshold over the past,
a local-maximum test, a minimum inter-onset interval. It reports onsets as records of
:data:`ONSET_DTYPE` with the frame the rise started, the peak frame and the frame at which
the decision was possible. Any partition of the ODF frames into calls, followed by
:meth:`OnsetPicker.flush`, gives the same onsets as one call and a flush.

:func:`refine_onset_sample` finds the attack inside a stretch of signal (a threshold on
an energy envelope of 1 ms windows, then an AIC change point on the samples);
:class:`SampleRefiner` keeps the last few frames' samples of a stream so that an onset
reported by the picker can be refined to a sample on the stream's clock.

Frame clock: frame ``k`` of a centred framing (:class:`~fluxstream.dsp.framing.Framer`
with ``center=True``) covers samples ``[k*hop - n_fft//2, k*hop + n_fft//2)``. An event at
sample ``s`` enters the analysis window of frame ``floor((s - n_fft//2) / hop) + 1``
first, which is where a difference ODF (flux, energy, ...) starts to rise, about
``n_fft / 2`` samples before the frame's reference time ``k*hop``; that is why the
sample is recovered from the frame's samples, not from ``frame * hop``.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError

__all__ = ["ONSET_DTYPE", "OnsetPicker", "refine_onset_sample", "SampleRefiner"]

#: One onset: ``channel`` and ``column`` (band) of the ODF it came from; ``frame``, the
#: first frame of its rise; ``peak_frame``, the ODF's peak; ``decided_frame``, the newest
#: frame the decision needed; ``strength``, the ODF value at the peak (as given, before any
#: normalisation). Frame indices are on the stream's frame clock.
ONSET_DTYPE = np.dtype([
    ("channel", np.int32),
    ("column", np.int32),
    ("frame", np.int64),
    ("peak_frame", np.int64),
    ("decided_frame", np.int64),
    ("strength", np.float32),
])


def _no_onsets() -> np.ndarray:
    return np.empty(0, dtype=ONSET_DTYPE)


_NEVER = np.iinfo(np.int64).min // 4  # "no onset yet": far enough back for any min_ioi


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


def _index(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}={value!r} must be an integer (frame index)")
    return int(value)


def _frames_of(seconds: float, frames_per_s: float) -> int:
    # The small tolerance keeps exact products (0.03 s * 100 frames/s) from rounding up.
    return int(math.ceil(seconds * frames_per_s - 1e-9))


def _windows(x: np.ndarray, start: int, n_out: int, size: int, op) -> np.ndarray:
    """``out[:, c] = op-reduction of x[:, start + c : start + c + size]`` for ``c <
    n_out`` (``op`` a ufunc: np.add, np.maximum; size >= 1).

    Binary doubling: reductions of 1, 2, 4, ... consecutive frames, combined along the bits
    of ``size``: about ``2 log2(size)`` vector operations instead of ``size``. Each window
    is reduced by the same expression tree whatever ``n_out`` is, so sums round the same
    for any partition of a stream into calls. The result may be a view of ``x`` (size 1).
    """
    level = x[:, start : start + n_out + size - 1]  # reductions of 1 frame
    width = 1
    out = None
    offset = 0
    bits = size
    while True:
        if bits & 1:
            part = level[:, offset : offset + n_out]
            out = part if out is None else op(out, part)
            offset += width
        bits >>= 1
        if not bits:
            return out
        level = op(level[:, :-width], level[:, width:])  # reductions of 2 * width frames
        width *= 2


# -- the picker ------------------------------------------------------------------------

class OnsetPicker:
    """Online peak picker: ODF frames in, onsets out, from the past and a fixed look-ahead.

    Parameters
    ----------
    hop_length : int > 0 [samples]
        Samples between ODF frames (converts the ``_s`` parameters to frames).
    sample_rate : float > 0 [Hz]
    threshold : float >= 0 [ODF units, or normalised units with ``norm_decay_s``]
        ``delta``: how far a peak must exceed the scaled past average. Control parameter
        (settable). No value suits every ODF: the default 5.0 (with ``ratio=1.5``) is for
        the log-compressed flux ODFs (:class:`~fluxstream.dsp.onset.SpectralFluxOdf`,
        :class:`~fluxstream.dsp.onset.SuperFluxOdf`, ``log_compression=1``) on STFT
        magnitudes of n_fft=2048 with full scale 1, where it finds clicks, noise bursts,
        plucked notes and 0.3 s attacks and ignores steady tones, silence and stationary
        noise; it scales roughly with the number of bins. Choose it per ODF, or normalise.
    ratio : float >= 0
        Multiplicative factor on the past average (1: plain mean + delta). Above 1 it keeps
        the fluctuations of a loud stationary ODF (noise) from counting. Settable.
    pre_avg_s : float >= 0 [s]
        Length of the past window of the adaptive threshold.
    pre_max_s : float >= 0 [s]
        Length of the past window a peak must be the maximum of.
    lookahead_frames : int >= 0 [frames]
        Future frames a peak must exceed. At least one later frame is always needed to know
        that the value dropped, so 0 and 1 both decide one frame after the peak.
    min_ioi_s : float >= 0 [s]
        Minimum interval between the peaks of two onsets of the same channel and column.
    method : {"mean", "median"}
        Average of the adaptive threshold.
    max_rise_frames : int >= 0 [frames]
        How far back from the peak the rise's first frame is searched.
    warmup_frames : int >= 0 [frames], or None
        No onset is reported whose peak is fewer than this many frames after the first
        frame since :meth:`reset`. None: ``pre_avg_frames`` (the threshold's window is then
        full of real frames), which also covers the ODFs' own warm-up.
    norm_decay_s : float > 0 [s], or None
        Online normalisation: divide the ODF by an exponentially decaying running maximum
        with this time constant. None: no normalisation.
    norm_floor : float > 0 [ODF units]
        With normalisation, the running maximum is never taken below this (the ODF level
        that counts as signal; keeps noise in silence from being scaled up to 1).

    Attributes
    ----------
    causal : bool
        True: decisions use past frames and ``delay_frames`` future frames.
    delay_frames : int
        ``max(1, lookahead_frames)``: a peak at frame ``p`` is decided when frame
        ``p + delay_frames`` arrives (``decided_frame``).
    latency_samples : int
        ``delay_frames * hop_length``: from the peak frame to its decision. The reported
        ``frame`` (start of the rise) can be up to ``max_rise_frames`` earlier still.
    hop : int
        ``hop_length`` [samples].
    pre_avg_frames, pre_max_frames, min_ioi_frames : int
        The windows in frames: ``ceil(seconds * sample_rate / hop_length)``.
    warmup_frames : int

    Notes
    -----
    With ``u`` the ODF of one channel and column (normalised when ``norm_decay_s`` is set:
    ``u_n = v_n / max(r_n, norm_floor)``, ``r_n = max(v_n, a r_{n-1})``,
    ``a = exp(-hop_length / (sample_rate norm_decay_s))``, ``r`` = 0 before the stream),
    frame ``p`` is an onset peak when

    1. ``u_p > ratio * avg(u_{p-A} .. u_{p-1}) + threshold`` (A = ``pre_avg_frames``,
       avg the mean or median; 0 when A = 0);
    2. ``u_p >= max(u_{p-W} .. u_{p-1})`` (W = ``pre_max_frames``);
    3. ``u_p > max(u_{p+1} .. u_{p+D})`` (D = ``delay_frames``; at :meth:`flush`, over the
       frames that exist);
    4. ``p >= start + warmup_frames``, start the first frame since :meth:`reset`;
    5. ``p - p_last >= min_ioi_frames``, ``p_last`` the last accepted peak (greedy, in
       frame order; a rejected peak does not restart the interval).

    Frames before the stream count as 0 in tests 1 and 2. A plateau peaks at its last
    frame. The onset's ``frame`` is the first frame of the rise: walking back from ``p``
    while the frame before is not higher (in the raw ODF) and still above the peak's
    threshold ``ratio * avg + threshold``, at most ``max_rise_frames`` frames and not before
    the stream. So a rise is placed where the ODF first exceeded the threshold, and a
    plateau at its first frame.

    The adaptive threshold uses past frames only (Böck, Krebs & Schedl 2012's online
    setting; Bello et al. 2005 and Dixon 2006 use centred windows, which need look-ahead).

    Examples
    --------
    >>> import numpy as np
    >>> pk = OnsetPicker(threshold=0.5, warmup_frames=0)
    >>> odf = np.zeros((1, 20, 1), np.float32); odf[0, 7:10, 0] = [1, 3, 2]
    >>> on = pk.pick(odf, 0)
    >>> int(on["frame"][0]), int(on["peak_frame"][0]), int(on["decided_frame"][0])
    (7, 8, 9)

    References
    ----------
    S. Böck, F. Krebs, M. Schedl, "Evaluating the online capabilities of onset detection
    methods", ISMIR 2012. S. Dixon, "Onset detection revisited", DAFx 2006.

    Real-time notes
    ---------------
    Analysis thread. The history (``delay_frames + max(pre_avg, pre_max, max_rise + 1)``
    frames per channel and column) is allocated on the first call (when the channel and
    column counts are known) and reused after :meth:`reset`. Each call allocates working
    arrays the size of its input plus that history, and the output; a Python loop runs over
    candidate peaks only, and over frames only when normalising. Latency
    ``delay_frames`` frames after the peak. Outputs are new arrays.
    """

    causal = True

    def __init__(self, hop_length: int = 512, sample_rate: float = 48000, threshold: float = 5.0,
                 ratio: float = 1.5, pre_avg_s: float = 0.1, pre_max_s: float = 0.03,
                 lookahead_frames: int = 0, min_ioi_s: float = 0.03, method: str = "mean",
                 max_rise_frames: int = 4, warmup_frames: int | None = None,
                 norm_decay_s: float | None = None, norm_floor: float = 1e-6):
        self.hop_length = _check_int("hop_length", hop_length, 1, " (samples)")
        self.sample_rate = _check_real("sample_rate", sample_rate, "> 0", lambda v: v > 0, " (Hz)")
        self.threshold = threshold
        self.ratio = ratio
        fps = self.sample_rate / self.hop_length
        self.pre_avg_s = _check_real("pre_avg_s", pre_avg_s, ">= 0", lambda v: v >= 0, " (s)")
        self.pre_max_s = _check_real("pre_max_s", pre_max_s, ">= 0", lambda v: v >= 0, " (s)")
        self.min_ioi_s = _check_real("min_ioi_s", min_ioi_s, ">= 0", lambda v: v >= 0, " (s)")
        self.lookahead_frames = _check_int("lookahead_frames", lookahead_frames, 0, " (frames)")
        self.max_rise_frames = _check_int("max_rise_frames", max_rise_frames, 0, " (frames)")
        if not isinstance(method, str) or method not in ("mean", "median"):
            raise ConfigError(f"method={method!r} is not an average; allowed: 'mean', 'median'")
        self.method = method
        self.pre_avg_frames = _frames_of(self.pre_avg_s, fps)
        self.pre_max_frames = _frames_of(self.pre_max_s, fps)
        self.min_ioi_frames = _frames_of(self.min_ioi_s, fps)
        self.delay_frames = max(1, self.lookahead_frames)
        self.latency_samples = self.delay_frames * self.hop_length
        self.hop = self.hop_length
        self.warmup_frames = self.pre_avg_frames if warmup_frames is None else \
            _check_int("warmup_frames", warmup_frames, 0, " (frames)")
        if norm_decay_s is None:
            self.norm_decay_s = None
            self._decay = 0.0
        else:
            self.norm_decay_s = _check_real("norm_decay_s", norm_decay_s, "> 0 (or None)", lambda v: v > 0, " (s)")
            self._decay = math.exp(-self.hop_length / (self.sample_rate * self.norm_decay_s))
        self.norm_floor = _check_real("norm_floor", norm_floor, "> 0", lambda v: v > 0, " (ODF units)")
        # History: what the oldest undecided frame needs behind it, plus the look-ahead.
        self._H = self.delay_frames + max(self.pre_avg_frames, self.pre_max_frames, self.max_rise_frames + 1)
        # Variants chosen once: the average and the normalisation.
        self._average = self._mean if method == "mean" else self._median
        self._normalise = self._running_max if norm_decay_s is not None else None
        self._hist_u = np.zeros((0, self._H))
        self._hist_v = self._hist_u
        self._r = np.zeros(0)
        self._last = np.zeros(0, dtype=np.int64)
        self.reset()

    # Control parameters: validated on every assignment.
    @property
    def threshold(self) -> float:
        return self._threshold

    @threshold.setter
    def threshold(self, value) -> None:
        self._threshold = _check_real("threshold", value, ">= 0", lambda v: v >= 0, " (ODF units)")

    @property
    def ratio(self) -> float:
        return self._ratio

    @ratio.setter
    def ratio(self, value) -> None:
        self._ratio = _check_real("ratio", value, ">= 0", lambda v: v >= 0)

    def reset(self) -> None:
        """Forget the stream: history, running maximum, last onsets, frame clock. The next
        call's ``first_index`` starts the clock. Reallocates nothing."""
        self._shape: tuple[int, int] | None = None
        self._start: int | None = None  # first frame since reset
        self._next: int | None = None  # frame index the next call must start at
        self._flushed = False
        self._hist_u[...] = 0.0
        self._hist_v[...] = 0.0
        self._r[...] = 0.0
        self._last[...] = _NEVER

    def _bind(self, C: int, M: int) -> None:
        if self._shape is None:
            L = C * M
            if self._hist_u.shape[0] != L:  # once per (re)configuration
                self._hist_u = np.zeros((L, self._H))
                self._hist_v = np.zeros((L, self._H)) if self._normalise else self._hist_u
                self._r = np.zeros(L)
                self._last = np.full(L, _NEVER, dtype=np.int64)
            self._shape = (C, M)
        elif (C, M) != self._shape:
            raise ValueError(f"odf shape ({C}, n, {M}) does not match (channels, n_frames, n_columns)="
                             f"({self._shape[0]}, n, {self._shape[1]}) of this stream: reset() first")

    def pick(self, odf: np.ndarray, first_index: int | None = None) -> np.ndarray:
        """Add ODF frames; return the onsets they decided.

        Parameters
        ----------
        odf : ndarray [shape=(channels, n_frames, n_columns)], real
            Any ``n_frames >= 0``. A scalar ODF is one column; a band ODF has one column per
            band. Channels and columns fixed between resets.
        first_index : int, optional
            Frame index of ``odf[:, 0]`` on the stream's frame clock. The first call after
            :meth:`reset` sets the clock (None: 0); later calls must continue it (None: they
            do), else ValueError.

        Returns
        -------
        onsets : ndarray [shape=(n_onsets,), dtype=ONSET_DTYPE]
            Ordered by peak frame, then channel, then column.
        """
        x = np.asarray(odf)
        if x.ndim != 3 or x.dtype.kind not in "fiu":
            raise ValueError(f"odf shape {x.shape} dtype {x.dtype} must be real (channels, n_frames, n_columns)")
        if self._flushed:
            raise RuntimeError("OnsetPicker.pick after flush(): call reset() first")
        C, n, M = x.shape
        self._bind(C, M)
        if self._next is None:
            self._start = self._next = 0 if first_index is None else _index("first_index", first_index)
        elif first_index is not None and _index("first_index", first_index) != self._next:
            raise ValueError(f"first_index={first_index} but the next frame of this stream is {self._next} "
                             "(frames missing or repeated): reset() to start a new stream")
        if n == 0:
            return _no_onsets()
        H, D = self._H, self.delay_frames
        first = self._next
        if n == 1 and C * M == 1 and D >= 1 and self._normalise is None and first - D >= self._start:
            # A live hop: one new frame decides one candidate, which is almost never a local
            # maximum. That test on Python floats (a maximum is exact in any order) settles
            # the common case; a candidate that passes goes through the general path below.
            v = float(x[0, 0, 0])
            W = self.pre_max_frames
            tail = self._hist_v[0, H - D - W :].tolist()
            tail.append(v)
            c = tail[W]
            if not (c > max(tail[W + 1 :]) and (not W or c >= max(tail[:W]))):
                h = self._hist_v
                h[:, :-1] = h[:, 1:]
                h[:, -1] = v
                self._next = first + 1
                return _no_onsets()
        ext_v = np.empty((C * M, H + n))
        ext_v[:, :H] = self._hist_v
        ext_v[:, H:] = x.transpose(0, 2, 1).reshape(C * M, n)
        if self._normalise is None:
            ext_u = ext_v
        else:
            ext_u = np.empty_like(ext_v)
            ext_u[:, :H] = self._hist_u
            self._normalise(ext_v[:, H:], ext_u[:, H:])
        newest = first + n - 1
        p0 = max(first - D, self._start)
        out = self._decide(ext_u, ext_v, first - H, p0, newest - D, None)
        self._hist_v[...] = ext_v[:, n:]
        if self._normalise is not None:
            self._hist_u[...] = ext_u[:, n:]
        self._next = newest + 1
        return out

    def flush(self) -> np.ndarray:
        """End of stream: the onsets among the last ``delay_frames`` frames, whose future
        test runs over the frames that exist (the last frame passes it). Then no more
        frames until :meth:`reset`.

        Returns
        -------
        onsets : ndarray [shape=(n_onsets,), dtype=ONSET_DTYPE]
            ``decided_frame`` is the last frame of the stream.
        """
        if self._flushed or self._next is None or self._next == self._start:
            self._flushed = True
            return _no_onsets()
        self._flushed = True
        H, D = self._H, self.delay_frames
        L = self._hist_u.shape[0]
        pad = np.full((L, D), -np.inf)  # no frame after the end: the future test passes
        ext_u = np.concatenate((self._hist_u, pad), axis=1)
        ext_v = ext_u if self._normalise is None else np.concatenate((self._hist_v, pad), axis=1)
        newest = self._next - 1
        return self._decide(ext_u, ext_v, self._next - H, max(self._next - D, self._start), newest, newest)

    # -- internals ---------------------------------------------------------------------

    def _running_max(self, v: np.ndarray, u: np.ndarray) -> None:
        """``u = v / max(r, floor)`` with the decaying running maximum ``r``, frame by frame
        (a recursion: the same operations in the same order for any partition)."""
        r, a, floor = self._r, self._decay, self.norm_floor
        den = np.empty_like(r)
        for j in range(v.shape[1]):
            np.maximum(v[:, j], r * a, out=r)
            np.maximum(r, floor, out=den)
            np.divide(v[:, j], den, out=u[:, j])

    def _mean(self, ext: np.ndarray, i0: int, i1: int) -> np.ndarray:
        A = self.pre_avg_frames
        s = _windows(ext, i0 - A, i1 - i0, A, np.add)
        return s * (1.0 / A)

    def _median(self, ext: np.ndarray, i0: int, i1: int) -> np.ndarray:
        A = self.pre_avg_frames
        # Windows as a strided view of the (contiguous) ext: no copy, no helper overhead.
        s0, s1 = ext.strides
        win = np.ndarray((ext.shape[0], i1 - i0, A), ext.dtype, ext, (i0 - A) * s1, (s0, s1, s1))
        h = A // 2
        if A % 2:
            return np.partition(win, h, axis=-1)[..., h]
        part = np.partition(win, (h - 1, h), axis=-1)
        return (part[..., h - 1] + part[..., h]) * 0.5

    def _decide(self, ext_u, ext_v, base: int, p0: int, p1: int, decided: int | None) -> np.ndarray:
        """Onsets with peaks p0..p1; ``ext[:, i]`` is frame ``base + i``; ``decided`` None
        means ``p + delay_frames``."""
        if p1 < p0:
            return _no_onsets()
        i0, i1 = p0 - base, p1 - base + 1
        up = ext_u[:, i0:i1]
        # The cheap local-maximum tests first: most frames fail them and skip the average.
        ok = up > _windows(ext_u, i0 + 1, i1 - i0, self.delay_frames, np.maximum)
        if self.pre_max_frames:
            W = self.pre_max_frames
            ok &= up >= _windows(ext_u, i0 - W, i1 - i0, W, np.maximum)
        if not ok.any():
            return _no_onsets()
        if self.pre_avg_frames:
            level = self._average(ext_u, i0, i1) * self._ratio + self._threshold
        else:
            level = np.full_like(up, self._threshold)
        ok &= up > level
        warm = self._start + self.warmup_frames - p0  # columns before it are in the warm-up
        if warm > 0:
            ok[:, :warm] = False
        cols, lanes = np.nonzero(ok.T)  # frame-major order
        if cols.size == 0:
            return _no_onsets()
        M = self._shape[1]
        R, ioi, start, last = self.max_rise_frames, self.min_ioi_frames, self._start, self._last
        rows = []
        for c, lane in zip(cols.tolist(), lanes.tolist()):
            p = p0 + c
            if p - last[lane] < ioi:
                continue
            last[lane] = p
            i = i0 + c
            lv = level[lane, c]
            u, v = ext_u[lane], ext_v[lane]
            q = i
            stop = max(start - base, i - R)
            while q > stop and v[q - 1] <= v[q] and u[q - 1] > lv:
                q -= 1
            rows.append((lane // M, lane % M, base + q, p, p + self.delay_frames if decided is None else decided,
                         v[i]))
        return np.array(rows, dtype=ONSET_DTYPE)


# -- sample-accurate refinement --------------------------------------------------------

def _window_samples(window_ms: float, sample_rate: float) -> int:
    return max(1, int(round(window_ms * sample_rate / 1000.0)))


def refine_onset_sample(x: np.ndarray, start: int, stop: int, sample_rate: float, window_ms: float = 1.0,
                        fraction: float = 0.1) -> int:
    """The sample where an attack starts in ``x[start:stop]``: an energy-envelope threshold
    locates it, an AIC change point places it.

    1. Envelope: the mean square over ``w = round(window_ms * sample_rate / 1000)`` samples
       ending at each block of ``h = w // 4`` samples from ``start`` (samples of ``x``
       before ``start`` serve as context; samples before ``x[0]`` count as 0). The attack
       is its largest rise, ``t* = argmax_t (e_t - min_{t' <= t} e_t')``, from the last
       minimum ``t0`` before it; ``j`` is the last sample of the first block in
       ``(t0, t*]`` with ``e_t > e_t0 + fraction (e_t* - e_t0)``: a threshold on the energy
       envelope, as for the start of an attack in Peeters 2004. This brackets the onset:
       ``j`` is late by up to ``h`` samples plus ``fraction * w`` on a step, more on a tone
       whose energy builds up over its first period.
    2. Change point: on the raw samples ``y = x[a:b]``, ``a = max(0, j - 4w)``,
       ``b = min(stop, j + w)``, the onset is ``a + argmin_k AIC(k)`` over ``k >= 1`` with
       ``a + k <= j`` (then at least ``start``),
       ``AIC(k) = k log var(y[:k]) + (N - k - 1) log var(y[k:])``
       (Maeda 1985; the direct-waveform AIC picker of seismic phase arrivals, Zhang et
       al. 2003): the sample that best splits the stretch into a quieter and a louder
       part. Variances have a floor of ``1e-12`` times the stretch's mean square.

    A click, a step or a noise burst after silence or steady noise is found to the sample;
    a plucked tone typically within 0.2 ms (worse, up to about 2 ms, when it starts at a
    low instantaneous level over the ringing of an earlier note).

    Parameters
    ----------
    x : ndarray [shape=(n_samples,)], real
    start, stop : int, 0 <= start < stop <= n_samples
        The stretch searched.
    sample_rate : float > 0 [Hz]
    window_ms : float > 0 [ms]
        Envelope window.
    fraction : float in (0, 1)
        Share of the rise the envelope must exceed in step 1.

    Returns
    -------
    index : int
        Index into ``x``, in ``[start, stop)``. ``start`` when the envelope never rises
        (silence, or a steady or falling level).

    References
    ----------
    G. Peeters, "A large set of audio features for sound description", IRCAM, 2004.
    N. Maeda, "A method for reading and checking phase times in auto-processing system of
    seismic wave data", Zisin 38, 1985. H. Zhang, C. Thurber, C. Rowe, "Automatic P-wave
    arrival detection and picking with multiscale wavelet analysis for single-component
    recordings", BSSA 93(5), 2003.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros(1000, np.float32); x[600] = 1.0
    >>> refine_onset_sample(x, 0, 1000, 48000)
    600
    """
    sr = _check_real("sample_rate", sample_rate, "> 0", lambda v: v > 0, " (Hz)")
    window_ms = _check_real("window_ms", window_ms, "> 0", lambda v: v > 0, " (ms)")
    fraction = _check_real("fraction", fraction, "in (0, 1)", lambda v: 0 < v < 1)
    x = np.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"x shape {x.shape} must be (n_samples,)")
    start, stop = _index("start", start), _index("stop", stop)
    if not 0 <= start < stop <= x.shape[0]:
        raise ValueError(f"start={start}, stop={stop} must satisfy 0 <= start < stop <= len(x)={x.shape[0]}")
    return _attack(x, start, stop, _window_samples(window_ms, sr), fraction)


def _attack(x: np.ndarray, start: int, stop: int, w: int, fraction: float) -> int:
    """Index in ``x`` of the attack in ``x[start:stop]`` (see :func:`refine_onset_sample`)."""
    j = _envelope_crossing(x, start, stop, w, fraction)
    if j is None:
        return start
    a, b = max(0, j - 4 * w), min(stop, j + w)  # may reach before start: context, as in step 1
    if j == 0 or b - a < 2:
        return j  # nothing before x[0] to split off
    return max(start, a + _aic_change(x[a:b], j - a))


def _envelope_crossing(x: np.ndarray, start: int, stop: int, w: int, fraction: float) -> int | None:
    """Step 1: index in ``x`` by which the envelope crossed its threshold (None: no rise).

    The envelope is evaluated every ``h = w // 4`` samples (window sums of ``w // h``
    blocks of ``h``): step 2 places the onset to the sample, so step 1 only has to bracket
    it, and blocks cost a fraction of per-sample running sums.
    """
    h = max(1, w // 4)
    m = max(1, round(w / h))  # blocks per window
    n_blk = -(-(stop - start) // h)
    ctx = min(start, (m - 1) * h)  # context that exists; the rest of the first window is 0
    sq = np.zeros((m - 1 + n_blk) * h)
    seg = sq[(m - 1) * h - ctx : (m - 1) * h + stop - start]
    seg[...] = x[start - ctx : stop]
    np.multiply(seg, seg, out=seg)
    b = sq.reshape(-1, h) @ np.ones(h)  # block sums (a matrix product: faster than sum(axis=1))
    e = b[m - 1 :].copy()  # window sums ending with each block (w * envelope)
    for d in range(1, m):
        e += b[m - 1 - d : m - 1 - d + n_blk]
    low = np.minimum.accumulate(e)
    rise = np.subtract(e, low)
    jp = int(np.argmax(rise))
    if not rise[jp] > 0:
        return None
    i0 = jp - int(np.argmax(e[jp::-1] == low[jp]))  # the last minimum before the largest rise
    lvl = e[i0] + fraction * (e[jp] - e[i0])
    i = i0 + 1 + int(np.argmax(e[i0 + 1 : jp + 1] > lvl))
    return min(stop - 1, start + (i + 1) * h - 1)  # the last sample of the crossing block


def _aic_change(y: np.ndarray, k_max: int) -> int:
    """Step 2: ``argmin_k AIC(k)`` for ``1 <= k <= min(k_max, N - 1)`` on ``y`` (N >= 2)."""
    y = y.astype(np.float64)
    N = y.shape[0]
    K = min(k_max, N - 1)
    c1 = np.cumsum(y)
    np.multiply(y, y, out=y)
    c2 = np.cumsum(y)
    k = np.arange(1.0, K + 1.0)
    n2 = N - k
    floor = 1e-12 * c2[-1] / N + 1e-300
    # Variances of y[:k] and y[k:]: E[y^2] - E[y]^2 from the running sums.
    m = c1[:K] / k
    v1 = c2[:K] / k
    v1 -= m * m
    m = (c1[-1] - c1[:K]) / n2
    v2 = (c2[-1] - c2[:K]) / n2
    v2 -= m * m
    np.maximum(v1, 0.0, out=v1)
    v1 += floor
    np.maximum(v2, 0.0, out=v2)
    v2 += floor
    aic = np.log(v1, out=v1)
    aic *= k
    n2 -= 1
    n2 *= np.log(v2, out=v2)
    aic += n2
    return int(np.argmin(aic)) + 1


class SampleRefiner:
    """Keeps the last frames' samples of a stream and refines onset frames to samples.

    Fed the engine's time-domain frames every tick, it rebuilds the signal from each
    frame's new samples into a short history; :meth:`refine` then locates an attack inside
    a recent frame with :func:`refine_onset_sample`.

    Parameters
    ----------
    n_fft : int > 0 [samples]
        Frame length.
    hop_length : int in 1..n_fft [samples]
        Samples between frames (frames must overlap or touch, so that the signal can be
        rebuilt).
    history_frames : int >= 1 [frames]
        How many of the most recent frames :meth:`refine` can reach. The picker's onsets
        arrive ``delay_frames`` plus up to ``max_rise_frames`` frames after their frame, so
        this must exceed that sum.
    center : bool
        Centred framing: frame ``k`` covers samples ``[k*hop - n_fft//2, k*hop +
        n_fft//2)``; otherwise ``[k*hop, k*hop + n_fft)``.
    sample_rate : float > 0 [Hz]
    window_ms : float > 0 [ms]
        Envelope window of :func:`refine_onset_sample`.
    fraction : float in (0, 1)
        Share of the attack's energy rise whose crossing brackets it (step 1 of
        :func:`refine_onset_sample`).

    Attributes
    ----------
    causal : bool
        True.
    latency_samples : int
        0: :meth:`process` needs only the frame itself, and :meth:`refine` only frames
        already given.
    hop : int
        ``hop_length`` [samples].

    Notes
    -----
    :meth:`refine` searches frame ``k``'s samples ``[k*hop - off, k*hop - off + n_fft)``
    (``off = n_fft//2`` when centred, else 0), clipped to sample 0: an event first shows
    in a difference ODF at the frame whose newest hop contains it (or the next frame, whose
    span also holds it), which is where :class:`OnsetPicker` places the start of the rise.
    Only that frame is searched, so a second event a hop later does not capture the
    refinement. Up to ``4 w`` samples before the span serve as context (``w`` the envelope
    window in samples).

    :meth:`process` returns each frame's mean square ``mean(x**2)`` (shape ``(channels,
    n_frames, 1)``), a by-product that makes it a regular stage.

    Examples
    --------
    >>> import numpy as np
    >>> from fluxstream.dsp.framing import frame_signal
    >>> x = np.zeros(48000, np.float32); x[10000] = 1.0
    >>> frames = frame_signal(x, 2048, 512)            # (1, n_frames, 2048)
    >>> sr_ = SampleRefiner(history_frames=200)
    >>> _ = sr_.process(frames, 0)
    >>> sr_.refine(0, 18)                              # frame 18 covers 8192..10239
    10000

    Real-time notes
    ---------------
    Analysis thread. The sample history (``2 * ((history_frames - 1) * hop + n_fft + 4 w)``
    float32 per channel) is allocated on the first call (channels known then) and reused
    after :meth:`reset`; a call larger than it keeps only its tail. :meth:`process` copies
    each frame's new hop into the history (amortised compaction, no growth) and allocates
    its output. :meth:`refine` allocates a few arrays of about ``n_fft`` samples (some 50 us
    per call at n_fft=2048; once per onset, not per hop). Causal, no look-ahead.
    """

    causal = True
    latency_samples = 0

    def __init__(self, n_fft: int = 2048, hop_length: int = 512, history_frames: int = 16, center: bool = True,
                 sample_rate: float = 48000, window_ms: float = 1.0, fraction: float = 0.1):
        self.n_fft = _check_int("n_fft", n_fft, 1, " (samples)")
        self.hop_length = _check_int("hop_length", hop_length, 1, " (samples)")
        if self.hop_length > self.n_fft:
            raise ConfigError(f"hop_length={hop_length!r} must be <= n_fft={self.n_fft} (samples): frames with "
                              "gaps between them cannot rebuild the signal")
        self.history_frames = _check_int("history_frames", history_frames, 1, " (frames)")
        self.center = bool(center)
        self.sample_rate = _check_real("sample_rate", sample_rate, "> 0", lambda v: v > 0, " (Hz)")
        self.window_ms = _check_real("window_ms", window_ms, "> 0", lambda v: v > 0, " (ms)")
        self.fraction = _check_real("fraction", fraction, "in (0, 1)", lambda v: 0 < v < 1)
        self.hop = self.hop_length
        self._off = self.n_fft // 2 if self.center else 0
        self._w = _window_samples(self.window_ms, self.sample_rate)
        # Samples to keep: the oldest reachable frame's span and the context before it.
        self._keep = (self.history_frames - 1) * self.hop_length + self.n_fft + 4 * self._w
        self._buf = np.zeros((0, 2 * self._keep), dtype=np.float32)
        self.reset()

    def reset(self) -> None:
        """Forget the samples and the frame clock. Reallocates nothing."""
        self._C: int | None = None
        self._next: int | None = None  # next frame index expected
        self._first = 0  # first frame given since reset (valid once _fill > 0)
        self._fill = 0  # valid samples at the start of the buffer
        self._end = 0  # absolute index of the sample after the newest stored

    def _bind(self, C: int) -> None:
        if self._C is None:
            if self._buf.shape[0] != C:
                self._buf = np.zeros((C, 2 * self._keep), dtype=np.float32)
            self._C = C
        elif C != self._C:
            raise ValueError(f"frames have {C} channels but this stream has {self._C}: reset() first")

    def _append(self, x: np.ndarray) -> None:
        """Append samples ``x`` [shape=(C, m)] (any real dtype) after the newest."""
        m, keep = x.shape[1], self._keep
        if m >= keep:
            self._buf[:, :keep] = x[:, m - keep :]
            self._fill = keep
        else:
            if self._fill + m > self._buf.shape[1]:
                k = min(self._fill, keep - m)  # compact: keep the newest k samples
                self._buf[:, :k] = self._buf[:, self._fill - k : self._fill]
                self._fill = k
            self._buf[:, self._fill : self._fill + m] = x
            self._fill += m
        self._end += m

    def process(self, frames: np.ndarray, first_index: int | None = None) -> np.ndarray:
        """Add frames to the sample history; return their mean square.

        Parameters
        ----------
        frames : ndarray [shape=(channels, n_frames, n_fft)], real
            Consecutive frames of the stream (:class:`~fluxstream.dsp.framing.Framer`'s
            output); any ``n_frames >= 0``.
        first_index : int, optional
            Frame index of ``frames[:, 0]``. The first call after :meth:`reset` sets the
            clock (None: 0); later calls must continue it (None: they do).

        Returns
        -------
        mean_square : ndarray [shape=(channels, n_frames, 1), dtype=float32]
        """
        f = np.asarray(frames)
        if f.ndim != 3 or f.shape[2] != self.n_fft or f.dtype.kind not in "fiu":
            raise ValueError(f"frames shape {f.shape} dtype {f.dtype} must be real (channels, n_frames, "
                             f"n_fft={self.n_fft})")
        C, n, N = f.shape
        self._bind(C)
        if self._next is None:
            k0 = 0 if first_index is None else _index("first_index", first_index)
        else:
            k0 = self._next
            if first_index is not None and _index("first_index", first_index) != k0:
                raise ValueError(f"first_index={first_index} but the next frame of this stream is {k0} "
                                 "(frames missing or repeated): reset() to start a new stream")
        if n == 0:
            self._next = k0
            return np.zeros((C, 0, 1), dtype=np.float32)
        hop = self.hop_length
        if self._fill == 0:
            # The first frame brings all its samples, which start at k0*hop - off.
            self._first = k0
            self._end = k0 * hop - self._off
            self._append(f[:, 0])
            rest = f[:, 1:, N - hop :]
        else:
            rest = f[:, :, N - hop :]
        if rest.shape[1]:
            self._append(rest.reshape(C, -1))
        self._next = k0 + n
        ms = np.einsum("cnk,cnk->cn", f, f).astype(np.float32, copy=False)
        ms *= np.float32(1.0 / N)
        return ms[..., None]

    @property
    def newest_frame(self) -> int | None:
        """Index of the newest frame given (None before the first)."""
        return None if self._fill == 0 else self._next - 1

    def refine(self, channel: int, frame: int) -> int:
        """The sample where the attack of an onset detected at ``frame`` starts.

        Parameters
        ----------
        channel : int
        frame : int
            An onset's ``frame`` (start of the rise) from :class:`OnsetPicker`; one of the
            last ``history_frames`` frames given since :meth:`reset`.

        Returns
        -------
        sample : int
            Absolute index on the stream's sample clock (0 = the first input sample).

        Raises
        ------
        ValueError
            ``frame`` is not among the frames held, or ``channel`` out of range.
        """
        channel, frame = _index("channel", channel), _index("frame", frame)
        if self._fill == 0:
            raise ValueError("no frames given yet")
        if not 0 <= channel < self._C:
            raise ValueError(f"channel={channel} must be in 0..{self._C - 1}")
        newest = self._next - 1
        oldest = max(newest - self.history_frames + 1, self._first)
        if not oldest <= frame <= newest:
            raise ValueError(f"frame={frame} is not held: frames {oldest}..{newest} are; increase "
                             "history_frames or refine sooner")
        lo = max(frame * self.hop_length - self._off, 0)
        hi = min(frame * self.hop_length - self._off + self.n_fft, self._end)
        first = self._end - self._fill  # absolute index of buffer column 0
        a = max(lo - 4 * self._w, first)  # context for the envelope and the change point
        if lo >= hi:  # nothing at or after sample 0 yet
            return lo
        x = self._buf[channel, a - first : hi - first]
        return a + _attack(x, lo - a, hi - a, self._w, self.fraction)
