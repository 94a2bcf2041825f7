"""Audio files as a source: anything libsndfile reads (WAV, FLAC, OGG/Vorbis, ...)."""

from __future__ import annotations

import os
import threading
from typing import Iterator

import numpy as np
import soundfile as sf

from ..errors import AudioFileError, ConfigError
from .source import ChannelMap, Pacer

__all__ = ["FileSource"]


class FileSource:
    """Read a file block by block.

    Parameters
    ----------
    path : str or path-like
    block : int > 0 [samples]
        Samples per block.
    select : sequence of int
        Channels to keep (0-based); empty = all.
    mono : bool
        Average the kept channels to one.
    realtime : bool
        Pace the blocks at real time (as a live input would deliver them).
    sample_rate : int >= 0 [Hz]
        0 = the file's rate; another value that differs from the file's is an error (no
        resampling).

    Attributes
    ----------
    sample_rate, channels : int
        Known after :meth:`open`.
    n_samples : int
        Length of the file (samples per channel); -1 when the format does not say.

    Real-time notes
    ---------------
    :meth:`blocks` runs in the analysis thread and reads into one buffer allocated in
    :meth:`open`; a yielded block is a view of it, valid until the next one.
    """

    def __init__(self, path, block: int = 4096, select=(), mono: bool = True,
                 realtime: bool = False, sample_rate: int = 0):
        self.path = os.fspath(path)
        if block < 1:
            raise ConfigError(f"input.block={block} is not allowed: must be an integer >= 1 (samples)")
        self.block = int(block)
        self._select, self._mono = tuple(select), mono
        self.live = bool(realtime)
        self._want_rate = int(sample_rate)
        self._sf: sf.SoundFile | None = None
        self._stop = threading.Event()
        self.sample_rate = 0
        self.channels = 0
        self.n_samples = -1
        self.description = f"file {self.path}"

    def open(self) -> None:
        """Open the file and read its header.

        Raises
        ------
        AudioFileError
            Missing, not a regular file, or not readable as audio.
        ConfigError
            ``sample_rate`` or ``select`` does not fit the file.
        """
        if not os.path.exists(self.path):
            raise AudioFileError(f"audio file {self.path!r} does not exist")
        if os.path.isdir(self.path):
            raise AudioFileError(f"audio file {self.path!r} is a directory")
        try:
            f = sf.SoundFile(self.path)
        except (sf.LibsndfileError, RuntimeError, TypeError, OSError) as e:
            raise AudioFileError(f"cannot read {self.path!r} as audio: {e}") from None
        if self._want_rate and self._want_rate != f.samplerate:
            f.close()
            raise ConfigError(
                f"input.sample_rate={self._want_rate} but {self.path!r} is {f.samplerate} Hz; "
                "fluxstream does not resample: set sample_rate = 0 or resample the file"
            )
        self._map = ChannelMap(f.channels, self._select, self._mono, f"file {self.path!r}")
        self._sf = f
        self.sample_rate = int(f.samplerate)
        self.channels = self._map.channels
        self.n_samples = int(f.frames) if f.seekable() else -1
        self._buf = np.zeros((self.block, f.channels), dtype=np.float32)
        self._stop.clear()

    @property
    def duration_s(self) -> float:
        """Length in seconds (-1 when unknown)."""
        return self.n_samples / self.sample_rate if self.n_samples >= 0 and self.sample_rate else -1.0

    def blocks(self) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(position, block)`` until the end of the file (or :meth:`close`)."""
        if self._sf is None:
            raise AudioFileError(f"{self.description} is not open")
        pacer = Pacer(self.sample_rate, self._stop)
        pacer.start()
        pos = 0
        while not self._stop.is_set():
            try:
                data = self._sf.read(self.block, dtype="float32", always_2d=True, out=self._buf)
            except (sf.LibsndfileError, RuntimeError) as e:
                raise AudioFileError(f"reading {self.path!r} failed at sample {pos}: {e}") from None
            n = data.shape[0]
            if n == 0:
                return
            if self.live and not pacer.wait_until(pos + n):
                return
            yield pos, self._map(data)
            pos += n

    def close(self) -> None:
        """Stop :meth:`blocks` and close the file (idempotent)."""
        self._stop.set()
        if self._sf is not None:
            self._sf.close()
            self._sf = None
