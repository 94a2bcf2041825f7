"""Sound-card input through PortAudio (the ``sounddevice`` package), into a ring buffer.

``sounddevice`` is imported here only, and only when a device is listed or opened, so that
file and demo analysis work on machines without PortAudio. Every failure becomes a one-line
:class:`~fluxstream.errors.DeviceError`: PortAudio missing (naming ``libportaudio2``), no
input device, no such device, unsupported rate or channel count.
"""

from __future__ import annotations

import threading
from typing import Iterator

import numpy as np

from ..errors import ConfigError, DeviceError
from .ring import RingBuffer
from .source import ChannelMap

__all__ = [
    "DeviceSource",
    "NoInputDevice",
    "import_sounddevice",
    "list_input_devices",
    "resolve_device",
    "terminate_portaudio",
]


class NoInputDevice(DeviceError):
    """PortAudio is there but sees no input device (or PortAudio itself is missing)."""


def import_sounddevice():
    """Import ``sounddevice``, turning a missing PortAudio into a clear error.

    Raises
    ------
    NoInputDevice
        The PortAudio library is not installed (``OSError`` from sounddevice).
    DeviceError
        The ``sounddevice`` package itself is missing.
    """
    try:
        import sounddevice as sd
    except OSError as e:
        raise NoInputDevice(
            "PortAudio library not found: install it (Debian/Ubuntu: apt-get install "
            f"libportaudio2) to use audio devices ({e})"
        ) from None
    except ImportError:
        raise DeviceError("the sounddevice package is not installed: pip install sounddevice") from None
    return sd


def list_input_devices() -> list[dict]:
    """Input-capable devices: dicts with ``index``, ``name``, ``hostapi``, ``channels``,
    ``default_rate`` [Hz] and ``default`` (bool)."""
    sd = import_sounddevice()
    try:
        devices = sd.query_devices()
        apis = sd.query_hostapis()
    except Exception as e:  # PortAudio errors surface as several types
        raise DeviceError(f"cannot list audio devices: {e}") from None
    try:
        default_in = sd.default.device[0]
    except Exception:
        default_in = -1
    out = []
    for i, d in enumerate(devices):
        if d["max_input_channels"] > 0:
            out.append({
                "index": i, "name": d["name"], "hostapi": apis[d["hostapi"]]["name"],
                "channels": int(d["max_input_channels"]),
                "default_rate": float(d["default_samplerate"]), "default": i == default_in,
            })
    if default_in is None or default_in < 0:
        # PortAudio names no default input; take the first input device (if any).
        if out:
            out[0]["default"] = True
    return out


def resolve_device(spec: int | str) -> dict:
    """The input device ``spec`` names: ``""`` = default, an index, or a name substring
    (case-insensitive; an exact name wins over substrings)."""
    inputs = list_input_devices()
    if not inputs:
        which = "" if spec == "" or spec is None else f"input.device={spec!r}: "
        raise NoInputDevice(f"{which}no audio input device found (PortAudio sees none)")
    names = "; ".join(f"{d['index']}: {d['name']}" for d in inputs)
    if spec == "" or spec is None:
        return next(d for d in inputs if d["default"])
    if isinstance(spec, int):
        for d in inputs:
            if d["index"] == spec:
                return d
        raise DeviceError(f"input.device={spec}: no input device with that index; inputs are {names}")
    want = str(spec).lower()
    exact = [d for d in inputs if d["name"].lower() == want]
    if len(exact) == 1:
        return exact[0]
    found = [d for d in inputs if want in d["name"].lower()]
    if len(found) == 1:
        return found[0]
    if not found:
        raise DeviceError(f"input.device={spec!r}: no input device name contains it; inputs are {names}")
    many = "; ".join(f"{d['index']}: {d['name']}" for d in found)
    raise DeviceError(f"input.device={spec!r} matches several devices ({many}): give the index")


