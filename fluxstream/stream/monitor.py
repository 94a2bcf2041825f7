"""Audio out: the gated signal on an output device (``listen --denoise ... --monitor``).

The analysis thread writes gated blocks into a ring buffer; PortAudio's output callback
copies what is there and plays silence for what is not (an underrun, counted). A short
pre-fill (``prefill_s``) absorbs the analysis thread's jitter.
"""

from __future__ import annotations

import numpy as np

from ..errors import DeviceError
from .device import import_sounddevice
from .ring import RingBuffer

__all__ = ["OutputMonitor"]


class OutputMonitor:
    """Plays blocks on an output device as they are handed to it.

    Parameters
    ----------
    sample_rate : int [Hz]
    channels : int >= 1
    device : str
        "" = the default output; an index or a name substring.
    prefill_s : float >= 0 [s]
        Silence queued before playback starts (the monitor's added latency).
    buffer_s : float > 0 [s]
        Ring capacity; a block that does not fit is dropped (counted as overrun).

    Real-time notes
    ---------------
    :meth:`write` runs in the analysis thread (one copy into the ring); the callback runs
    in PortAudio's thread and only copies, fills silence and counts. ``underrun_samples``
    and ``overrun_samples`` are the stats.
    """

    def __init__(self, sample_rate: int, channels: int = 1, device: str = "", prefill_s: float = 0.05,
                 buffer_s: float = 2.0):
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.device = device
        self.prefill = int(round(prefill_s * sample_rate))
        self.ring = RingBuffer(max(int(buffer_s * sample_rate), self.prefill + 1), channels)
        self.underrun_samples = 0
        self._stream = None
        self._started = False

    @property
    def overrun_samples(self) -> int:
        return self.ring.overrun_samples

    def _callback(self, outdata, frames, time_info, status) -> None:
        if status.output_underflow:
            self.underrun_samples += frames
        done = 0
        while done < frames:
            avail = self.ring.available
            if not avail:
                break
            _, view = self.ring.read(frames - done, timeout=0)
            k = view.shape[0]
            if not k:
                break
            outdata[done : done + k] = view
            self.ring.release(k)
            done += k
        if done < frames:
            outdata[done:] = 0
            if self._started:
                self.underrun_samples += frames - done

    def start(self) -> "OutputMonitor":
        sd = import_sounddevice()
        # sounddevice resolves an index or a name substring itself (and says which it did not).
        dev = None if self.device == "" else int(self.device) if str(self.device).isdigit() else self.device
        if self.prefill:
            self.ring.write(np.zeros((self.prefill, self.channels), dtype=np.float32))
        try:
            self._stream = sd.OutputStream(samplerate=self.sample_rate, channels=self.channels, dtype="float32",
                                           device=dev, callback=self._callback, latency="low")
            self._stream.start()
        except Exception as e:
            self._stream = None
            raise DeviceError(f"cannot open the monitor output ({self.device or 'default output'}, "
                              f"{self.sample_rate} Hz, {self.channels} ch): {e}") from None
        self._started = True
        return self

    def write(self, block: np.ndarray) -> None:
        """Queue gated audio ``(n, channels)`` for playback (analysis thread)."""
        if block.shape[0]:
            self.ring.write(np.asarray(block, dtype=np.float32).reshape(-1, self.channels))

    __call__ = write

    def stop(self) -> None:
        """Stop and close the output (idempotent)."""
        stream, self._stream = self._stream, None
        self._started = False
        if stream is not None:
            try:
                stream.stop()
            finally:
                stream.close()


class AudioFileSink:
    """Writes blocks to a WAV/FLAC/OGG/AIFF file from its own thread (``[gate] record``).

    Parameters
    ----------
    path : str
        Format by suffix.
    sample_rate : int [Hz]
    channels : int >= 1
    queue_blocks : int
        Blocks waiting to be written; beyond that a block is dropped (counted).

    Real-time notes
    ---------------
    :meth:`write` (analysis thread) copies the block into a bounded queue and returns;
    disk I/O happens in the writer thread. :meth:`close` writes what is queued and closes
    the file, also after Ctrl-C.
    """

    def __init__(self, path: str, sample_rate: int, channels: int = 1, queue_blocks: int = 1024):
        import queue
        import threading

        import soundfile as sf

        from ..denoise import _format_of
        from ..errors import AudioFileError

        try:
            self._file = sf.SoundFile(path, "w", samplerate=int(sample_rate), channels=int(channels),
                                      format=_format_of(path))
        except (RuntimeError, OSError, sf.LibsndfileError, ValueError) as e:
            raise AudioFileError(f"cannot write {path!r}: {e}") from None
        self.path = path
        self.dropped_blocks = 0
        self._q: queue.Queue = queue.Queue(maxsize=queue_blocks)
        self._thread = threading.Thread(target=self._run, name="fluxstream-record", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            block = self._q.get()
            if block is None:
                return
            self._file.write(block)

    def write(self, block: np.ndarray) -> None:
        import queue

        if block.shape[0]:
            try:
                self._q.put_nowait(np.array(block, dtype=np.float32, copy=True))
            except queue.Full:
                self.dropped_blocks += 1

    __call__ = write

    def close(self) -> None:
        """Write what is queued, then close the file (idempotent)."""
        if self._thread.is_alive():
            self._q.put(None)
            self._thread.join()
        if not self._file.closed:
            self._file.close()
