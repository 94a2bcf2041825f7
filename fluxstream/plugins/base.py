"""Python plugins: the :class:`Plugin` base, function plugins, the isolating
:class:`PluginRunner`, and discovery of third-party plugins.

Map
---
what a plugin is told       :class:`StreamInfo` (rate, channels, live or not, clock, ...)
what a plugin is            :class:`Plugin` (``start``/``process``/``on_event``/``stop``
                            plus class attributes ``consumes``, ``provides``, ``events``,
                            ``causal``, ``latency_samples``, ``params_class``);
                            :class:`FunctionPlugin` wraps a plain function
running plugins             :class:`PluginRunner` (``add``, ``on`` decorator, ``start``,
                            ``submit``, ``stop``, ``stats``); :class:`PluginStats`
finding plugins             :data:`ENTRY_POINT_GROUP`, :func:`discover_plugins`,
                            :func:`load_plugin_class`, :func:`build_plugin`,
                            :func:`plugin_from_table`
latency of an output path   :func:`path_latency_samples`

Isolation (DESIGN.md, "Threads and real time")
----------------------------------------------
The engine calls ``runner.submit(item)`` in its analysis thread for every
:class:`~fluxstream.results.Frames` and :class:`~fluxstream.results.Event`.
``submit`` only puts the item into each interested plugin's own bounded queue
(``put_nowait``); each plugin runs in its own thread. So:

* a slow plugin fills its queue and further items are **dropped for it** (counted in
  :attr:`PluginStats.dropped`) -- the analysis thread never waits;
* an exception in ``process``/``on_event`` is logged once per plugin with its traceback and
  counted; after ``max_failures`` consecutive failures the plugin is **disabled** with a
  logged reason (``PluginStats.disabled_reason``) and receives nothing more;
* ``stop()`` is always called, in the plugin's thread after its queue is drained, or -- when
  the plugin is stuck in ``process()`` past the stop timeout -- from a watchdog thread; a
  plugin that does not return is reported (``PluginStats.stop_timed_out``, a log line) and
  its (daemon) thread is left behind instead of hanging the program.

Config shape (proposed for ``[[plugins]]`` and ``--plugin module:Class``)::

    [[plugins]]
    use = "mypackage.meters:LoudnessMeter"   # or the name of an entry point
    queue_size = 64          # optional, items; default 64
    max_failures = 10        # optional, consecutive exceptions before disabling
    settings = { window_s = 0.4 }   # validated against the plugin's params_class

Third-party packages register plugins in the entry-point group ``fluxstream.plugins``::

    [project.entry-points."fluxstream.plugins"]
    loudness = "mypackage.meters:LoudnessMeter"
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import logging
import queue
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Iterable, Mapping

from ..errors import ConfigError, PluginError
from ..params import Params, build_dataclass
from ..results import Event, Frames

__all__ = [
    "ENTRY_POINT_GROUP",
    "StreamInfo",
    "Plugin",
    "FunctionPlugin",
    "PluginStats",
    "PluginRunner",
    "discover_plugins",
    "load_plugin_class",
    "build_plugin",
    "plugin_from_table",
    "path_latency_samples",
]

log = logging.getLogger("fluxstream.plugins")

#: The entry-point group third-party plugins register in.
ENTRY_POINT_GROUP = "fluxstream.plugins"

_STOP = object()  # the sentinel that ends a plugin thread's loop
_TABLE_KEYS = ("use", "queue_size", "max_failures", "settings")


@dataclass(frozen=True)
class StreamInfo:
    """What a plugin (and the OSC publisher) is told when the stream starts.

    Attributes
    ----------
    sample_rate : float > 0 [Hz]
    channels : int >= 1
    stream : str
        The stream's name (``"in"``), as on every Frames.
    live : bool
        True for a device (real-time input); non-causal plugins are refused then.
    hop_length : int >= 0 [samples]
        The main frame clock's hop (0: unspecified).
    features : tuple of str
        The features the engine computes.
    feature_latency_samples : mapping of str -> int [samples]
        Each feature's latency (for :func:`path_latency_samples`).
    clock : callable(sample: int) -> float, optional
        Wall-clock (unix) time [s] at which a sample of the stream was captured: for a
        file ``start_wall + sample / sample_rate``, for a device derived from its input
        timestamps. Called from output threads, so it must be thread-safe and cheap.
        None: the receiver of this info takes ``time.time()`` at ``start`` as sample 0.
    """

    sample_rate: float
    channels: int = 1
    stream: str = "in"
    live: bool = False
    hop_length: int = 0
    features: tuple = ()
    feature_latency_samples: Mapping[str, int] = field(default_factory=dict)
    clock: Callable[[int], float] | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.sample_rate, (int, float)) and self.sample_rate > 0):
            raise ConfigError(f"sample_rate={self.sample_rate!r} must be a number > 0 (Hz)")
        if not (isinstance(self.channels, int) and self.channels >= 1):
            raise ConfigError(f"channels={self.channels!r} must be an integer >= 1")


class Plugin:
    """Base of every Python plugin: override what you need.

    Class attributes (declarations the engine reads)
    ------------------------------------------------
    name : str
        Shown in logs and stats (default: the class name).
    consumes : tuple of str
        Features the plugin needs; the engine computes them, and only Frames holding at
        least one of them are delivered (empty: every Frames).
    provides : tuple of str
        What the plugin adds (outputs it publishes), for reports.
    events : tuple of str or None
        Event kinds delivered to :meth:`on_event` (``("onset",)``); None: every kind;
        ``()``: none.
    wants_frames : bool
        Whether :meth:`process` receives Frames at all.
    causal : bool
        False if the plugin needs the future (e.g. normalizes over the whole file); the
        runner refuses it on live input.
    latency_samples : int >= 0 [samples]
        Latency the plugin adds to its output path.
    params_class : Params subclass or None
        The frozen dataclass its ``settings`` are validated against; an instance is
        passed to ``__init__``.

    Methods are called in the plugin's own thread, in this order: :meth:`start` once,
    then :meth:`process` / :meth:`on_event` per item, then :meth:`stop` once.

    Real-time notes
    ---------------
    Never called in the analysis thread. Frames arrays belong to the plugin (the engine
    does not reuse them) but are shared with the other plugins: do not modify them in
    place. A plugin slower than the frame rate loses items (counted), never stalls
    analysis. :meth:`stop` may be called from a watchdog thread while :meth:`process` is
    still running, when the latter does not return within the stop timeout: use it to
    unblock.
    """

    name: ClassVar[str] = ""
    consumes: ClassVar[tuple] = ()
    provides: ClassVar[tuple] = ()
    events: ClassVar[tuple | None] = None
    wants_frames: ClassVar[bool] = True
    causal: ClassVar[bool] = True
    latency_samples: ClassVar[int] = 0
    params_class: ClassVar[type | None] = None

    def __init__(self, params: Any = None):
        if params is None and self.params_class is not None:
            params = self.params_class()
        self.params = params

    def start(self, info: StreamInfo) -> None:
        """Called once before any item, with the stream's description."""

    def process(self, frames: Frames) -> None:
        """Called for every Frames (filtered by ``consumes``)."""

    def on_event(self, event: Event) -> None:
        """Called for every Event (filtered by ``events``)."""

    def stop(self) -> None:
        """Called once at the end (also after failures, or when disabled): flush, close."""


