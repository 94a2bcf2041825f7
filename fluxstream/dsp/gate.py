"""Time-domain noise gate: a level detector, open/close thresholds with hysteresis and
hold, and smooth attack/release gain ramps, sample-accurate across any block partition.

Module map
----------
TimeGateParams     the validated configuration of a :class:`TimeGate`
TimeGate           the streaming gate (blocks in, gated blocks out, open/close events)
detector_power     the detector's level (power, linear) per sample: peak ``x^2`` or the
                   mean of ``x^2`` over a sliding window (pure kernel, carried history)
gate_states        hysteresis + hold state machine over a block (pure kernel)
ramp_positions     attack/release ramp positions 0..1 over a block (pure kernel)
ramp_gain          raised-cosine gain of ramp positions
gain_slope_bound   the largest gain change between two samples (the "no clicks" figure)
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import scipy.signal

from ..errors import ConfigError
from ..params import Params, opt

__all__ = [
    "TimeGateParams",
    "TimeGate",
    "DETECTORS",
    "detector_power",
    "gate_states",
    "ramp_positions",
    "ramp_gain",
    "gain_slope_bound",
]

#: Level detectors.
DETECTORS = ("peak", "rms")

#: Events kept between two :meth:`TimeGate.pop_events` calls; older ones are dropped
#: (and counted in :attr:`TimeGate.events_dropped`).
MAX_EVENTS = 4096


# -- pure kernels ------------------------------------------------------------------------

def detector_power(x: np.ndarray, window: int, history: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Detector level as power (linear, full scale = 1) per sample.

    Parameters
    ----------
    x : ndarray [shape=(n_samples, channels)]
        The (side-chain filtered) detector input.
    window : int >= 0
        0: peak detector, ``x[n]^2`` (instantaneous, no smoothing). ``W >= 1``: RMS
        detector, ``(1 / W) sum_{j=n-W+1}^{n} x[j]^2`` (samples before the stream count
        as 0).
    history : ndarray [shape=(W - 1, channels)], or None for the peak detector
        The last ``W - 1`` squared samples before ``x``.

    Returns
    -------
    power : ndarray [shape=(n_samples, channels), dtype=float64]
    history : ndarray or None
        The carried history after ``x``.
    """
    sq = np.square(x, dtype=np.float64)
    if window == 0:
        return sq, None
    full = np.concatenate([history, sq], axis=0)
    c = np.cumsum(full, axis=0)
    # Sliding sum of W: c[i] - c[i - W], with c[-1] = 0 before the history.
    sums = c[window - 1 :].copy()
    sums[1:] -= c[: -window]
    power = np.maximum(sums, 0.0) / window
    return power, full[full.shape[0] - (window - 1) :]


