"""The exception hierarchy of fluxstream.

Every error fluxstream raises on purpose derives from :class:`FluxstreamError`, so a
caller can catch one type. The CLI maps :class:`ConfigError` to exit code 2 (usage) and
every other :class:`FluxstreamError` to exit code 1 (runtime), printing the message as
one line.
"""

from __future__ import annotations

__all__ = [
    "FluxstreamError",
    "ConfigError",
    "StreamError",
    "DeviceError",
    "AudioFileError",
    "PluginError",
]


class FluxstreamError(Exception):
    """Root of every error fluxstream raises deliberately."""


class ConfigError(FluxstreamError, ValueError):
    """A configuration key, value or parameter is invalid.

    The message names the key, the value given and what is allowed.
    """


class StreamError(FluxstreamError):
    """Moving samples failed at run time (source, ring buffer, analysis thread)."""


class DeviceError(StreamError):
    """An audio device is missing, unsupported, or PortAudio is not installed."""


class AudioFileError(StreamError):
    """An audio file is missing, unreadable or in a format libsndfile does not read."""


class PluginError(FluxstreamError):
    """A plugin or subscriber failed or was configured wrongly."""