class FunctionPlugin(Plugin):
    """A plain function as a plugin: ``fn(frames)`` or ``fn(event)``.

    Parameters
    ----------
    fn : callable(item) -> None
    kind : str
        ``"frames"`` (every Frames), ``"events"`` (every Event), or an event kind
        (``"onset"``, ``"gap"``, ``"gate_open"``...).
    consumes : tuple of str
    causal : bool
    latency_samples : int >= 0 [samples]

    Real-time notes
    ---------------
    ``fn`` runs in the plugin's own thread (see :class:`PluginRunner`), never in the
    analysis thread; what it receives is shared with other plugins (read, do not modify).
    """

    def __init__(self, fn: Callable[[Any], Any], kind: str = "frames", *, consumes: Iterable[str] = (),
                 causal: bool = True, latency_samples: int = 0):
        if not callable(fn):
            raise PluginError(f"a function plugin needs a callable, got {fn!r}")
        if not isinstance(kind, str) or not kind:
            raise ConfigError(f"kind={kind!r} must be 'frames', 'events' or an event kind such as 'onset'")
        if not (isinstance(latency_samples, int) and latency_samples >= 0):
            raise ConfigError(f"latency_samples={latency_samples!r} must be an integer >= 0 (samples)")
        super().__init__()
        self.fn = fn
        self.kind = kind
        # Instance attributes shadow the class declarations the runner reads.
        self.name = getattr(fn, "__qualname__", repr(fn))
        self.consumes = tuple(consumes)
        self.causal = bool(causal)
        self.latency_samples = latency_samples
        self.wants_frames = kind == "frames"
        self.events = () if kind == "frames" else None if kind == "events" else (kind,)

    def process(self, frames: Frames) -> None:
        self.fn(frames)

    def on_event(self, event: Event) -> None:
        self.fn(event)


