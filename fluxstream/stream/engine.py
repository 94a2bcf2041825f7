"""The engine: source -> (ring) -> analysis thread -> graph -> subscribers.

One analysis thread pulls blocks from the source (for a device, from the ring buffer the
audio callback fills), sanitizes them, detects gaps on the sample clock, runs the feature
graph and hands :class:`~fluxstream.results.Frames` and :class:`~fluxstream.results.Event`
objects to the subscribers. The same path serves live input and as-fast-as-possible file
analysis.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import traceback
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from ..config import Config
from ..dsp import _jit
from ..dsp.graph import Graph
from ..dsp.registry import AnalysisContext
from ..errors import FluxstreamError, StreamError
from ..results import Event, Frames
from .source import Source, open_source

__all__ = ["Engine", "EngineStats"]

log = logging.getLogger("fluxstream.engine")

Subscriber = Callable[[object], None]
_TIMES = 8192  # per-block compute times kept for the median/p99 (a fixed window)


@dataclass(frozen=True)
class EngineStats:
    """A snapshot of the engine's counters.

    Attributes
    ----------
    blocks, frames, samples : int
        Blocks and samples (per channel) analysed, frames emitted.
    overrun_samples : int
        Samples lost because analysis fell behind the device (gaps).
    gaps : int
        Gap events emitted.
    device_overflows : int
        Callbacks PortAudio flagged as overflowed (device-side loss).
    nonfinite_samples : int
        NaN/inf input values replaced by 0.
    compute_ms_median, compute_ms_p99 : float [ms]
        Per-block analysis time (graph + packaging, not subscribers), over the last 8192
        blocks.
    realtime_factor : float
        Seconds of audio analysed per second of analysis compute (higher is faster; a
        live stream needs > 1).
    audio_s, elapsed_s : float [s]
        Audio analysed; wall time since start.
    subscriber_errors : int
        Exceptions raised by subscribers (each logged once per subscriber).
    """

    blocks: int
    frames: int
    samples: int
    overrun_samples: int
    gaps: int
    device_overflows: int
    nonfinite_samples: int
    compute_ms_median: float
    compute_ms_p99: float
    realtime_factor: float
    audio_s: float
    elapsed_s: float
    subscriber_errors: int

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        """One line for humans."""
        return (
            f"{self.audio_s:.1f} s of audio in {self.elapsed_s:.1f} s; {self.blocks} blocks, "
            f"{self.frames} frames; compute per block median {self.compute_ms_median:.3f} ms, "
            f"p99 {self.compute_ms_p99:.3f} ms ({self.realtime_factor:.0f}x real time); "
            f"overruns {self.overrun_samples} samples in {self.gaps} gaps, device overflows "
            f"{self.device_overflows}, non-finite samples {self.nonfinite_samples}"
        )


def _single_threaded_blas():
    """Limit every loaded BLAS to one thread; returns the limiter (to restore), or None
    when threadpoolctl is unavailable."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a runtime dependency; degrade, don't fail
        log.debug("threadpoolctl missing: BLAS thread count left as it is")
        return None
    return threadpool_limits(limits=1, user_api="blas")