class DeviceSource:
    """Live input from a sound card.

    Parameters
    ----------
    device : int or str
        Index, name substring, or ``""`` for the default input.
    sample_rate : int >= 0 [Hz]
        0 = the device's default rate.
    channels : int > 0
        Channels opened.
    block : int > 0 [samples]
        PortAudio block size (samples per callback).
    latency : "low" | "high" | float [s]
    select, mono
        Channel selection and mix-down, applied in the analysis thread.
    buffer_s : float > 0 [s]
        Ring buffer length.

    Attributes
    ----------
    ring : RingBuffer
        Where the callback writes (after :meth:`open`).
    status_overflows : int
        Callbacks that PortAudio flagged with an input overflow (samples lost before they
        reached fluxstream; their number is unknown).
    info : dict
        The resolved device (index, name, hostapi, ...).

    Real-time notes
    ---------------
    The PortAudio callback only copies into the ring (allocated in :meth:`open`), counts
    status flags and stores the block's ADC time; no logging, allocation or imports.
    :meth:`blocks` runs in the analysis thread and yields zero-copy views of the ring,
    released when the consumer asks for the next block.
    """

    def __init__(self, device: int | str = "", sample_rate: int = 0, channels: int = 1,
                 block: int = 512, latency: str | float = "low", select=(), mono: bool = True,
                 buffer_s: float = 2.0):
        if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
            raise ConfigError(f"input.channels={channels!r} is not allowed: must be an integer >= 1")
        self.device = device
        self._want_rate = int(sample_rate)
        self.open_channels = channels
        self.block = int(block)
        self.latency = latency
        self._select, self._mono = tuple(select), mono
        self.buffer_s = float(buffer_s)
        self.live = True
        self.sample_rate = 0
        self.channels = 0
        self.status_overflows = 0
        self.ring: RingBuffer | None = None
        self.info: dict = {}
        self.description = "audio device"
        self._stream = None
        self._closing = threading.Event()
        # (sample clock at the start of the last callback, its input ADC time [s]): lets
        # later stages map the sample clock to the device's time base.
        self.adc_clock = np.zeros(2, dtype=np.float64)

    def open(self) -> None:
        """Resolve the device, check the settings and start the input stream.

        Raises
        ------
        NoInputDevice
            PortAudio missing, or no input device at all.
        DeviceError
            No such device, or it cannot do this rate / channel count.
        """
        sd = import_sounddevice()
        self.info = resolve_device(self.device)
        rate = self._want_rate or int(round(self.info["default_rate"]))
        idx = self.info["index"]
        label = f"device {idx} ({self.info['name']!r})"
        try:
            sd.check_input_settings(device=idx, channels=self.open_channels, samplerate=rate,
                                    dtype="float32")
        except Exception as e:
            reason = e.args[0] if getattr(e, "args", None) else str(e)
            raise DeviceError(
                f"{label} does not support {rate} Hz with {self.open_channels} channel(s): "
                f"{reason} (it has {self.info['channels']} input channel(s), default rate "
                f"{self.info['default_rate']:.0f} Hz)"
            ) from None
        self._map = ChannelMap(self.open_channels, self._select, self._mono, label)
        self.sample_rate = rate
        self.channels = self._map.channels
        cap = max(int(self.buffer_s * rate), 4 * self.block)
        self.ring = RingBuffer(cap, self.open_channels)
        self._closing.clear()
        try:
            self._stream = sd.InputStream(
                device=idx, samplerate=rate, channels=self.open_channels, dtype="float32",
                blocksize=self.block, latency=self.latency, callback=self._callback,
            )
            self._stream.start()
        except Exception as e:
            self._stream = None
            raise DeviceError(f"cannot start {label}: {e}") from None
        self.description = f"{label}, {rate} Hz, {self.open_channels} ch"

    def _callback(self, indata, frames, time_info, status) -> None:
        # PortAudio's thread: copy, count, return. Nothing here may block or allocate.
        self.adc_clock[0] = self.ring.written
        self.adc_clock[1] = time_info.inputBufferAdcTime
        self.ring.write(indata)
        if status and status.input_overflow:
            self.status_overflows += 1

    def blocks(self) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(position, block)`` as the device delivers, until :meth:`close`.

        Each block holds whatever is waiting (at least one sample, up to the ring's
        contiguous span), so a consumer that fell behind catches up in large blocks.
        """
        if self.ring is None:
            raise DeviceError("device source is not open")
        ring = self.ring
        while not self._closing.is_set():
            pos, view = ring.read(max(self.block, ring.available), timeout=0.1)
            n = view.shape[0]
            if n == 0:
                if self._stream is not None and not self._stream.active and not self._closing.is_set():
                    raise DeviceError(f"{self.description}: the input stream stopped")
                continue
            yield pos, self._map(view)
            ring.release(n)

    @property
    def overrun_samples(self) -> int:
        """Samples dropped because the analysis fell behind (ring full)."""
        return 0 if self.ring is None else self.ring.overrun_samples

    def stream_time(self) -> float | None:
        """The open stream's current time in its own time base [s] (that of the ADC
        timestamps in :attr:`adc_clock`), or None when closed."""
        stream = self._stream
        try:
            return float(stream.time) if stream is not None else None
        except Exception:  # a backend without stream time: the caller falls back
            return None

    def close(self) -> None:
        """Stop and close the stream (idempotent). PortAudio stays initialized; see
        :func:`terminate_portaudio` for process exit under JACK."""
        self._closing.set()
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
            finally:
                stream.close()


def terminate_portaudio() -> None:
    """Shut PortAudio down if ``sounddevice`` was imported (call once, at process exit,
    after every stream is closed): under JACK, a process that exits with PortAudio still
    initialized aborts in ``pa_jack.c``."""
    import sys

    sd = sys.modules.get("sounddevice")
    if sd is not None:
        try:
            sd._terminate()
        except Exception:  # already terminated or never initialized: nothing to undo
            pass
