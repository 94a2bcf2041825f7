"""The ``fluxstream`` command: ``listen``, ``analyze``, ``devices``, ``features``.

Errors print one line to stderr and exit with 2 for usage/config errors, 1 for runtime
errors; ``--debug`` shows the traceback instead. Every option that is also a config key is
spelled the same way in ``--set`` (``--rate`` is ``input.sample_rate``, ``--block`` is
``input.block``...).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import os
import signal
import sys
import time
import traceback

# Only light modules at import time: numpy, scipy and the engine are imported inside the
# commands, within main()'s error handling, so Ctrl-C during start-up exits cleanly.
from . import __version__
from .errors import ConfigError, FluxstreamError
from .interrupts import held

__all__ = ["main", "build_parser"]

log = logging.getLogger("fluxstream")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # usage errors: one line, exit 2 (argparse's own code)
        self.exit(2, f"fluxstream: error: {message} (see fluxstream {self.prog.split()[-1]} --help)\n"
                  if " " in self.prog else f"fluxstream: error: {message} (see fluxstream --help)\n")


def _common(defaults: bool) -> argparse.ArgumentParser:
    """The options every command takes, before or after the command name. After it, they
    default to SUPPRESS so that a subcommand does not reset what came before it."""
    d = (lambda v: v) if defaults else (lambda v: argparse.SUPPRESS)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE.toml", default=d(None),
                        help="configuration file (TOML)")
    common.add_argument("--set", metavar="SECTION.KEY=VALUE", action="append", default=d([]),
                        dest="overrides", help="override one config value (repeatable)")
    common.add_argument("--debug", action="store_true", default=d(False),
                        help="show tracebacks and debug logs")
    return common


def _output_args(s) -> None:
    s.add_argument("--osc", metavar="HOST:PORT", action="append", default=[],
                   help="send results as OSC to HOST:PORT (repeatable; tcp://HOST:PORT for TCP)")
    s.add_argument("--plugin", metavar="MODULE:CLASS", action="append", default=[],
                   help="run a plugin (repeatable; an entry point name of fluxstream.plugins works too)")
    s.add_argument("--control", metavar="PORT", type=int,
                   help="accept OSC control messages on this UDP port (127.0.0.1 unless [control] host)")


def _outputs(cfg, args):
    from .outputs import Outputs

    return Outputs(cfg, osc=args.osc, plugins=args.plugin, control_port=args.control)


def build_parser() -> argparse.ArgumentParser:
    common = _common(defaults=False)
    p = _Parser(prog="fluxstream", description="Real-time streaming audio analysis.",
                parents=[_common(defaults=True)])
    p.add_argument("--version", action="version", version=f"fluxstream {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    s = sub.add_parser("devices", parents=[common], help="list audio input devices")
    s.set_defaults(func=cmd_devices)

    s = sub.add_parser("features", parents=[common], help="list every available feature")
    s.add_argument("--params", action="store_true", help="also list each feature's parameters")
    s.set_defaults(func=cmd_features)

    s = sub.add_parser("listen", parents=[common],
                       help="analyse live input with a one-line meter (demo signal without a device)")
    s.add_argument("--device", help="input device: index or name substring (input.device)")
    s.add_argument("--rate", type=int, help="sample rate in Hz (input.sample_rate)")
    s.add_argument("--channels", type=int, help="channels to open (input.channels)")
    s.add_argument("--block", type=int, help="samples per block (input.block)")
    s.add_argument("--demo", action="store_true", help="use the built-in demo signal (input.source=demo)")
    s.add_argument("--file", help="play a file at real time instead of a device (input.file)")
    s.add_argument("--features", help="comma-separated features (analysis.features)")
    s.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    s.add_argument("--denoise", choices=("gate", "stationary", "nonstationary"),
                   help="run the noise gate on the input (gate.mode); features see the gated signal")
    s.add_argument("--monitor", action="store_true", help="play the gated audio on the output device (gate.monitor)")
    s.add_argument("--noise-clip", metavar="FILE", help="learn the stationary noise profile from FILE (gate.noise_clip)")
    s.add_argument("--record", metavar="FILE", action="append", default=[],
                   help="write the features and events to FILE (.npz, .csv or .jsonl, as analyze --out; "
                        "repeatable); complete also after Ctrl-C")
    s.add_argument("--record-audio", metavar="FILE",
                   help="write the input audio to FILE (.wav, .flac, .ogg, .aiff); complete also after Ctrl-C")
    _output_args(s)
    s.set_defaults(func=cmd_listen)

    s = sub.add_parser("denoise", parents=[common],
                       help="run a file through the online noise gate (causal, streaming) into another file")
    s.add_argument("input", metavar="IN")
    s.add_argument("output", metavar="OUT", help="WAV, FLAC, OGG or AIFF (by suffix)")
    s.add_argument("--mode", choices=("gate", "stationary", "nonstationary"), default=None,
                   help="gate.mode (default: stationary with --noise-clip/--profile, else nonstationary)")
    s.add_argument("--noise-clip", metavar="FILE", help="learn the noise profile from FILE (gate.noise_clip)")
    s.add_argument("--profile", metavar="FILE.npz", help="a saved noise profile (gate.profile)")
    s.add_argument("--save-profile", metavar="FILE.npz", help="save the profile learned from --noise-clip")
    s.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    s.set_defaults(func=cmd_denoise)

    s = sub.add_parser("analyze", parents=[common],
                       help="analyse files as fast as possible, through the streaming path")
    s.add_argument("files", nargs="+", metavar="FILE")
    s.add_argument("--features", help="comma-separated features (analysis.features)")
    s.add_argument("--out", metavar="PATH",
                   help="output .npz/.csv/.jsonl; with several files, a directory")
    s.add_argument("--format", choices=("npz", "csv", "jsonl"), default="npz",
                   help="format of the files written into an --out directory (default npz)")
    s.add_argument("--block", type=int, help="samples read per block (input.block)")
    s.add_argument("--realtime", action="store_true", help="pace at real time (input.realtime)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    _output_args(s)
    s.set_defaults(func=cmd_analyze)
    return p


def _flag_values(args, mapping: dict[str, str]) -> dict[str, object]:
    """CLI flags as typed config values (dotted key -> value), applied after --config and
    --set, so a flag wins. Values are passed as Python objects, never re-parsed as text."""
    out: dict[str, object] = {}
    for attr, key in mapping.items():
        v = getattr(args, attr, None)
        if v is None or v is False:
            continue
        if attr == "features":
            v = [n.strip() for n in v.split(",") if n.strip()]
        elif attr == "device" and v.strip().isdigit():
            v = int(v)  # an index; any other text is a name substring
        out[key] = v
    return out


def _config(args, mapping: dict[str, str], extra: dict[str, object] | None = None):
    from .config import load_config

    values = _flag_values(args, mapping)
    values.update(extra or {})
    return load_config(args.config, args.overrides, values=values)


# --- devices ---------------------------------------------------------------------------


def cmd_devices(args) -> int:
    from .config import load_config
    from .stream.device import list_input_devices, terminate_portaudio

    load_config(args.config, args.overrides)  # validate, even if unused here
    try:
        devices = list_input_devices()
    finally:
        terminate_portaudio()
    if not devices:
        print("no audio input devices found (PortAudio sees none); `fluxstream listen` will use the demo signal")
        return 0
    print(f"{'':2}{'index':>5}  {'name':40} {'host API':28} {'ch':>3} {'rate Hz':>8}")
    for d in devices:
        mark = "*" if d["default"] else " "
        print(f"{mark:2}{d['index']:>5}  {d['name'][:40]:40} {d['hostapi'][:28]:28} "
              f"{d['channels']:>3} {d['default_rate']:>8.0f}")
    return 0


# --- features --------------------------------------------------------------------------


def cmd_features(args) -> int:
    from .config import load_config
    from .dsp import registry
    from .dsp.registry import AnalysisContext

    cfg = load_config(args.config, args.overrides)
    st = cfg.stft
    rate = cfg.input.sample_rate or 48000
    ctx = AnalysisContext(sample_rate=rate, channels=1, n_fft=st.n_fft, hop_length=st.hop_length,
                          win_length=st.win_length, window=st.window, center=st.center)
    from .dsp.graph import Graph

    print(f"features at {rate} Hz, n_fft {st.n_fft}, hop {st.hop_length} "
          f"(latency = samples after a frame's time that it needs)")
    print(f"{'name':16} {'dim':>5} {'unit':11} {'latency':>17}  description")
    for name in registry.public_names():
        g = Graph(ctx, [name], {**cfg.features, name: cfg.feature_params(name)})
        lat = g.latency_samples(name)
        print(f"{name:16} {g.dim(name):>5} {g.unit(name):11} {lat:>6} ({1e3 * lat / rate:6.1f} ms)  "
              f"{registry.REGISTRY[name].description}")
        if args.params:
            p = g.params_for(name)
            fields = [f"{f.name}={_toml(getattr(p, f.name))}" for f in dataclasses.fields(p)]
            print(f"{'':16}   [features.{name}] " + (", ".join(fields) if fields else "(no parameters)"))
    return 0


def _toml(v) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, str):
        return f'"{v}"'
    return repr(v)


# --- listen ----------------------------------------------------------------------------


class _Meter:
    """The live one-line meter: keeps the latest values (analysis thread), draws them
    (main thread)."""

    WIDTH = 24

    def __init__(self):
        self.time_s = 0.0
        self.rms = None
        self.centroid = None
        self.gaps = 0

    def __call__(self, item) -> None:
        import numpy as np

        from .results import Frames

        if isinstance(item, Frames):
            self.time_s = float(item.time_s[-1])
            if "rms" in item.features:
                self.rms = float(np.max(item["rms"][-1]))
            if "centroid" in item.features:
                self.centroid = float(np.mean(item["centroid"][-1]))
        elif getattr(item, "kind", "") == "gap":
            self.gaps += 1

    def line(self) -> str:
        parts = [f"{self.time_s:8.1f} s"]
        if self.rms is not None:
            db = 20 * math.log10(max(self.rms, 1e-10))
            fill = int(round(self.WIDTH * min(1.0, max(0.0, (db + 60) / 60))))
            parts.append(f"level {db:6.1f} dBFS [{'#' * fill}{'.' * (self.WIDTH - fill)}]")
        if self.centroid is not None:
            parts.append(f"centroid {self.centroid:7.0f} Hz")
        if self.gaps:
            parts.append(f"gaps {self.gaps}")
        return " | ".join(parts)


def cmd_listen(args) -> int:
    from .stream.device import NoInputDevice, terminate_portaudio
    from .stream.engine import Engine
    from .stream.source import open_source

    flags = {"device": "input.device", "rate": "input.sample_rate", "channels": "input.channels",
             "block": "input.block", "features": "analysis.features", "file": "input.file",
             "denoise": "gate.mode", "monitor": "gate.monitor", "noise_clip": "gate.noise_clip"}
    extra: dict[str, object] = {"input.source": "demo"} if args.demo else {}
    if args.file:
        extra.update({"input.source": "file", "input.realtime": True})
    cfg = _config(args, flags, extra)
    source = open_source(cfg.input)
    engine = Engine(cfg, source=source)
    try:
        engine.open()
    except NoInputDevice as e:
        explicit = cfg.input.device != ""
        if explicit:
            raise
        print(f"fluxstream: {e}; using the built-in demo signal instead", file=sys.stderr)
        cfg = cfg.replace(input={"source": "demo"})
        engine = Engine(cfg, source=open_source(cfg.input))
        engine.open()
    meter = _Meter()
    engine.subscribe(meter)
    outputs = _outputs(cfg, args)
    monitor = recorder = None
    records: list = []  # feature recorders and the input audio file, closed last
    try:
        if args.record or args.record_audio:
            records = _listen_records(engine, args)
        outputs.start(engine)
        if cfg.gate.enabled and cfg.gate.monitor:
            from .stream.monitor import OutputMonitor

            monitor = OutputMonitor(engine.ctx.sample_rate, engine.ctx.channels, cfg.gate.output_device).start()
            engine.add_audio_sink(monitor)
        if cfg.gate.enabled and cfg.gate.record:
            from .stream.monitor import AudioFileSink

            recorder = AudioFileSink(cfg.gate.record, engine.ctx.sample_rate, engine.ctx.channels)
            engine.add_audio_sink(recorder)
    except BaseException:
        engine.stop()
        outputs.stop()
        for sink in (monitor, recorder):
            if sink is not None:
                sink.stop() if sink is monitor else sink.close()
        for rec in records:
            rec.close()
        terminate_portaudio()
        raise
    tty = sys.stdout.isatty()
    print(f"listening to {engine.source.description}; Ctrl-C to stop", file=sys.stderr)
    if outputs.control_address is not None:
        print("control: OSC on udp://%s:%d" % outputs.control_address, file=sys.stderr)
    engine.start(args.duration)
    last_line = 0.0
    out_stats: dict = {}
    try:
        while not engine.wait(0.1):
            if tty:
                sys.stdout.write("\r" + meter.line() + "\033[K")
                sys.stdout.flush()
            elif time.monotonic() - last_line >= 1.0:
                last_line = time.monotonic()
                print(meter.line(), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        try:
            stats = engine.stop()
        finally:
            out_stats = outputs.stop()  # plugins always get stop(), files are closed
            if monitor is not None:
                monitor.stop()
            if recorder is not None:
                recorder.close()  # the gated audio file is complete, also after Ctrl-C
            for rec in records:
                rec.close()  # after engine.stop(): every frame and event is in
            terminate_portaudio()  # also when stop() raises: JACK aborts processes that skip it
        if tty:
            sys.stdout.write("\r" + meter.line() + "\033[K\n")
        else:
            print(meter.line())
    print("stats: " + stats.summary(), file=sys.stderr)
    for line in outputs.summary(out_stats):
        print(line, file=sys.stderr)
    if monitor is not None:
        print(f"monitor: underruns {monitor.underrun_samples} samples, overruns {monitor.overrun_samples} samples",
              file=sys.stderr)
    return 0


def _listen_records(engine, args) -> list:
    """The ``--record`` feature files and the ``--record-audio`` file of a live run,
    subscribed to the opened engine; each has ``close()``."""
    from .analysis import clocks_of, describe, layout_of
    from .plugins.recorders import FeatureRecorder, format_for
    from .stream.monitor import AudioFileSink

    for path in args.record:
        format_for(path)  # a bad suffix is a usage error before anything is opened
    meta, freqs = describe(engine)
    meta["source"] = engine.source.description
    records = []
    for path in args.record:
        rec = FeatureRecorder(path, freqs=freqs, meta=meta, layout=layout_of(engine), clocks=clocks_of(engine))
        engine.subscribe(rec)
        records.append(rec)
    if args.record_audio:
        sink = AudioFileSink(args.record_audio, engine.ctx.sample_rate, engine.ctx.channels)
        engine.add_input_sink(sink)
        records.append(sink)
    return records


# --- denoise ---------------------------------------------------------------------------


def cmd_denoise(args) -> int:
    from .denoise import denoise_file

    flags = {"mode": "gate.mode", "noise_clip": "gate.noise_clip", "profile": "gate.profile",
             "save_profile": "gate.save_profile"}
    cfg = _config(args, flags)
    if cfg.gate.mode == "off":  # neither --mode nor the config chose: from what was given
        cfg = cfg.replace(gate={"mode": "stationary" if (cfg.gate.noise_clip or cfg.gate.profile)
                                else "nonstationary"})
    if cfg.gate.mode == "stationary" and not (cfg.gate.noise_clip or cfg.gate.profile or cfg.gate.learn_s > 0):
        raise ConfigError("--mode stationary needs a noise profile: --noise-clip FILE, --profile FILE.npz, "
                          "or --set gate.learn_s=SECONDS (learn from the file's start)")
    bar = _Progress(os.path.basename(args.input), not args.no_progress)
    t0 = time.perf_counter()
    try:
        info = denoise_file(args.input, args.output, cfg.gate, on_progress=bar)
    finally:
        bar.done()
    wall = time.perf_counter() - t0
    audio_s = info["samples"] / info["sample_rate"]
    print(f"{args.input} -> {args.output}: {audio_s:.2f} s of audio, {info['mode']}, latency "
          f"{info['latency_samples']} samples (removed: aligned to the input), {wall:.2f} s "
          f"({audio_s / wall if wall > 0 else float('inf'):.0f}x real time)")
    return 0


# --- analyze ---------------------------------------------------------------------------


class _Progress:
    """A progress bar on stderr (only when stderr is a terminal), redrawn at most 10x/s."""

    def __init__(self, label: str, enabled: bool):
        self.label = label
        self.enabled = enabled and sys.stderr.isatty()
        self._last = 0.0

    def __call__(self, fraction: float) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.1 and fraction < 1.0):
            return
        self._last = now
        n = int(30 * fraction)
        sys.stderr.write(f"\r{self.label[-40:]:40} [{'#' * n}{'.' * (30 - n)}] {100 * fraction:5.1f}%")
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def _out_paths(files: list[str], out: str | None, fmt: str) -> list[str | None]:
    if out is None:
        return [None] * len(files)
    is_dir = os.path.isdir(out) or out.endswith(os.sep) or len(files) > 1
    if not is_dir:
        from .plugins.recorders import format_for

        format_for(out)  # validates the suffix
        return [out]
    if os.path.exists(out) and not os.path.isdir(out):
        raise ConfigError(f"--out {out!r}: with several files, --out must be a directory")
    stems = [os.path.splitext(os.path.basename(f))[0] for f in files]
    if len(set(stems)) != len(stems):
        raise ConfigError("several input files share a name; analyse them into separate --out directories")
    return [os.path.join(out, f"{s}.{fmt}") for s in stems]


def cmd_analyze(args) -> int:
    import numpy as np

    from .analysis import analyze_to

    flags = {"features": "analysis.features", "block": "input.block", "realtime": "input.realtime"}
    cfg = _config(args, flags)
    outs = _out_paths(args.files, args.out, args.format)
    for path, out in zip(args.files, outs):
        bar = _Progress(os.path.basename(path), not args.no_progress)
        t0 = time.perf_counter()
        outputs = _outputs(cfg, args)
        try:
            arrays, stats = analyze_to(path, out, cfg, on_progress=bar, outputs=outputs)
        finally:
            bar.done()
            out_stats = outputs.stop()
        wall = time.perf_counter() - t0
        speed = stats.audio_s / wall if wall > 0 else float("inf")
        where = f" -> {out}" if out else ""
        print(f"{path}: {stats.audio_s:.2f} s of audio, {stats.frames} frames in {wall:.2f} s "
              f"({speed:.0f}x real time){where}")
        if arrays is not None:
            for name in cfg.analysis.features:
                if name not in arrays:  # an event-only feature (onset): its events
                    times = arrays.get(f"{name}.time")
                    print(f"  {name:10} {0 if times is None else len(times)} events")
                    continue
                a = arrays[name]
                print(f"  {name:10} shape {str(a.shape):14} mean {np.mean(a):.6g}  "
                      f"min {np.min(a):.6g}  max {np.max(a):.6g}" if a.size else f"  {name:10} (no frames)")
        for line in outputs.summary(out_stats):
            print("  " + line)
    return 0


# --- entry point -----------------------------------------------------------------------


def _sigterm_as_interrupt(signum, frame):
    raise KeyboardInterrupt  # a service manager's stop is a Ctrl-C: clean shutdown, stats


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if threading_is_main():
        signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        format="fluxstream: %(levelname)s: %(message)s")
    try:
        with held():  # Ctrl-C during the imports: raised after them, not lost inside one
            from .stream import engine  # noqa: F401  (numpy, scipy, numba and every stage)
        return int(args.func(args) or 0)
    except ConfigError as e:
        if args.debug:
            traceback.print_exc()
        print(f"fluxstream: error: {e}", file=sys.stderr)
        return 2
    except FluxstreamError as e:
        if args.debug:
            traceback.print_exc()
        print(f"fluxstream: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # before the engine ran (start-up) or a second Ctrl-C
        print("fluxstream: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # a bug: one line, the traceback only with --debug
        if _caused_by_interrupt(e):
            # Ctrl-C inside an import, wrapped by the interpreter (a class body's
            # __set_name__ turns it into a RuntimeError): still an interrupt.
            print("fluxstream: interrupted", file=sys.stderr)
            return 130
        if args.debug:
            traceback.print_exc()
        print(f"fluxstream: internal error: {type(e).__name__}: {e} (run with --debug for the traceback)",
              file=sys.stderr)
        return 1


def _caused_by_interrupt(e: BaseException) -> bool:
    """Whether a KeyboardInterrupt is among ``e``'s causes or contexts."""
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def threading_is_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