@dataclass(frozen=True)
class PluginStats:
    """Counters of one plugin (a snapshot).

    Attributes
    ----------
    name : str
    received : int
        Items queued for the plugin.
    processed : int
        Items its ``process``/``on_event`` returned from without an exception.
    dropped : int
        Items lost because its queue was full (it was slower than the stream).
    failures : int
        Exceptions raised by ``process``/``on_event`` (and ``start``/``stop``).
    disabled : bool
    disabled_reason : str
        Why it was disabled ('' if it was not).
    last_error : str
        ``Type: message`` of the last exception ('' if none).
    max_queue_depth : int
        Highest number of items waiting seen at submit time.
    stop_called : bool
        Whether ``stop()`` was called (it always is, once the runner stops).
    stop_timed_out : bool
        The plugin did not return within the stop timeout (its thread was left behind).
    """

    name: str
    received: int
    processed: int
    dropped: int
    failures: int
    disabled: bool
    disabled_reason: str
    last_error: str
    max_queue_depth: int
    stop_called: bool
    stop_timed_out: bool

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


class _Slot:
    """One plugin, its queue, thread and counters (written by one thread each)."""

    def __init__(self, plugin: Plugin, name: str, queue_size: int, max_failures: int):
        self.plugin = plugin
        self.name = name
        self.queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self.max_failures = max_failures
        self.thread: threading.Thread | None = None
        self.started = threading.Event()
        self.start_error: str = ""
        self.consumes = frozenset(getattr(plugin, "consumes", ()) or ())
        self.wants_frames = bool(getattr(plugin, "wants_frames", True))
        ev = getattr(plugin, "events", None)
        self.events = None if ev is None else frozenset(ev)
        # Written by the submitting (analysis) thread only:
        self.received = self.dropped = self.max_depth = 0
        # Written by the plugin's thread only:
        self.processed = self.failures = self.consecutive = 0
        self.disabled = False
        self.disabled_reason = ""
        self.last_error = ""
        self.logged_exception = False
        self.logged_drops = 0
        self.phase = "created"
        # stop() exactly once, whichever thread gets there first.
        self.stop_lock = threading.Lock()
        self.stop_called = False
        self.stop_timed_out = False

    def stats(self) -> PluginStats:
        return PluginStats(self.name, self.received, self.processed, self.dropped, self.failures,
                           self.disabled, self.disabled_reason, self.last_error, self.max_depth,
                           self.stop_called, self.stop_timed_out)


