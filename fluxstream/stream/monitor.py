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
