"""What every source shares: the interface, channel selection/mix-down, real-time pacing,
and :func:`open_source` that builds the source an ``[input]`` config asks for.

A source yields ``(position, block)`` pairs: ``block`` is float32 ``(n_samples,
channels)`` and ``position`` the sample-clock index of its first sample. A position past
the end of the previous block means samples were lost (a gap).
"""

from __future__ import annotations

import threading
import time
from typing import Iterator, Protocol

import numpy as np

from ..errors import ConfigError

__all__ = ["Source", "ChannelMap", "Pacer", "open_source"]


class Source(Protocol):
    """The source interface the engine drives.

    Attributes
    ----------
    sample_rate : int [Hz]
    channels : int
        Channels of the yielded blocks (after selection and mix-down).
    live : bool
        True when blocks arrive at the pace of real time (device, demo, paced file).
    description : str
        One line for logs and the meter.
    """

    sample_rate: int
    channels: int
    live: bool
    description: str

    def open(self) -> None: ...

    def blocks(self) -> Iterator[tuple[int, np.ndarray]]: ...

    def close(self) -> None: ...


class ChannelMap:
    """Keep some channels (``select``) and optionally average them to one (``mono``).

    Parameters
    ----------
    in_channels : int > 0
    select : sequence of int
        0-based channels to keep; empty = all.
    mono : bool
    where : str
        Named in errors (``"file x.wav"``, ``"device 3"``).
    """

    def __init__(self, in_channels: int, select=(), mono: bool = True, where: str = "input"):
        select = tuple(select)
        bad = [c for c in select if not 0 <= c < in_channels]
        if bad:
            raise ConfigError(
                f"input.select={list(select)} is not allowed: {where} has {in_channels} "
                f"channel(s), indices 0..{in_channels - 1}"
            )
        self._idx = list(select) if select and list(select) != list(range(in_channels)) else None
        kept = len(select) if select else in_channels
        self._mono = bool(mono) and kept > 1
        self.channels = 1 if mono else kept

    @property
    def identity(self) -> bool:
        return self._idx is None and not self._mono

    def __call__(self, block: np.ndarray) -> np.ndarray:
        """Map a block [shape=(n, in_channels)]; returns the block itself when nothing
        changes, a new array otherwise."""
        x = block if self._idx is None else block[:, self._idx]
        if self._mono:
            x = x.mean(axis=1, keepdims=True, dtype=np.float32)
        return x


class Pacer:
    """Holds a producer to real time: :meth:`wait_until` returns when ``n`` samples'
    worth of time has passed since :meth:`start`, or early when ``stop`` is set."""

    def __init__(self, sample_rate: int, stop: threading.Event):
        self.sample_rate = sample_rate
        self._stop = stop
        self._t0 = 0.0

    def start(self) -> None:
        self._t0 = time.monotonic()

    def wait_until(self, n_samples: int) -> bool:
        """Wait until ``n_samples`` have 'played'; False if stopped meanwhile."""
        delay = self._t0 + n_samples / self.sample_rate - time.monotonic()
        if delay > 0:
            return not self._stop.wait(delay)
        return not self._stop.is_set()


def open_source(cfg, file: str | None = None) -> Source:
    """Build (not yet open) the source an :class:`~fluxstream.config.InputConfig` names.

    Parameters
    ----------
    cfg : InputConfig
    file : str, optional
        Overrides ``cfg.file`` (the ``analyze`` command's argument).
    """
    source = "file" if file is not None else cfg.source
    if source == "file":
        from .file import FileSource

        path = file if file is not None else cfg.file
        if not path:
            raise ConfigError('input.source="file" needs input.file (a path)')
        return FileSource(path, block=cfg.block_for("file"), select=cfg.select, mono=cfg.mono,
                          realtime=cfg.realtime, sample_rate=cfg.sample_rate)
    if source == "demo":
        from .demo import DemoSource

        return DemoSource(sample_rate=cfg.sample_rate or 48000, block=cfg.block_for("demo"),
                          realtime=True)
    from .device import DeviceSource

    return DeviceSource(device=cfg.device, sample_rate=cfg.sample_rate, channels=cfg.channels,
                        block=cfg.block_for("device"), latency=cfg.latency, select=cfg.select, mono=cfg.mono,
                        buffer_s=cfg.buffer_s)
