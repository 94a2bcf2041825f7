"""fluxstream: a real-time streaming audio analysis engine.

Live audio (a sound card, a file, or the built-in demo signal) flows block by block through
a ring buffer into incremental transforms and online features; results go to subscribers
and recorders. The same streaming path analyses files as fast as the machine allows.

The public API (imported on first use, so that ``fluxstream --help`` and Ctrl-C during
start-up stay quick and clean):

- :class:`Engine` (source -> analysis thread -> subscribers), :class:`EngineStats`
- :func:`analyze` (a whole file -> the ``.npz`` arrays), :func:`load_config`, :class:`Config`
- :class:`Frames`, :class:`Event` (what subscribers receive)
- sources: :class:`DeviceSource`, :class:`FileSource`, :class:`DemoSource`
- stages: :class:`Stft`, :class:`Istft`, :class:`Framer`, :func:`stft`; the registry in
  :mod:`fluxstream.dsp.registry`
- errors: :class:`FluxstreamError` and subclasses
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "analyze": "analysis", "analyze_to": "analysis",
    "Config": "config", "load_config": "config",
    "Engine": "stream.engine", "EngineStats": "stream.engine",
    "Frames": "results", "Event": "results",
    "DeviceSource": "stream.device", "FileSource": "stream.file", "DemoSource": "stream.demo",
    "Stft": "dsp.stft", "Istft": "dsp.stft", "stft": "dsp.stft", "Framer": "dsp.framing",
    "FluxstreamError": "errors", "ConfigError": "errors", "StreamError": "errors",
    "DeviceError": "errors", "AudioFileError": "errors", "PluginError": "errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fluxstream' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
