"""Configuration: frozen dataclasses, TOML loading, ``--set`` overrides and validation.

A configuration file is TOML with these sections (the public contract, see README)::

    [input]     source, device, file, sample_rate, channels, select, mono, block,
                latency, realtime, buffer_s
    [stft]      n_fft, hop_length, win_length, window, center
    [analysis]  features
    [features.<name>]   that feature's own parameters
    [[output.osc]]      one table per OSC destination (host, port, features, rate_hz ...)
    [control]           the OSC control server (enabled, host, port ...)
    [[plugins]]         one table per plugin (use, settings, queue_size, max_failures)
    [gate]              the noise gate (mode, analyze, profile, thresholds ...)

Every value is checked where it enters: unknown sections and keys, wrong types and
out-of-range values raise :class:`~fluxstream.errors.ConfigError` naming the key, the value
and what is allowed. ``--set section.key=value`` (and the CLI's flags, which are spelled
the same) override file values; a value is read as a TOML literal, and as a plain string
when it is not one (``--set input.source=demo``).
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Iterable, Mapping

from .errors import ConfigError
from .params import Params, build_dataclass, fmt_value, opt
from .plugins.control import ControlParams

__all__ = [
    "Config",
    "InputConfig",
    "StftConfig",
    "AnalysisConfig",
    "Params",
    "opt",
    "load_config",
    "parse_override",
    "build_dataclass",
    "LIVE_BLOCK",
    "FILE_BLOCK",
]


#: Automatic block sizes [samples]: live input (latency matters) and files (throughput).
LIVE_BLOCK = 512
FILE_BLOCK = 131072


def _is_pos(v) -> bool:
    return v >= 1


@dataclass(frozen=True, kw_only=True)
class InputConfig(Params):
    """``[input]``: where audio comes from and how it is cut into blocks.

    Attributes
    ----------
    source : {"device", "file", "demo"}
    device : int or str
        Device index, or a case-insensitive substring of its name; ``""`` = system default.
    file : str
        Path, for ``source = "file"`` in ``listen``.
    sample_rate : int >= 0 [Hz]
        0 = the device's default rate, the file's own rate, or 48000 for the demo. A file
        whose rate differs from a non-zero value is an error (no resampling).
    channels : int >= 1
        Channels opened on the device.
    select : tuple of int >= 0
        Channels kept (0-based), from a device or a file; empty = all.
    mono : bool
        Mix the kept channels down to one by averaging (librosa's ``mono=True``).
    block : int >= 0 [samples]
        Samples handed to the engine per step (device block size; file read size). Results
        do not depend on it. 0 (the default) = automatic: :data:`LIVE_BLOCK` (512) for a
        device, the demo and a paced file, :data:`FILE_BLOCK` (131072) for a file analysed as
        fast as possible (fewer, larger steps cost less per sample).
    latency : "low" | "high" | float > 0 [s]
        Device input latency, as sounddevice takes it.
    realtime : bool
        Pace a file at real time (``listen`` with a file).
    buffer_s : float > 0 [s]
        Ring buffer between the audio callback and the analysis thread.
    """

    _section: ClassVar[str] = "input"
    source: str = opt("device", str, '"device", "file" or "demo"', choices=("device", "file", "demo"))
    device: int | str = opt("", (int, str), "a device index (integer >= 0) or a name substring",
                            check=lambda v: not isinstance(v, int) or v >= 0)
    file: str = opt("", str, "a path to an audio file")
    sample_rate: int = opt(0, int, "an integer >= 0 (Hz; 0 = the source's own rate)",
                           check=lambda v: v >= 0)
    channels: int = opt(1, int, "an integer >= 1 (channels)", check=_is_pos)
    select: tuple = opt((), tuple, "an array of channel indices (integers >= 0)",
                        check=lambda v: all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in v)
                        and len(set(v)) == len(v))
    mono: bool = opt(True, bool, "true or false")
    block: int = opt(0, int, "0 (automatic) or an integer in 1..1048576 (samples)",
                     check=lambda v: 0 <= v <= 1 << 20)
    latency: str | float = opt("low", (str, float), '"low", "high" or a number of seconds > 0',
                               check=lambda v: v in ("low", "high") if isinstance(v, str) else v > 0)
    realtime: bool = opt(False, bool, "true or false")
    buffer_s: float = opt(2.0, float, "a number of seconds in 0.01..600", check=lambda v: 0.01 <= v <= 600)

    def block_for(self, source: str) -> int:
        """The block size in effect for ``source`` (``"device"``, ``"demo"``, ``"file"``)."""
        if self.block:
            return self.block
        return FILE_BLOCK if source == "file" and not self.realtime else LIVE_BLOCK


@dataclass(frozen=True, kw_only=True)
class StftConfig(Params):
    """``[stft]``: the analysis clock every STFT feature shares.

    Attributes
    ----------
    n_fft : int >= 2 [samples]
    hop_length : int >= 1 [samples]
    win_length : int in 1..n_fft [samples], optional (default n_fft)
    window : str
        ``hann``, ``hamming``, ``blackman``, ``blackmanharris``, ``rectangular``,
        ``kaiser(beta)``, ``gaussian(sigma_samples)``.
    center : bool
        Centred frames (librosa ``center=True``, zero padding).
    """

    _section: ClassVar[str] = "stft"
    n_fft: int = opt(2048, int, "an integer in 2..1048576 (samples)", check=lambda v: 2 <= v <= 1 << 20)
    hop_length: int = opt(512, int, "an integer >= 1 (samples)", check=_is_pos)
    win_length: int | None = opt(None, int, "an integer in 1..n_fft (samples)", check=_is_pos)
    window: str = opt("hann", str, "a window name, e.g. \"hann\" or \"kaiser(14)\"")
    center: bool = opt(True, bool, "true or false")

    def validate(self) -> None:
        from .dsp.windows import parse_window

        if self.win_length is not None and self.win_length > self.n_fft:
            raise ConfigError(
                f"stft.win_length={self.win_length} is not allowed: must be an integer in "
                f"1..n_fft={self.n_fft} (samples)"
            )
        try:
            parse_window(self.window)
        except ConfigError as e:
            raise ConfigError(f"stft.{e}") from None


def _check_feature_names(names: tuple) -> bool:
    from .dsp import registry

    for n in names:
        if not isinstance(n, str):
            return False
        registry.get(n)  # raises a ConfigError that lists the available names
    return len(names) > 0


@dataclass(frozen=True, kw_only=True)
class AnalysisConfig(Params):
    """``[analysis]``: what to compute.

    Attributes
    ----------
    features : tuple of str
        Feature names (``fluxstream features`` lists them).
    threads : {0, 1, 2}
        Threads computing independent branches of the feature graph; 0 = automatic (2 for
        files analysed as fast as possible in blocks of at least 32 frames, 1 for live
        input). Results do not depend on it.
    """

    _section: ClassVar[str] = "analysis"
    features: tuple = opt(("rms", "centroid"), tuple, "a non-empty array of feature names",
                          check=_check_feature_names)
    threads: int = opt(0, int, "0 (automatic), 1 or 2", choices=(0, 1, 2))

    def threads_for(self, live: bool, frames_per_block: int = 1 << 30) -> int:
        """Threads for the graph: ``threads``, or automatically 2 for a file analysed as
        fast as possible in large blocks (at least 32 frames per block, where the hand-off
        between threads costs less than it saves) on a machine with several cores, else 1."""
        if self.threads:
            return self.threads
        import os

        return 2 if not live and frames_per_block >= 32 and (os.cpu_count() or 1) >= 2 else 1


def _gate_config():
    from .denoise import GateConfig

    return GateConfig


_SECTIONS = {"input": InputConfig, "stft": StftConfig, "analysis": AnalysisConfig}


@dataclass(frozen=True, kw_only=True)
class Config:
    """The whole configuration. Build with :func:`load_config`, or directly."""

    input: InputConfig = field(default_factory=InputConfig)
    stft: StftConfig = field(default_factory=StftConfig)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    features: Mapping[str, Any] = field(default_factory=dict)
    #: ``[[output.osc]]``: OSC destinations (:class:`~fluxstream.plugins.osc.OscDestinationParams`).
    osc: tuple = ()
    #: ``[control]``: the OSC control server (:class:`~fluxstream.plugins.control.ControlParams`).
    control: ControlParams = field(default_factory=ControlParams)
    #: ``[[plugins]]``: plugin tables (``use``, ``settings``, ``queue_size``, ``max_failures``),
    #: loaded when the engine's outputs start.
    plugins: tuple = ()
    #: ``[gate]``: the noise gate (:class:`~fluxstream.denoise.GateConfig`).
    gate: Any = field(default_factory=lambda: _gate_config()())

    def feature_params(self, name: str):
        """The params of feature ``name``: its ``[features.<name>]`` table, else the table
        of the feature it takes its parameters from (``onset_strength``: ``onset``), else
        defaults."""
        from .dsp import registry

        spec = registry.get(name)
        p = self.features.get(name)
        if p is None and spec.params_from is not None:
            p = self.features.get(spec.params_from)
        return p if p is not None else spec.params()

    def replace(self, **changes) -> "Config":
        """A copy with whole sections replaced, or ``section={key: value}`` merged in."""
        kw = {}
        for sec, val in changes.items():
            cur = getattr(self, sec)
            if isinstance(val, Mapping) and sec != "features":
                kw[sec] = dataclasses.replace(cur, **val)
            else:
                kw[sec] = val
        return dataclasses.replace(self, **kw)


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``"section.key=value"`` into (path, value), reading value as TOML if it is.

    >>> parse_override("stft.n_fft=1024")
    (['stft', 'n_fft'], 1024)
    >>> parse_override("input.source=demo")
    (['input', 'source'], 'demo')
    """
    key, sep, raw = text.partition("=")
    path = [p.strip() for p in key.strip().split(".")]
    if not sep or len(path) < 2 or not all(path):
        raise ConfigError(f"--set {text!r}: expected section.key=value, e.g. --set stft.n_fft=1024")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return path, value


def _set_path(tree: dict, path: list[str], value: Any) -> None:
    node = tree
    for p in path[:-1]:
        nxt = node.setdefault(p, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"--set {'.'.join(path)}: {p!r} is a value, not a section")
        node = nxt
    node[path[-1]] = value


def config_from_dict(tree: Mapping[str, Any]) -> Config:
    """Validate a parsed TOML document into a :class:`Config`."""
    from .dsp import registry

    from .plugins.osc import destinations_from_config

    known = list(_SECTIONS) + ["features", "output", "control", "plugins", "gate"]
    for sec in tree:
        if sec not in known:
            raise ConfigError(f"unknown section [{sec}]; valid sections: {', '.join(known)}")
    kw: dict[str, Any] = {s: build_dataclass(cls, tree.get(s, {}), s) for s, cls in _SECTIONS.items()}
    feats = tree.get("features", {})
    if not isinstance(feats, Mapping):
        raise ConfigError("[features] must hold one table per feature, e.g. [features.rms]")
    params = {name: registry.get(name).make_params(table) for name, table in _feature_tables(feats).items()}
    output = tree.get("output", {})
    if not isinstance(output, Mapping) or set(output) - {"osc"}:
        raise ConfigError("[output] holds [[output.osc]] tables (one per OSC destination); "
                          f"got {sorted(output) if isinstance(output, Mapping) else output!r}")
    osc = output.get("osc", [])
    if isinstance(osc, Mapping):
        osc = [osc]
    if not isinstance(osc, list):
        raise ConfigError("[[output.osc]] must be tables: host, port, features, rate_hz, ...")
    plugins = tree.get("plugins", [])
    if isinstance(plugins, Mapping):
        plugins = [plugins]
    if not isinstance(plugins, list) or not all(isinstance(t, Mapping) for t in plugins):
        raise ConfigError("[[plugins]] must be tables: use = \"module:Class\", settings = {...}")
    return Config(**kw, features=params, osc=tuple(destinations_from_config(osc)),
                  control=build_dataclass(ControlParams, tree.get("control", {}), "control"),
                  plugins=tuple(dict(t) for t in plugins),
                  gate=build_dataclass(_gate_config(), tree.get("gate", {}), "gate"))


def _feature_tables(feats: Mapping[str, Any], prefix: str = "") -> dict[str, dict]:
    """Flatten ``[features]``: a dotted feature name (``mfcc.delta``) arrives from TOML and
    ``--set`` as nested tables (``features -> mfcc -> delta``)."""
    from .dsp import registry

    out: dict[str, dict] = {}
    for key, table in feats.items():
        name = prefix + key
        if not isinstance(table, Mapping):
            raise ConfigError(
                f"features.{name}={fmt_value(table)}: [features] holds one table per feature; "
                "the list of features to compute is analysis.features"
            )
        nested = {k: v for k, v in table.items()
                  if isinstance(v, Mapping) and f"{name}.{k}" in registry.REGISTRY}
        out[name] = {k: v for k, v in table.items() if k not in nested}
        out.update(_feature_tables(nested, name + "."))
    return out


def load_config(path: str | Path | None = None, overrides: Iterable[str] = (),
                base: Mapping[str, Any] | None = None,
                values: Mapping[str, Any] | None = None) -> Config:
    """Load and validate a configuration.

    Parameters
    ----------
    path : path-like, optional
        A TOML file.
    overrides : iterable of str
        ``"section.key=value"`` strings applied after the file, in order.
    base : mapping, optional
        A parsed document to start from (before the file).
    values : mapping of str -> Any, optional
        Typed values by dotted key (``{"input.device": 3}``), applied last (the CLI's flags).

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        Missing or malformed file, unknown section/key, wrong type, value out of range.
    """
    tree: dict[str, Any] = {}
    for sec, table in (base or {}).items():
        tree[sec] = dict(table) if isinstance(table, Mapping) else table
    if path is not None:
        p = Path(path)
        try:
            doc = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {str(p)!r} does not exist") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"config file {str(p)!r} cannot be read: {e}") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config file {str(p)!r} is not valid TOML: {e}") from None
        for sec, table in doc.items():
            if isinstance(table, dict) and isinstance(tree.get(sec), dict):
                tree[sec].update(table)
            else:
                tree[sec] = table
    for text in overrides:
        path_, value = parse_override(text)
        _set_path(tree, path_, value)
    for key, value in (values or {}).items():
        _set_path(tree, key.split("."), value)
    return config_from_dict(tree)