class PluginRunner:
    """Runs plugins, each behind its own bounded queue and thread.

    Parameters
    ----------
    queue_size : int >= 1 [items]
        Default queue length per plugin (64 items: about 0.3 s of frames at hop 256 and
        48 kHz, one Frames per block).
    max_failures : int >= 1
        Consecutive exceptions after which a plugin is disabled.
    stop_timeout_s : float > 0 [s]
        How long :meth:`stop` waits for all plugins to drain and return from ``stop()``.
    start_timeout_s : float > 0 [s]
        How long :meth:`start` waits for every plugin's ``start()``.

    Examples
    --------
    >>> from fluxstream.results import Event
    >>> runner = PluginRunner()
    >>> seen = []
    >>> @runner.on("onset")
    ... def hit(event):
    ...     seen.append(event.time_s)
    >>> runner.start(StreamInfo(sample_rate=48000))
    >>> runner.submit(Event("onset", 4800, 0.1, 1.0))
    >>> stats = runner.stop()
    >>> seen, stats["hit"].processed
    ([0.1], 1)

    Real-time notes
    ---------------
    :meth:`submit` is the engine's subscriber: it runs in the analysis thread, allocates
    nothing that grows, and never waits (``put_nowait``; a full queue drops the item for
    that plugin and counts it). Each plugin's methods run in its own daemon thread.
    Plugins are added before :meth:`start`; the set is fixed while running.
    """

    def __init__(self, *, queue_size: int = 64, max_failures: int = 10, stop_timeout_s: float = 2.0,
                 start_timeout_s: float = 5.0):
        for key, v, ok in (("queue_size", queue_size, isinstance(queue_size, int) and queue_size >= 1),
                           ("max_failures", max_failures, isinstance(max_failures, int) and max_failures >= 1),
                           ("stop_timeout_s", stop_timeout_s, isinstance(stop_timeout_s, (int, float)) and stop_timeout_s > 0),
                           ("start_timeout_s", start_timeout_s,
                            isinstance(start_timeout_s, (int, float)) and start_timeout_s > 0)):
            if not ok or isinstance(v, bool):
                raise ConfigError(f"{key}={v!r} must be {'an integer >= 1' if 'timeout' not in key else 'a number > 0 (s)'}")
        self.queue_size = queue_size
        self.max_failures = max_failures
        self.stop_timeout_s = float(stop_timeout_s)
        self.start_timeout_s = float(start_timeout_s)
        self._slots: list[_Slot] = []
        self._frame_slots: tuple[_Slot, ...] = ()
        self._event_slots: tuple[_Slot, ...] = ()
        self._running = False
        self._info: StreamInfo | None = None

    # --- set-up ------------------------------------------------------------------------

    def add(self, plugin: Plugin, *, name: str | None = None, queue_size: int | None = None,
            max_failures: int | None = None) -> Plugin:
        """Add a plugin (before :meth:`start`); returns it.

        Raises
        ------
        PluginError
            Not a :class:`Plugin`, the runner is running, or the name is taken.
        """
        if not isinstance(plugin, Plugin):
            raise PluginError(f"{plugin!r} is not a fluxstream Plugin (subclass fluxstream.plugins.base.Plugin, "
                              f"or use runner.on(kind) for a function)")
        if self._running:
            raise PluginError("plugins are added before PluginRunner.start()")
        name = name or getattr(plugin, "name", "") or type(plugin).__name__
        base, k = name, 2
        while any(s.name == name for s in self._slots):
            name, k = f"{base}#{k}", k + 1
        qs = self.queue_size if queue_size is None else queue_size
        mf = self.max_failures if max_failures is None else max_failures
        if not (isinstance(qs, int) and not isinstance(qs, bool) and qs >= 1):
            raise ConfigError(f"queue_size={qs!r} must be an integer >= 1 (items)")
        if not (isinstance(mf, int) and not isinstance(mf, bool) and mf >= 1):
            raise ConfigError(f"max_failures={mf!r} must be an integer >= 1")
        lat = getattr(plugin, "latency_samples", 0)
        if not (isinstance(lat, int) and not isinstance(lat, bool) and lat >= 0):
            raise PluginError(f"plugin {name}: latency_samples={lat!r} must be an integer >= 0 (samples)")
        self._slots.append(_Slot(plugin, name, qs, mf))
        return plugin

    def on(self, kind: str = "frames", *, name: str | None = None, queue_size: int | None = None,
           consumes: Iterable[str] = (), causal: bool = True, latency_samples: int = 0):
        """Decorator adding a function plugin: ``@runner.on("onset")``, ``@runner.on("frames")``.

        ``kind`` is ``"frames"``, ``"events"`` or one event kind. Returns the function
        unchanged.
        """

        def deco(fn):
            self.add(FunctionPlugin(fn, kind, consumes=consumes, causal=causal, latency_samples=latency_samples),
                     name=name, queue_size=queue_size)
            return fn

        return deco

    @property
    def plugins(self) -> tuple[Plugin, ...]:
        return tuple(s.plugin for s in self._slots)

    def check(self, info: StreamInfo) -> None:
        """Refuse non-causal plugins on live input.

        Raises
        ------
        PluginError
            Names every non-causal plugin.
        """
        if info.live:
            bad = [s.name for s in self._slots if not getattr(s.plugin, "causal", True)]
            if bad:
                raise PluginError(f"plugin(s) {', '.join(bad)} are not causal (they need future input) and cannot "
                                  f"run on live input; use them with a file (fluxstream analyze)")

    def latencies(self, feature_latency_samples: Mapping[str, int] | None = None) -> dict[str, int]:
        """Total latency [samples] of each plugin's output path (see
        :func:`path_latency_samples`)."""
        lat = feature_latency_samples
        if lat is None:
            lat = self._info.feature_latency_samples if self._info is not None else {}
        return {s.name: path_latency_samples(s.plugin, lat) for s in self._slots}

    # --- running -----------------------------------------------------------------------

    def start(self, info: StreamInfo) -> None:
        """Check causality, start every plugin's thread and wait for their ``start()``.

        Raises
        ------
        PluginError
            A non-causal plugin on live input, or a plugin whose ``start()`` raised or did
            not return within ``start_timeout_s`` (every plugin is then stopped again).
        """
        if self._running:
            raise PluginError("PluginRunner already started")
        self.check(info)
        self._info = info
        for s in self._slots:
            s.thread = threading.Thread(target=self._loop, args=(s, info), daemon=True,
                                        name=f"fluxstream-plugin-{s.name}")
        self._frame_slots = tuple(s for s in self._slots if s.wants_frames)
        self._event_slots = tuple(s for s in self._slots if s.events is None or s.events)
        self._running = True
        for s in self._slots:
            s.thread.start()
        deadline = time.monotonic() + self.start_timeout_s
        bad = []
        for s in self._slots:
            if not s.started.wait(max(0.0, deadline - time.monotonic())):
                bad.append(f"{s.name}: start() did not return within {self.start_timeout_s:g} s")
            elif s.start_error:
                bad.append(f"{s.name}: start() failed: {s.start_error}")
        if bad:
            self.stop()
            raise PluginError("; ".join(bad))

    def submit(self, item: Frames | Event) -> None:
        """Queue ``item`` for every interested plugin; never blocks (the engine's
        subscriber)."""
        if isinstance(item, Frames):
            slots = self._frame_slots
            for s in slots:
                if s.disabled:
                    continue
                if s.consumes and s.consumes.isdisjoint(item.features):
                    continue
                self._put(s, item)
        else:
            kind = getattr(item, "kind", None)
            for s in self._event_slots:
                if s.disabled or (s.events is not None and kind not in s.events):
                    continue
                self._put(s, item)

    __call__ = submit

    @staticmethod
    def _put(s: _Slot, item) -> None:
        q = s.queue
        depth = q.qsize()
        if depth > s.max_depth:
            s.max_depth = depth
        try:
            q.put_nowait(item)
            s.received += 1
        except queue.Full:
            s.dropped += 1  # logged by the plugin's own thread, never here

    def _loop(self, s: _Slot, info: StreamInfo) -> None:
        plugin = s.plugin
        s.phase = "start"
        try:
            plugin.start(info)
        except Exception as e:
            s.failures += 1
            s.last_error = f"{type(e).__name__}: {e}"
            s.start_error = s.last_error
            s.disabled, s.disabled_reason = True, f"start() failed: {s.last_error}"
            log.error("plugin %s: start() failed; disabled:\n%s", s.name, traceback.format_exc())
        s.started.set()
        q = s.queue
        while True:
            s.phase = "idle"
            item = q.get()
            if item is _STOP:
                break
            if s.dropped > s.logged_drops and s.logged_drops == 0:
                log.warning("plugin %s is slower than the stream: items dropped for it (counted in stats; "
                            "logged once)", s.name)
                s.logged_drops = s.dropped
            if s.disabled:
                continue
            try:
                if isinstance(item, Frames):
                    s.phase = "process"
                    plugin.process(item)
                else:
                    s.phase = "on_event"
                    plugin.on_event(item)
            except Exception as e:
                s.failures += 1
                s.consecutive += 1
                s.last_error = f"{type(e).__name__}: {e}"
                if not s.logged_exception:
                    s.logged_exception = True
                    log.error("plugin %s raised (logged once, counted in stats):\n%s", s.name,
                              traceback.format_exc())
                if s.consecutive >= s.max_failures:
                    s.disabled = True
                    s.disabled_reason = f"{s.consecutive} consecutive failures; last: {s.last_error}"
                    log.error("plugin %s disabled after %d consecutive failures (last: %s)", s.name,
                              s.consecutive, s.last_error)
            else:
                s.processed += 1
                s.consecutive = 0
        self._call_stop(s)

    @staticmethod
    def _call_stop(s: _Slot) -> None:
        with s.stop_lock:
            if s.stop_called:
                return
            s.stop_called = True
        s.phase = "stop"
        try:
            s.plugin.stop()
        except Exception as e:
            s.failures += 1
            s.last_error = f"{type(e).__name__}: {e}"
            log.error("plugin %s: stop() failed:\n%s", s.name, traceback.format_exc())
        s.phase = "stopped"

    def stop(self, timeout_s: float | None = None) -> dict[str, PluginStats]:
        """Drain and stop every plugin; returns the final stats (idempotent).

        Every plugin's ``stop()`` is called once. A plugin whose thread has not finished
        by the timeout (stuck in ``process()``, ``on_event()`` or ``stop()``) has its
        ``stop()`` called from a watchdog thread (if not yet called), is marked
        ``stop_timed_out`` and logged; its daemon thread is left behind.

        Parameters
        ----------
        timeout_s : float > 0 [s], optional
            Overall time for all plugins (default ``stop_timeout_s``).
        """
        timeout = self.stop_timeout_s if timeout_s is None else float(timeout_s)
        if not self._running:
            return self.stats
        self._running = False
        self._frame_slots = self._event_slots = ()  # submit() delivers nothing more
        for s in self._slots:
            while True:
                try:
                    s.queue.put_nowait(_STOP)
                    break
                except queue.Full:  # make room: the oldest item is lost (counted)
                    try:
                        s.queue.get_nowait()
                        s.received -= 1
                        s.dropped += 1
                    except queue.Empty:
                        pass
        deadline = time.monotonic() + timeout
        stuck = []
        for s in self._slots:
            s.thread.join(max(0.0, deadline - time.monotonic()))
            if s.thread.is_alive():
                stuck.append(s)
        for s in stuck:
            s.stop_timed_out = True
            where = s.phase
            if not s.stop_called:
                # The plugin's own thread cannot reach stop(): call it from a watchdog so
                # that it still happens (and may unblock the stuck call), bounded in time.
                w = threading.Thread(target=self._call_stop, args=(s,), daemon=True,
                                     name=f"fluxstream-plugin-stop-{s.name}")
                w.start()
                w.join(min(timeout, 1.0))
            log.error("plugin %s did not return within %g s (stuck in %s()); stop() %s; its thread was left "
                      "behind", s.name, timeout, where,
                      "was called from the runner" if s.stop_called else "could not be called")
        return self.stats

    @property
    def stats(self) -> dict[str, PluginStats]:
        """Per plugin counters (safe to read from any thread; values may be one item old)."""
        return {s.name: s.stats() for s in self._slots}

    def __enter__(self) -> "PluginRunner":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


