"""Moving samples: ring buffer, sources (device, file, demo) and the engine.

``sounddevice`` is imported only by :mod:`fluxstream.stream.device`, lazily, when a device
is listed or opened.
"""

from .demo import DemoSource
from .engine import Engine, EngineStats
from .file import FileSource
from .ring import RingBuffer
from .source import ChannelMap, open_source

__all__ = ["RingBuffer", "DemoSource", "FileSource", "Engine", "EngineStats", "ChannelMap", "open_source"]