def gate_states(above: np.ndarray, below: np.ndarray, hold: int, run0: np.ndarray,
                state0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hysteresis with hold, over a block.

    The gate opens at a sample whose level is above the open threshold, and closes at the
    sample where the level has been below the close threshold for ``hold + 1``
    consecutive samples (so it stays open ``hold`` samples after the level fell below);
    otherwise it keeps its state. ``above`` and ``below`` must exclude each other (open
    threshold >= close threshold).

    Parameters
    ----------
    above, below : ndarray [shape=(n, D), dtype=bool]
    hold : int >= 0 [samples]
    run0 : ndarray [shape=(D,), dtype=int64]
        Below-threshold samples that ended the previous block (run length, capped).
    state0 : ndarray [shape=(D,), dtype=bool]
        Open (True) before the block.

    Returns
    -------
    state : ndarray [shape=(n, D), dtype=bool]
    run : ndarray [shape=(D,)]
        Run length after the block (capped at ``hold + 1``).
    state_end : ndarray [shape=(D,), dtype=bool]
    """
    n = above.shape[0]
    if n == 0:
        return np.zeros(above.shape, bool), run0.copy(), state0.copy()
    idx = np.arange(n)[:, None]
    # Index of the last sample that was not below, at or before each sample; before the
    # block, the run continues from run0 (a virtual index -1 - run0).
    last_not_below = np.maximum.accumulate(np.where(below, -1 - run0[None, :], idx), axis=0)
    run = idx - last_not_below  # consecutive below samples ending here (inclusive)
    closable = run >= hold + 1
    decided = above | closable
    last = np.maximum.accumulate(np.where(decided, idx, -1), axis=0)
    cols = np.arange(above.shape[1])[None, :]
    state = np.where(last >= 0, above[np.maximum(last, 0), cols], state0[None, :])
    return state, np.minimum(run[-1], hold + 1), state[-1].copy()


def ramp_positions(state: np.ndarray, p0: float, attack: int, release: int) -> np.ndarray:
    """Ramp position (0 = closed, 1 = open) per sample for one channel's states.

    While open the position rises by ``1 / attack`` per sample (to 1), while closed it
    falls by ``1 / release`` per sample (to 0); a zero time jumps. A ramp reverses from
    wherever it is when the state changes, so the gain stays continuous.

    Parameters
    ----------
    state : ndarray [shape=(n,), dtype=bool]
    p0 : float in 0..1
        Position before the block.
    attack, release : int >= 0 [samples]

    Returns
    -------
    p : ndarray [shape=(n,), dtype=float64]
    """
    n = state.shape[0]
    p = np.empty(n)
    if n == 0:
        return p
    edges = np.flatnonzero(state[1:] != state[:-1]) + 1
    starts = np.concatenate([[0], edges])
    ends = np.concatenate([edges, [n]])
    for a, b in zip(starts, ends):  # one segment per state change: a handful per block
        k = np.arange(1, b - a + 1, dtype=np.float64)
        if state[a]:
            p[a:b] = 1.0 if attack == 0 else np.minimum(1.0, p0 + k / attack)
        else:
            p[a:b] = 0.0 if release == 0 else np.maximum(0.0, p0 - k / release)
        p0 = p[b - 1]
    return p


def ramp_gain(p: np.ndarray, floor: float) -> np.ndarray:
    """Raised-cosine gain of ramp positions: ``floor + (1 - floor) (1 - cos(pi p)) / 2``.

    Continuous with zero slope at both ends of a ramp; ``floor`` is the closed gain
    (``10^(range_db / 20)``).
    """
    return floor + (1.0 - floor) * 0.5 * (1.0 - np.cos(np.pi * p))


def gain_slope_bound(attack: int, release: int, floor: float) -> float:
    """Largest ``|gain[n] - gain[n-1]|`` the ramps can produce (the "no clicks" figure):
    ``(1 - floor) * (pi / 2) / min(attack, release)`` (a zero time: a jump of
    ``1 - floor``)."""
    shortest = min(attack, release)
    return (1.0 - floor) if shortest == 0 else (1.0 - floor) * math.pi / 2.0 / shortest


# -- the streaming gate ------------------------------------------------------------------

def _time(name):
    return opt({"attack_ms": 1.0, "hold_ms": 50.0, "release_ms": 100.0, "lookahead_ms": 0.0}[name], float,
               "a number >= 0 (ms)", check=lambda v: v >= 0)


@dataclass(frozen=True, kw_only=True)
class TimeGateParams(Params):
    """Configuration of a :class:`TimeGate` (see there for the meaning of each field).

    The control fields (:attr:`CONTROL`: thresholds, times and range) can be changed
    with :meth:`TimeGate.set_params`; the others are fixed for a gate's life.
    """

    sample_rate: int = opt(48000, int, "an integer >= 1 (Hz)", check=lambda v: v >= 1)
    channels: int = opt(1, int, "an integer >= 1 (channels)", check=lambda v: v >= 1)
    open_db: float = opt(-40.0, float, "a finite number (dBFS)")
    close_db: float = opt(-50.0, float, "a finite number (dBFS)")
    attack_ms: float = _time("attack_ms")
    hold_ms: float = _time("hold_ms")
    release_ms: float = _time("release_ms")
    range_db: float = opt(-80.0, float, "a number <= 0 (dB of gain when closed)", check=lambda v: v <= 0)
    lookahead_ms: float = _time("lookahead_ms")
    detector: str = opt("peak", str, "one of 'peak', 'rms'", choices=DETECTORS)
    rms_window_ms: float = opt(10.0, float, "a number > 0 (ms)", check=lambda v: v > 0)
    sidechain_hz: float = opt(0.0, float, "a number >= 0 (Hz; 0 = no side-chain high-pass)",
                              check=lambda v: v >= 0)
    linked: bool = opt(True, bool, "true or false")

    CONTROL = ("open_db", "close_db", "attack_ms", "hold_ms", "release_ms", "range_db")

    def validate(self) -> None:
        if self.open_db < self.close_db:
            raise ConfigError(f"open_db={self.open_db} must be >= close_db={self.close_db} (dBFS): the gate "
                              "opens above open_db and closes below close_db")
        if self.sidechain_hz >= self.sample_rate / 2:
            raise ConfigError(f"sidechain_hz={self.sidechain_hz} must be below the Nyquist frequency "
                              f"sample_rate / 2 = {self.sample_rate / 2:g} (Hz)")
        if self.detector == "rms" and round(self.rms_window_ms * self.sample_rate / 1000.0) < 1:
            raise ConfigError(f"rms_window_ms={self.rms_window_ms} is shorter than one sample at "
                              f"sample_rate={self.sample_rate} Hz")


def _samples(ms: float, sample_rate: int) -> int:
    return int(round(ms * sample_rate / 1000.0))


class TimeGate:
    """Streaming noise gate on the time-domain signal: blocks in, gated blocks out.

    Parameters
    ----------
    sample_rate : int > 0 [Hz]
    channels : int > 0
    open_db : float [dBFS]
        The gate opens at the first sample whose detector level is above this.
    close_db : float <= open_db [dBFS]
        ... and closes once the level has stayed below this for ``hold_ms``.
    attack_ms : float >= 0 [ms]
        Opening ramp: the gain rises from ``range_db`` to 0 dB over this time.
    hold_ms : float >= 0 [ms]
        Time the gate stays open after the level fell below ``close_db``; a level at or
        above ``close_db`` restarts it.
    release_ms : float >= 0 [ms]
        Closing ramp: the gain falls from 0 dB to ``range_db`` over this time.
    range_db : float <= 0 [dB]
        Gain while closed.
    lookahead_ms : float >= 0 [ms]
        The audio is delayed by this much (the detector is not), so the gate opens before
        a transient reaches the output. It is the gate's whole latency.
    detector : {"peak", "rms"}
        ``"peak"``: the instantaneous ``|x|`` (no smoothing: ``hold_ms`` bridges the zero
        crossings, so keep it above half the period of the lowest frequency that should
        keep the gate open). ``"rms"``: RMS over a sliding ``rms_window_ms`` window.
    rms_window_ms : float > 0 [ms]
    sidechain_hz : float >= 0 [Hz]
        Cut-off of a 2nd-order Butterworth high-pass on the detector input only (rumble
        and hum do not open the gate); 0 = off.
    linked : bool
        True: one detector on the loudest channel drives every channel (stereo image
        kept). False: each channel is gated on its own.

    Attributes
    ----------
    causal : bool
        True.
    latency_samples : int
        ``round(lookahead_ms * sample_rate / 1000)``.
    hop : int
        1: one output sample per input sample.
    params : TimeGateParams
    last_gain : ndarray [shape=(n, channels), dtype=float32]
        The gain applied to each output sample of the last :meth:`process` call.
    events_dropped : int
        Events discarded because more than :data:`MAX_EVENTS` were waiting.

    Notes
    -----
    Gain: a ramp position ``p`` in 0..1 rises by ``1 / A`` per sample while the gate is
    open and falls by ``1 / R`` while it is closed (``A``, ``R``: attack and release in
    samples), reversing wherever it is when the state changes. The gain is the raised
    cosine ``g = r + (1 - r) (1 - cos(pi p)) / 2``, ``r = 10^(range_db / 20)``: it leaves
    and reaches each end with zero slope, and no two consecutive samples differ by more
    than ``(1 - r) (pi / 2) / min(A, R)`` (:func:`gain_slope_bound`; 0.0327 for the 1 ms
    default attack at 48 kHz).

    Timing, at a gate_open event at input sample ``n0``: gain ``r`` before it and ``1``
    (0 dB) from ``n0 + A - 1`` on. When the level falls below ``close_db`` at sample
    ``s`` and stays there, the gate_close event is at ``s + H`` (``H``: hold in samples)
    and the gain is ``r`` from ``s + H + R - 1`` on. Output sample ``j`` is
    ``gain[j] * x[j - latency_samples]``.

    Events are ``(kind, channel, sample_index)``, kind ``"gate_open"`` or
    ``"gate_close"``, on the input clock (sample 0 = the first input sample after
    construction or :meth:`reset`); a linked gate reports one event per channel. The gate
    starts closed.

    Non-finite input samples (NaN, +-inf) are taken as 0 by the detector, and the output
    is 0 at those samples.

    Examples
    --------
    >>> import numpy as np
    >>> gate = TimeGate(open_db=-30.0, close_db=-40.0, hold_ms=0.0, attack_ms=1.0, release_ms=1.0)
    >>> x = np.zeros((4800, 1), np.float32)
    >>> x[1000:2000] = 0.5
    >>> y = gate.process(x)
    >>> gate.pop_events()
    [('gate_open', 0, 1000), ('gate_close', 0, 2000)]
    >>> float(gate.last_gain[1047, 0]), float(y[1500, 0])
    (1.0, 0.5)

    Real-time notes
    ---------------
    Analysis (or audio) thread. The delay line, detector history and filter state are
    allocated in ``__init__``; :meth:`process` allocates temporaries and its output the
    size of its block, plus one small loop step per gate state change in the block.
    Events wait in a bounded deque until :meth:`pop_events`. Causal; latency as above.
    :meth:`set_params` is for a control queue drained between blocks.
    """

    causal = True
    hop = 1

    def __init__(self, sample_rate: int = 48000, channels: int = 1, open_db: float = -40.0,
                 close_db: float = -50.0, attack_ms: float = 1.0, hold_ms: float = 50.0,
                 release_ms: float = 100.0, range_db: float = -80.0, lookahead_ms: float = 0.0,
                 detector: str = "peak", rms_window_ms: float = 10.0, sidechain_hz: float = 0.0,
                 linked: bool = True):
        params = TimeGateParams(
            sample_rate=sample_rate, channels=channels, open_db=open_db, close_db=close_db,
            attack_ms=attack_ms, hold_ms=hold_ms, release_ms=release_ms, range_db=range_db,
            lookahead_ms=lookahead_ms, detector=detector, rms_window_ms=rms_window_ms,
            sidechain_hz=sidechain_hz, linked=linked)
        self._build(params)

    @classmethod
    def from_params(cls, params: TimeGateParams) -> "TimeGate":
        """A gate from a validated :class:`TimeGateParams` (e.g. built from TOML)."""
        self = cls.__new__(cls)
        self._build(params)
        return self

    def _build(self, p: TimeGateParams) -> None:
        self.params = p
        C = self.channels = p.channels
        self.sample_rate = p.sample_rate
        self.latency_samples = _samples(p.lookahead_ms, p.sample_rate)
        self._window = _samples(p.rms_window_ms, p.sample_rate) if p.detector == "rms" else 0
        self._D = 1 if p.linked else C  # detector channels
        self._sos = None if p.sidechain_hz == 0 else \
            scipy.signal.butter(2, p.sidechain_hz, "highpass", fs=p.sample_rate, output="sos")
        self._zi = None if self._sos is None else np.zeros((self._sos.shape[0], 2, C))
        self._hist = None if self._window == 0 else np.zeros((self._window - 1, C))
        self._delay = np.zeros((self.latency_samples, C), np.float32)
        self._run = np.zeros(self._D, np.int64)
        self._state = np.zeros(self._D, bool)
        self._pos = np.zeros(self._D)
        self._events: deque = deque(maxlen=MAX_EVENTS)
        self._derive()
        self.reset()

    def _derive(self) -> None:
        p, sr = self.params, self.params.sample_rate
        self._open_pow = 10.0 ** (p.open_db / 10.0)
        self._close_pow = 10.0 ** (p.close_db / 10.0)
        self._attack = _samples(p.attack_ms, sr)
        self._hold = _samples(p.hold_ms, sr)
        self._release = _samples(p.release_ms, sr)
        self._floor = 10.0 ** (p.range_db / 20.0)
        #: The largest gain step between two output samples (see :func:`gain_slope_bound`).
        self.max_gain_step = gain_slope_bound(self._attack, self._release, self._floor)

    def reset(self) -> None:
        """Forget the stream: gate closed, delay line and detector silent, sample clock
        at 0, pending events dropped. Reallocates nothing."""
        self._delay.fill(0.0)
        if self._zi is not None:
            self._zi.fill(0.0)
        if self._hist is not None:
            self._hist.fill(0.0)
        self._run.fill(0)
        self._state.fill(False)
        self._pos.fill(0.0)
        self._events.clear()
        self.events_dropped = 0
        self._n_in = 0
        self._flushed = False
        self.last_gain = np.zeros((0, self.channels), np.float32)

    def set_params(self, **changes) -> None:
        """Change control parameters (``open_db``, ``close_db``, ``attack_ms``,
        ``hold_ms``, ``release_ms``, ``range_db``) from the next sample on; the derived
        values are recomputed and the gate's state is kept (a ramp in progress continues
        from where it is at the new speed). A ``range_db`` change moves the closed gain
        at once. Others raise :class:`ConfigError` (build a new gate)."""
        names = list(TimeGateParams.__dataclass_fields__)
        for k in changes:
            if k not in names:
                raise ConfigError(f"unknown parameter {k}; valid: {', '.join(names)}")
            if k not in TimeGateParams.CONTROL:
                raise ConfigError(f"{k} is structural: build a new TimeGate to change it "
                                  f"(control parameters: {', '.join(TimeGateParams.CONTROL)})")
        self.params = TimeGateParams(**{**{k: getattr(self.params, k) for k in names}, **changes})
        self._derive()

    def set_thresholds(self, open_db: float | None = None, close_db: float | None = None) -> None:
        """Set either or both thresholds [dBFS] (checked together: open >= close)."""
        ch = {k: v for k, v in (("open_db", open_db), ("close_db", close_db)) if v is not None}
        self.set_params(**ch)

    def pop_events(self) -> list[tuple[str, int, int]]:
        """The open/close events since the last call, oldest first, and forget them."""
        out = list(self._events)
        self._events.clear()
        return out

    def _check(self, block) -> tuple[np.ndarray, bool]:
        x = np.asarray(block)
        mono = x.ndim == 1
        if mono and self.channels == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != self.channels:
            raise ValueError(f"block shape {np.shape(block)} does not match (n_samples, channels={self.channels})")
        return x, mono

    def process(self, block: np.ndarray) -> np.ndarray:
        """Gate a block.

        Parameters
        ----------
        block : ndarray [shape=(n_samples, channels), or (n_samples,) when mono]
            Any ``n_samples >= 0``. Not modified.

        Returns
        -------
        out : ndarray [shape=(n_samples, channels), or (n_samples,) for 1-D input,
            dtype=float32]
            ``last_gain * (the input delayed by latency_samples)``.
        """
        if self._flushed:
            raise RuntimeError("TimeGate.process after flush(): call reset() first")
        x, mono = self._check(block)
        out = self._run_block(x)
        return out[:, 0] if mono else out

    def flush(self, mono: bool = False) -> np.ndarray:
        """End of stream: the ``latency_samples`` delayed samples still in the delay line,
        gated as if silence followed (the same as processing that much silence, events
        included). Call :meth:`reset` before the next stream."""
        if self._flushed:
            return np.zeros((0,) if mono else (0, self.channels), np.float32)
        out = self._run_block(np.zeros((self.latency_samples, self.channels), np.float32))
        self._flushed = True
        return out[:, 0] if mono else out

    def _run_block(self, x: np.ndarray) -> np.ndarray:
        n, C = x.shape[0], self.channels
        if x.dtype != np.float32 or not np.isfinite(x).all():
            x = np.nan_to_num(x.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        # Detector: side-chain high-pass, level power, the loudest channel when linked.
        d = x
        if self._sos is not None and n:
            d, self._zi = scipy.signal.sosfilt(self._sos, x, axis=0, zi=self._zi)
        power, hist = detector_power(d, self._window, self._hist)
        if hist is not None:
            self._hist[...] = hist
        if self._D == 1 and C > 1:
            power = power.max(axis=1, keepdims=True)
        above = power > self._open_pow
        below = power < self._close_pow
        state, self._run, state_end = gate_states(above, below, self._hold, self._run, self._state)
        # Events where the state changes (against the state before the block).
        prev = np.concatenate([self._state[None, :], state[:-1]], axis=0)
        changes = np.argwhere(state != prev)
        for i, dch in changes:  # a handful per block
            kind = "gate_open" if state[i, dch] else "gate_close"
            for ch in (range(C) if self._D == 1 else (dch,)):
                if len(self._events) == MAX_EVENTS:
                    self.events_dropped += 1
                self._events.append((kind, int(ch), self._n_in + int(i)))
        self._state = state_end
        gain = np.empty((n, self._D))
        for dch in range(self._D):
            pos = ramp_positions(state[:, dch], self._pos[dch], self._attack, self._release)
            if n:
                self._pos[dch] = pos[-1]
            gain[:, dch] = ramp_gain(pos, self._floor)
        g = gain.astype(np.float32)
        if self._D == 1 and C > 1:
            g = np.repeat(g, C, axis=1)
        # Delay line: the output is the input latency_samples ago.
        L = self.latency_samples
        if L:
            full = np.concatenate([self._delay, x], axis=0)
            delayed = full[:n]
            self._delay[...] = full[n:]
        else:
            delayed = x
        self._n_in += n
        self.last_gain = g
        return delayed * g


def _control_property(name):
    def get(self):
        return getattr(self.params, name)

    def set_(self, value):
        self.set_params(**{name: value})

    return property(get, set_, doc=f"Control parameter ``{name}`` (setting it calls :meth:`set_params`).")


for _name in TimeGateParams.CONTROL:
    setattr(TimeGate, _name, _control_property(_name))
del _name
