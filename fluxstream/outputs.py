"""Where results go besides files: OSC destinations, plugins and the OSC control server,
set up around one engine (the ``listen``/``analyze`` commands' ``--osc``, ``--plugin``
and ``--control``, and the ``[[output.osc]]``, ``[[plugins]]`` and ``[control]`` tables).

:class:`Outputs` is built from the configuration before the engine opens, started once it
is open (it needs the stream's sample rate, channels and feature latencies) and stopped
after the engine stopped, whatever happened (plugins always get ``stop()``).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Iterable

from .config import Config
from .errors import ConfigError
from .plugins.base import Plugin, PluginRunner, StreamInfo, build_plugin, plugin_from_table
from .plugins.control import ControlHandlers, ControlParams, ControlServer, standard_commands
from .plugins.osc import OscDestinationParams, OscPublisher, parse_target

__all__ = ["Outputs", "capture_clock"]

log = logging.getLogger("fluxstream")


def capture_clock(source, sample_rate: float):
    """``clock(sample) -> unix time`` at which a sample was captured.

    For a device with input timestamps (PortAudio's ADC time of the latest callback), the
    sample clock is mapped through them: ``t_adc + (sample - sample_adc) / sample_rate``,
    shifted from the stream's time base to the wall clock once. Otherwise (files, the
    demo, devices whose backend reports no ADC time) ``t0 + sample / sample_rate`` with
    ``t0`` the wall-clock time of the first call. Thread-safe: reads two floats the
    device callback writes, retrying when it caught them mid-update.
    """
    sr = float(sample_rate)
    adc = getattr(source, "adc_clock", None)
    stream_time = getattr(source, "stream_time", None)
    state: dict[str, float] = {}
    lock = threading.Lock()

    def clock(sample: int) -> float:
        if adc is not None and stream_time is not None:
            for _ in range(3):
                s0, t_adc, s1 = adc[0], adc[1], adc[0]
                if s0 == s1:
                    break
            if t_adc > 0:
                if "offset" not in state:
                    with lock:
                        now_stream = stream_time()
                        if now_stream is not None and now_stream > 0:
                            state.setdefault("offset", time.time() - now_stream)
                if "offset" in state:
                    return state["offset"] + t_adc + (sample - s0) / sr
        if "t0" not in state:
            with lock:
                state.setdefault("t0", time.time() - sample / sr)
        return state["t0"] + sample / sr

    return clock


class Outputs:
    """OSC destinations, plugins and the control server of one engine.

    Parameters
    ----------
    config : Config
        ``osc`` (``[[output.osc]]``), ``plugins`` (``[[plugins]]``), ``control``.
    osc : iterable of str or OscDestinationParams
        More destinations (``--osc HOST:PORT``).
    plugins : iterable of str, Plugin or Plugin class
        More plugins (``--plugin module:Class``).
    control_port : int, optional
        Turn the control server on at this port (``--control PORT``).

    Real-time notes
    ---------------
    Built in the main thread; :meth:`start` starts one sender thread per OSC destination,
    one thread per plugin and the control server's thread. The engine's analysis thread
    only enqueues (``submit``): a slow or unreachable receiver never slows analysis.
    Control commands that change analysis state (reset) are handed to the analysis
    thread, never run in the server's.
    """

    def __init__(self, config: Config, osc: Iterable[str | OscDestinationParams] = (),
                 plugins: Iterable[Any] = (), control_port: int | None = None):
        dests = list(config.osc)
        for t in osc:
            dests.append(t if isinstance(t, OscDestinationParams) else parse_target(t))
        self._publisher = OscPublisher(dests) if dests else None
        self._runner = PluginRunner()
        self._plugin_names: list[str] = []
        for i, table in enumerate(config.plugins):
            plugin, opts = plugin_from_table(table, i)
            self._plugin_names.append(self._runner_add(plugin, **opts))
        for spec in plugins:
            plugin = spec if isinstance(spec, Plugin) else build_plugin(spec)
            self._plugin_names.append(self._runner_add(plugin))
        control = config.control
        if control_port is not None:
            if not (isinstance(control_port, int) and 0 <= control_port <= 65535):
                raise ConfigError(f"--control {control_port!r}: must be a UDP port 0..65535")
            control = ControlParams(**{**control.__dict__, "enabled": True, "port": control_port})
        self._control_params = control
        self._control: ControlServer | None = None
        self._engine = None
        self._started = False

    def _runner_add(self, plugin: Plugin, **opts) -> str:
        return self._runner.add(plugin, **opts)

    @property
    def active(self) -> bool:
        """Whether anything is configured (OSC, plugins or control)."""
        return bool(self._publisher or self._plugin_names or self._control_params.enabled)

    @property
    def control_address(self) -> tuple[str, int] | None:
        """``(host, port)`` the control server listens on, once started."""
        return self._control.address if self._control is not None else None

    def start(self, engine) -> "Outputs":
        """Subscribe to an opened engine and start every output."""
        if self._started:
            raise ConfigError("Outputs already started")
        self._engine = engine
        g = engine.graph
        info = StreamInfo(
            sample_rate=engine.ctx.sample_rate, channels=engine.ctx.channels, stream=engine.stream,
            live=bool(getattr(engine.source, "live", False)), hop_length=engine.ctx.hop_length,
            features=tuple(g.outputs),
            feature_latency_samples={n: g.latency_samples(n) for n in g.outputs},
            clock=capture_clock(engine.source, engine.ctx.sample_rate))
        if self._plugin_names:
            self._runner.start(info)  # refuses a non-causal plugin on live input
            engine.subscribe(self._runner.submit)
        if self._publisher is not None:
            self._publisher.start(info)
            engine.subscribe(self._publisher.submit)
        if self._control_params.enabled:
            self._control = ControlServer(self._control_params, standard_commands(
                self._handlers(engine), self._control_params.prefix)).start()
        self._started = True
        return self

    def _handlers(self, engine) -> ControlHandlers:
        pub = self._publisher

        def set_onset_threshold(v: float) -> None:
            for node in engine.graph.nodes_named("onset"):
                node.set_threshold(v)

        def status() -> dict:
            out: dict[str, Any] = {"engine": engine.stats}
            if pub is not None:
                out["osc"] = pub.stats
            if self._plugin_names:
                out["plugins"] = self._runner.stats
            return out

        has_onset = "onset" in engine.graph.outputs
        gate = getattr(engine, "_gate", None)
        spectral = gate is not None and hasattr(gate.stage, "start_learning")
        time_gate = gate is not None and hasattr(gate.stage, "set_thresholds")

        def set_gate_threshold_db(v: float) -> None:
            # Open at v, close 10 dB lower (the defaults' hysteresis): attribute writes the
            # analysis thread reads at its next block.
            gate.stage.set_thresholds(open_db=v, close_db=v - 10.0)

        return ControlHandlers(
            set_gate_threshold_db=set_gate_threshold_db if time_gate else None,
            learn_noise=engine.request_noise_learning if spectral else None,
            set_feature=pub.set_feature_enabled if pub is not None else None,
            feature_names=tuple(engine.graph.outputs) + tuple(engine.graph.event_kinds),
            set_onset_threshold=set_onset_threshold if has_onset else None,
            reset=engine.request_reset,
            pause=pub.pause if pub is not None else None,
            resume=pub.resume if pub is not None else None,
            status=status,
        )

    def stop(self) -> dict:
        """Stop every output (idempotent); returns their stats by kind."""
        out: dict[str, Any] = {}
        if not self._started:
            return out
        self._started = False
        if self._control is not None:
            out["control"] = self._control.stop()
            self._control = None
        if self._publisher is not None:
            out["osc"] = self._publisher.stop()
        if self._plugin_names:
            out["plugins"] = self._runner.stop()
        return out

    def summary(self, stats: dict) -> list[str]:
        """One line per output kind for the command line's stats."""
        lines = []
        osc = stats.get("osc")
        if osc is not None:
            d = osc.as_dict() if hasattr(osc, "as_dict") else dict(getattr(osc, "__dict__", {}))
            lines.append("osc: " + ", ".join(f"{k} {v}" for k, v in d.items() if not isinstance(v, (list, dict,
                                                                                                    tuple))))
        for name, st in (stats.get("plugins") or {}).items():
            d = st.as_dict() if hasattr(st, "as_dict") else dict(getattr(st, "__dict__", {}))
            lines.append(f"plugin {name}: " + ", ".join(f"{k} {v}" for k, v in d.items()))
        return lines