# --- latency -----------------------------------------------------------------------------

def path_latency_samples(plugin: Plugin, feature_latency_samples: Mapping[str, int]) -> int:
    """Total latency [samples] of a plugin's output: the largest latency of the features
    it consumes (all computed features when it declares none) plus its own
    ``latency_samples``."""
    consumes = tuple(getattr(plugin, "consumes", ()) or ())
    names = consumes if consumes else tuple(feature_latency_samples)
    base = max((int(feature_latency_samples.get(n, 0)) for n in names), default=0)
    return base + int(getattr(plugin, "latency_samples", 0))


# --- discovery ---------------------------------------------------------------------------

def discover_plugins(group: str = ENTRY_POINT_GROUP) -> dict[str, importlib.metadata.EntryPoint]:
    """Installed plugins: entry-point name -> entry point (not loaded yet)."""
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=group)}


def load_plugin_class(spec: str, *, group: str = ENTRY_POINT_GROUP) -> type[Plugin]:
    """The Plugin class a ``module:Class`` string (or an entry-point name) names.

    Raises
    ------
    ConfigError
        A malformed spec, or a name that is neither ``module:Class`` nor an installed
        entry point (the message lists the installed ones).
    PluginError
        The module fails to import, has no such attribute, or it is not a Plugin class.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"plugin {spec!r}: expected 'module:Class' or the name of an installed plugin")
    spec = spec.strip()
    if ":" in spec:
        mod_name, _, attr = spec.partition(":")
        if not mod_name or not attr or ":" in attr:
            raise ConfigError(f"plugin {spec!r}: expected 'module:Class' (e.g. 'mypackage.meters:Meter')")
        try:
            obj: Any = importlib.import_module(mod_name)
        except Exception as e:
            raise PluginError(f"plugin {spec!r}: cannot import module {mod_name!r}: {type(e).__name__}: {e}") from e
        for part in attr.split("."):
            try:
                obj = getattr(obj, part)
            except AttributeError:
                raise PluginError(f"plugin {spec!r}: module {mod_name!r} has no attribute {attr!r}") from None
    else:
        eps = discover_plugins(group)
        if spec not in eps:
            known = ", ".join(sorted(eps)) or "(none installed)"
            raise ConfigError(f"plugin {spec!r}: not 'module:Class' and no installed plugin of that name in entry-point "
                              f"group {group!r}; installed: {known}")
        try:
            obj = eps[spec].load()
        except Exception as e:
            raise PluginError(f"plugin {spec!r} (entry point {eps[spec].value!r}) failed to load: "
                              f"{type(e).__name__}: {e}") from e
    if not (isinstance(obj, type) and issubclass(obj, Plugin)):
        raise PluginError(f"plugin {spec!r}: {obj!r} is not a subclass of fluxstream.plugins.base.Plugin")
    return obj


def build_plugin(spec: str | type[Plugin], settings: Mapping[str, Any] | None = None, *,
                 section: str | None = None) -> Plugin:
    """Instantiate a plugin with validated settings.

    Parameters
    ----------
    spec : str or Plugin subclass
        ``module:Class``, an entry-point name, or the class itself.
    settings : mapping, optional
        Built into the plugin's ``params_class`` (unknown keys and bad values rejected,
        the error naming the key, value and rule).
    section : str, optional
        Config path for error messages (default ``plugins.<Class>.settings``).

    Raises
    ------
    ConfigError, PluginError
    """
    cls = load_plugin_class(spec) if isinstance(spec, str) else spec
    if not (isinstance(cls, type) and issubclass(cls, Plugin)):
        raise PluginError(f"{cls!r} is not a subclass of fluxstream.plugins.base.Plugin")
    section = section or f"plugins.{cls.__name__}.settings"
    pcls = cls.params_class
    if pcls is None:
        if settings:
            raise ConfigError(f"[{section}]: plugin {cls.__name__} takes no settings, got {', '.join(map(str, settings))}")
        params = None
    else:
        if not (dataclasses.is_dataclass(pcls) and issubclass(pcls, Params)):
            raise PluginError(f"plugin {cls.__name__}: params_class {pcls!r} must be a fluxstream.params.Params dataclass")
        params = build_dataclass(pcls, dict(settings or {}), section)
    try:
        return cls(params) if pcls is not None else cls()
    except (ConfigError, PluginError):
        raise
    except Exception as e:
        raise PluginError(f"plugin {cls.__name__} could not be created: {type(e).__name__}: {e}") from e


def plugin_from_table(table: Mapping[str, Any], index: int = 0) -> tuple[Plugin, dict]:
    """A plugin from one ``[[plugins]]`` table; returns ``(plugin, runner options)``.

    The options (``queue_size``, ``max_failures``) are for :meth:`PluginRunner.add`.

    Raises
    ------
    ConfigError
        Unknown keys (the message lists the valid ones), a missing ``use``, bad settings.
    """
    where = f"plugins[{index}]"
    if not isinstance(table, Mapping):
        raise ConfigError(f"[[plugins]] entry {index} must be a table, got {table!r}")
    for k in table:
        if k not in _TABLE_KEYS:
            raise ConfigError(f"unknown key {where}.{k}; valid keys in [[plugins]]: {', '.join(_TABLE_KEYS)}")
    if "use" not in table:
        raise ConfigError(f"{where}: missing key 'use' (e.g. use = \"mypackage.meters:Meter\")")
    opts = {}
    for k in ("queue_size", "max_failures"):
        if k in table:
            v = table[k]
            if not (isinstance(v, int) and not isinstance(v, bool) and v >= 1):
                raise ConfigError(f"{where}.{k}={v!r} is not allowed: must be an integer >= 1")
            opts[k] = v
    settings = table.get("settings", {})
    if not isinstance(settings, Mapping):
        raise ConfigError(f"{where}.settings must be a table, got {settings!r}")
    return build_plugin(table["use"], settings, section=f"{where}.settings"), opts
