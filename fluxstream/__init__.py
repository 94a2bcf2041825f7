"""fluxstream: a real-time streaming audio analysis engine.

Live audio (a sound card, a file, or the built-in demo signal) flows block by block through
a ring buffer into incremental transforms and online features; results go to subscribers
and recorders. The same streaming path analyses files as fast as the machine allows.

The public API:

- :class:`Engine` (source -> analysis thread -> subscribers), :class:`EngineStats`
- :func:`analyze` (a whole file -> the ``.npz`` arrays), :func:`load_config`, :class:`Config`
- :class:`Frames`, :class:`Event` (what subscribers receive)
- sources: :class:`DeviceSource`, :class:`FileSource`, :class:`DemoSource`
- stages: :class:`Stft`, :class:`Istft`, :class:`Framer`; the registry in
  :mod:`fluxstream.dsp.registry`
- errors: :class:`FluxstreamError` and subclasses
"""

__version__ = "0.1.0"

from .analysis import analyze, analyze_to  # noqa: E402
from .config import Config, load_config  # noqa: E402
from .dsp.framing import Framer  # noqa: E402
from .dsp.stft import Istft, Stft, stft  # noqa: E402
from .errors import (  # noqa: E402
    AudioFileError,
    ConfigError,
    DeviceError,
    FluxstreamError,
    PluginError,
    StreamError,
)
from .results import Event, Frames  # noqa: E402
from .stream.demo import DemoSource  # noqa: E402
from .stream.device import DeviceSource  # noqa: E402
from .stream.engine import Engine, EngineStats  # noqa: E402
from .stream.file import FileSource  # noqa: E402

__all__ = [
    "__version__",
    "analyze", "analyze_to", "Config", "load_config",
    "Engine", "EngineStats", "Frames", "Event",
    "DeviceSource", "FileSource", "DemoSource",
    "Stft", "Istft", "Framer", "stft",
    "FluxstreamError", "ConfigError", "StreamError", "DeviceError", "AudioFileError", "PluginError",
]