class Engine:
    """Runs a source through the feature graph and hands results to subscribers.

    Parameters
    ----------
    config : Config, optional
        Defaults to ``Config()`` (default device, rms + centroid).
    source : Source, optional
        Built from ``config.input`` when not given.
    features : sequence of str, optional
        Overrides ``config.analysis.features``.
    stream : str
        Stream name put on every Frames (``"in"``).

    Examples
    --------
    >>> from fluxstream import Engine, Config
    >>> from fluxstream.stream.demo import DemoSource
    >>> got = []
    >>> with Engine(Config(), source=DemoSource(realtime=False, duration_s=0.5)) as eng:
    ...     _ = eng.subscribe(got.append)
    ...     stats = eng.run()
    >>> stats.frames
    47

    Real-time notes
    ---------------
    :meth:`start` opens the source and builds the graph in the calling thread, then starts
    one analysis thread. Subscribers are called in the analysis thread, in order: a slow
    subscriber slows analysis (the plugins layer adds queues), an exception is counted and
    logged once. Frames arrays belong to the subscriber.
    """

    def __init__(self, config: Config | None = None, source: Source | None = None, *,
                 features=None, stream: str = "in"):
        self.config = config if config is not None else Config()
        self.source = source if source is not None else open_source(self.config.input)
        self.feature_names = list(features) if features is not None else list(self.config.analysis.features)
        self.stream = stream
        self.graph: Graph | None = None
        self._subs: list[Subscriber] = []
        self._sub_failed: set[int] = set()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._done = threading.Event()
        self._error: BaseException | None = None
        self._limit: int | None = None
        self._opened = False
        self._reset_requested = threading.Event()
        self._gate = None
        self._gate_analyzed = False
        self._learn_request: float | None = None
        self._audio_sinks: list = []
        self._input_sinks: list = []
        self._reset_counters()

    # --- set-up ------------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Subscriber:
        """Call ``callback(item)`` for every Frames and Event; returns ``callback`` (so it
        works as a decorator)."""
        if not callable(callback):
            raise TypeError(f"subscribe() needs a callable, got {callback!r}")
        self._subs.append(callback)
        return callback

    def unsubscribe(self, callback: Subscriber) -> None:
        self._subs.remove(callback)

    def _reset_counters(self) -> None:
        self._blocks = self._frames = self._samples = 0
        self._gaps = self._nonfinite = self._sub_errors = 0
        self._times = np.zeros(_TIMES, dtype=np.float64)
        self._compute_total = 0.0
        self._next_pos = 0
        self._t_start = time.monotonic()

    def open(self) -> None:
        """Open the source and build the graph for its rate and channels (idempotent).

        Also limits BLAS (OpenBLAS/MKL) to one thread until :meth:`stop`: the graph's
        matrix products are small, and BLAS worker threads competing for the cores made
        one filterbank product 200x slower under load on a 2-core machine.
        """
        if self._opened:
            return
        if self._paced():
            # The compiled kernels, ready before a device's callback needs the GIL (numba
            # holds it while compiling or loading). A file run as fast as it can has no
            # callback to starve: its kernels load on first use.
            _jit.warm()
        self.source.open()
        self._opened = True
        self._blas = _single_threaded_blas()
        st = self.config.stft
        self.ctx = AnalysisContext(
            sample_rate=self.source.sample_rate, channels=self.source.channels,
            n_fft=st.n_fft, hop_length=st.hop_length, win_length=st.win_length,
            window=st.window, center=st.center,
        )
        # Every configured table, not only the requested features': a plainly named input
        # follows its own table ([features.mfcc] shapes mfcc.delta's input).
        params = {**self.config.features, **{n: self.config.feature_params(n) for n in self.feature_names}}
        try:
            self.graph = Graph(self.ctx, self.feature_names, params)
            gate_cfg = self.config.gate
            if gate_cfg.enabled:
                from ..denoise import AlignedGate, build_gate

                self._gate = AlignedGate(build_gate(gate_cfg, self.ctx.sample_rate, self.ctx.channels))
                self._gate_analyzed = gate_cfg.analyze == "gated"
        except Exception:
            self.source.close()
            self._opened = False
            raise
        self._mono = self.source.channels == 1
        block = int(getattr(self.source, "block", 0) or 0)
        self._warm_up(block)
        self.graph.set_threads(self.config.analysis.threads_for(bool(self.source.live),
                                                                block // self.ctx.hop_length))

    def _paced(self) -> bool:
        """Whether the source delivers at real time (a device, or a file or the demo
        paced as one): then a block has a deadline."""
        return bool(getattr(self.source, "live", False) or getattr(self.source, "realtime", False))

    def _warm_up(self, block: int) -> None:
        """Run the graph over silent blocks of the source's size, then reset it, so that FFT
        plans and buffers exist before the first live block (no first-block hiccup). A file
        (not paced at real time) has no deadline to miss: its first block plans instead,
        which costs less than analysing seconds of silence in large file blocks."""
        if block <= 0 or not self._paced():
            return
        zeros = np.zeros((block, self.source.channels), dtype=np.float32)
        for _ in range(2 + self.ctx.n_fft // block):
            self.graph.process(zeros)
        self.graph.flush()
        self.graph.reset(0)

    # --- running -----------------------------------------------------------------------

    def start(self, duration_s: float | None = None) -> "Engine":
        """Open (if needed) and start the analysis thread.

        Parameters
        ----------
        duration_s : float, optional [s]
            Stop after this much audio (then flush, as at the end of a file).
        """
        if self._thread is not None:
            raise StreamError("engine already started")
        self.open()
        self._limit = None if duration_s is None else int(round(duration_s * self.source.sample_rate))
        self._reset_counters()
        self._stop.clear()
        self._done.clear()
        self._thread = threading.Thread(target=self._loop, name="fluxstream-analysis", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        try:
            # The centred tail (zero-padded frames) ends a signal that has an end: a file,
            # or any source cut by `duration_s` unless it is live (a live stream stopped
            # by the clock has no end of signal, only an end of listening).
            flush = True
            for pos, block in self.source.blocks():
                if self._stop.is_set():
                    flush = False
                    break
                if self._limit is not None and pos + block.shape[0] >= self._limit:
                    self.process_block(pos, block[: max(0, self._limit - pos)])
                    flush = not self.source.live
                    break
                self.process_block(pos, block)
            if flush and not self._stop.is_set():
                self._flush_gate()
                self._emit_frames(self.graph.flush(), None)
        except BaseException as e:  # surfaced by stop()/run()/wait(), never swallowed
            self._error = e
            log.debug("analysis thread failed", exc_info=True)
        finally:
            self._done.set()

    def request_noise_learning(self, seconds: float) -> None:
        """Ask the analysis thread to (re)learn the stationary noise profile over the next
        ``seconds`` of input (thread-safe; the OSC control server's ``/noise/learn``)."""
        if self._gate is None or not hasattr(self._gate.stage, "start_learning"):
            raise StreamError("no spectral gate runs: start with --denoise stationary (gate.mode)")
        self._learn_request = float(seconds)

    def request_reset(self) -> None:
        """Ask the analysis thread to reset every stateful stage before its next block
        (thread-safe; frame indices stay on the sample clock; a ``reset`` event follows)."""
        self._reset_requested.set()

    def process_block(self, pos: int, block: np.ndarray) -> None:
        """Analyse one block whose first sample is at ``pos`` on the sample clock.

        Runs in the analysis thread (or the caller's, when driving the engine by hand
        after :meth:`open`). Non-finite samples are replaced by 0 and counted; a position
        past the expected one emits a gap event and resets every stateful stage there.
        """
        t0 = time.perf_counter()
        if self.graph is None:
            raise StreamError("Engine.process_block before open()")
        n = block.shape[0]
        if pos != self._next_pos:
            if pos < self._next_pos:
                raise StreamError(f"source went back in time: block at {pos}, expected {self._next_pos}")
            lost = pos - self._next_pos
            self._gaps += 1
            self._publish(Event("gap", self._next_pos, self._next_pos / self.ctx.sample_rate,
                                float(lost), {"resume_sample": pos}))
            self.graph.reset(pos)
            if self._gate is not None:
                self._gate.reset()
        elif self._reset_requested.is_set():
            # A reset asked for from another thread (OSC control): done here, between
            # blocks, where no stage is running.
            self._reset_requested.clear()
            self.graph.reset(pos)
            self._publish(Event("reset", pos, pos / self.ctx.sample_rate, 0.0))
        # One sum answers for the whole block (NaN and inf propagate into it); only a
        # non-finite sum, rare, needs the per-sample check.
        if not math.isfinite(float(block.sum())) and not np.isfinite(block).all():
            bad = ~np.isfinite(block)
            count = int(bad.sum())
            block = np.where(bad, np.float32(0.0), block)
            self._nonfinite += count
            self._publish(Event("nonfinite", pos, pos / self.ctx.sample_rate, float(count)))
        self._next_pos = pos + n
        self._samples += n
        self._blocks += 1
        for sink in self._input_sinks:
            sink(block)
        if self._gate is not None:
            if self._learn_request is not None:
                seconds, self._learn_request = self._learn_request, None
                self._gate.stage.start_learning(seconds)
            block = self._run_gate(block)
        self._emit_frames(self.graph.process(block), t0)

    def _run_gate(self, block: np.ndarray) -> np.ndarray:
        """The noise gate on a block: its audio to the sinks (monitor, recording), its
        events published; returns what the features see (gated or raw)."""
        gated = self._gate.process(block)
        for kind, ch, sample in self._gate.pop_events():
            self._publish(Event(kind, int(sample), int(sample) / self.ctx.sample_rate,
                                1.0 if kind == "gate_open" else 0.0, {"channel": int(ch)}))
        for sink in self._audio_sinks:
            sink(gated)
        return gated if self._gate_analyzed else block

    def _flush_gate(self) -> None:
        """End of signal: the gate's delayed last samples, through the sinks and (when
        the features see the gated signal) the graph."""
        if self._gate is None:
            return
        tail = self._gate.flush()
        for sink in self._audio_sinks:
            sink(tail)
        if self._gate_analyzed and tail.shape[0]:
            self._emit_frames(self.graph.process(tail), None)

    def add_input_sink(self, sink) -> None:
        """Call ``sink(block)`` with every input block ``(n, channels)`` as the features
        see it before any gate (non-finite samples zeroed), in the analysis thread
        (``listen --record-audio``). Blocks follow one another without gaps except where
        samples were lost (a ``gap`` event says how many)."""
        self._input_sinks.append(sink)

    def add_audio_sink(self, sink) -> None:
        """Call ``sink(block)`` with every block of gated audio ``(n, channels)``, on the
        input's timeline, in the analysis thread (the monitor output, a recorder)."""
        self._audio_sinks.append(sink)

    def _emit_frames(self, out, t0: float | None) -> None:
        # One Frames per group of features on the same frame range of one clock: usually
        # one; features with a delay (deltas) come in their own Frames, for earlier frames,
        # and features framed on another hop (pitch with its own hop_length) in theirs.
        batch = []
        sr = float(self.ctx.sample_rate)
        for (hop, offset), first, group in out.groups():
            n = next(iter(group.values())).shape[1]
            idx = np.arange(first, first + n, dtype=np.int64)
            # k hop + offset is a whole number of samples, exact in float64: the same
            # values as (idx * hop + offset) / sr, in one step less (every clock's hop,
            # its framer's, is >= 1).
            time_s = np.arange(first * hop + offset, (first + n) * hop + offset, hop, dtype=np.float64)
            time_s /= sr
            if self._mono:
                feats = {k: v[0] for k, v in group.items()}
            else:
                feats = {k: np.moveaxis(v, 0, 1) for k, v in group.items()}
            batch.append(Frames(idx, time_s, feats, self.stream, hop))
        self._frames += out.analysis_frames
        if t0 is not None:  # a block's time (the end-of-stream flush is not a block)
            dt = time.perf_counter() - t0
            self._times[(self._blocks - 1) % _TIMES] = dt
            self._compute_total += dt
        for frames in batch:
            self._publish(frames)
        for event in out.events:
            self._publish(event)

    def _publish(self, item) -> None:
        for i, cb in enumerate(self._subs):
            try:
                cb(item)
            except Exception:
                self._sub_errors += 1
                if i not in self._sub_failed:
                    self._sub_failed.add(i)
                    log.error("subscriber %r failed (logged once, counted in stats):\n%s",
                              cb, traceback.format_exc())

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the analysis thread to finish (end of source or duration); True if it
        did."""
        return self._done.wait(timeout)

    def stop(self, timeout: float = 5.0) -> EngineStats:
        """Stop analysis, close the source and return the final stats (idempotent).

        Raises
        ------
        StreamError
            The analysis thread failed (its error is chained), or did not stop in time.
        """
        self._stop.set()
        self.source.close()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise StreamError(f"analysis thread did not stop within {timeout} s")
        self._opened = False
        if self.graph is not None:
            self.graph.close()
        blas, self._blas = getattr(self, "_blas", None), None
        if blas is not None:
            blas.restore_original_limits()
        err, self._error = self._error, None
        if err is not None:
            if isinstance(err, FluxstreamError):
                raise err
            raise StreamError(f"analysis failed: {type(err).__name__}: {err}") from err
        return self.stats

    def run(self, duration_s: float | None = None) -> EngineStats:
        """Start, run until the source ends (or ``duration_s`` of audio, or Ctrl-C), stop.

        Ctrl-C stops cleanly and returns the stats (no traceback).
        """
        if self._thread is None:
            self.start(duration_s)
        try:
            while not self._done.wait(0.1):
                pass
        except KeyboardInterrupt:
            log.info("interrupted")
        return self.stop()

    def __enter__(self) -> "Engine":
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.stop()
        except StreamError:
            if exc[0] is None:
                raise

    # --- stats -------------------------------------------------------------------------

    @property
    def stats(self) -> EngineStats:
        """Counters so far (safe to read from any thread; values may be one block old)."""
        k = min(self._blocks, _TIMES)
        times = self._times[:k] if k else np.zeros(1)
        sr = float(getattr(self.source, "sample_rate", 0) or 1)
        audio_s = self._samples / sr
        return EngineStats(
            blocks=self._blocks, frames=self._frames, samples=self._samples,
            overrun_samples=int(getattr(self.source, "overrun_samples", 0)), gaps=self._gaps,
            device_overflows=int(getattr(self.source, "status_overflows", 0)),
            nonfinite_samples=self._nonfinite,
            compute_ms_median=float(np.median(times) * 1e3),
            compute_ms_p99=float(np.percentile(times, 99) * 1e3),
            realtime_factor=audio_s / self._compute_total if self._compute_total > 0 else 0.0,
            audio_s=audio_s, elapsed_s=time.monotonic() - self._t_start,
            subscriber_errors=self._sub_errors,
        )
