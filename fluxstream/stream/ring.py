"""A single-producer/single-consumer ring buffer for audio blocks.

The producer is the audio callback (PortAudio's thread): :meth:`RingBuffer.write` copies a
block in, never allocating an array and never waiting. When the ring is full the samples
that do not fit are dropped and counted, and a gap (its position on the stream's sample
clock and its length) is recorded for the consumer. The consumer (the analysis thread)
waits for data with :meth:`RingBuffer.read`, which returns a zero-copy view of contiguous
samples plus their position on the sample clock, and gives the space back with
:meth:`RingBuffer.release`.

The sample clock counts every sample the producer was offered, kept or dropped, so time
stays tied to the device even across overruns.
"""

from __future__ import annotations

import threading

import numpy as np

__all__ = ["RingBuffer"]


class RingBuffer:
    """SPSC ring of float32 ``(frames, channels)``.

    Parameters
    ----------
    capacity : int > 0
        Frames (samples per channel) it holds.
    channels : int > 0
    max_gaps : int > 0
        Gaps the producer can record before the consumer reads past them. Consecutive
        drops merge into one gap, so a new gap needs consumer progress in between; past the
        limit a gap merges into the last one (the lost-sample total stays exact, the clock
        of the samples between them would be late).

    Attributes
    ----------
    overrun_samples : int
        Samples dropped because the ring was full (per channel).
    written : int
        Samples offered to :meth:`write` so far (the sample clock).

    Real-time notes
    ---------------
    Everything is allocated in ``__init__``. :meth:`write` (producer thread) does two slice
    copies at most, updates integers and sets an Event; it never blocks beyond the Event's
    internal lock. :meth:`read` (consumer thread) blocks up to its timeout. Views returned
    by :meth:`read` stay valid until :meth:`release` of those samples. One producer and
    one consumer only: the indices are each written by one side (atomic under the GIL).
    """

    def __init__(self, capacity: int, channels: int = 1, max_gaps: int = 1024):
        if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)) or capacity < 1:
            raise ValueError(f"capacity={capacity!r} must be an integer >= 1 (samples)")
        if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)) or channels < 1:
            raise ValueError(f"channels={channels!r} must be an integer >= 1")
        self.capacity = int(capacity)
        self.channels = int(channels)
        self._buf = np.zeros((self.capacity, self.channels), dtype=np.float32)
        # Gaps as (stored-sample count where the gap sits, clock position, length): a fixed
        # table written by the producer only; the consumer reads entries below _gap_w.
        self._gaps = np.zeros((max_gaps, 3), dtype=np.int64)
        self._max_gaps = max_gaps
        self._data = threading.Event()
        self.reset()

    def reset(self) -> None:
        """Empty the ring and zero the counters (only while neither side is running)."""
        self._w = 0  # stored samples written (producer)
        self._r = 0  # stored samples released (consumer)
        self._gap_w = 0  # gaps recorded (producer)
        self._gap_r = 0  # gaps consumed (consumer)
        self._lost_before = 0  # samples lost in consumed gaps (consumer)
        self.written = 0
        self.overrun_samples = 0
        self._data.clear()

    # --- producer ----------------------------------------------------------------------

    def write(self, block: np.ndarray) -> int:
        """Copy ``block`` [shape=(n, channels)] in; return how many samples were kept.

        Samples that do not fit are dropped (the newest ones) and recorded as a gap.
        """
        n = block.shape[0]
        free = self.capacity - (self._w - self._r)
        k = n if n <= free else free
        if k:
            i = self._w % self.capacity
            first = min(k, self.capacity - i)
            self._buf[i : i + first] = block[:first]
            if k > first:
                self._buf[: k - first] = block[first:k]
        if k < n:
            lost = n - k
            self.overrun_samples += lost
            pos = self.written + k
            g = self._gap_w - 1
            if g >= self._gap_r and self._gaps[g % self._max_gaps, 0] == self._w + k and \
                    self._gaps[g % self._max_gaps, 1] + self._gaps[g % self._max_gaps, 2] == pos:
                self._gaps[g % self._max_gaps, 2] += lost  # continues the previous gap
            elif self._gap_w - self._gap_r < self._max_gaps:
                row = self._gaps[self._gap_w % self._max_gaps]
                row[0], row[1], row[2] = self._w + k, pos, lost
                self._gap_w += 1
            else:
                self._gaps[(self._gap_w - 1) % self._max_gaps, 2] += lost  # table full: merge
        self.written += n
        self._w += k  # publish after the copy: the consumer never sees half-written samples
        self._data.set()
        return k

    # --- consumer ----------------------------------------------------------------------

    @property
    def available(self) -> int:
        """Stored samples ready to read."""
        return self._w - self._r

    def read(self, max_frames: int, timeout: float | None = None) -> tuple[int, np.ndarray]:
        """Wait for samples and return ``(position, view)``.

        Parameters
        ----------
        max_frames : int > 0
            Most samples to return. Fewer come back when the data wraps around the ring's
            end, or stops at a gap.
        timeout : float or None [s]
            Longest wait for data; ``None`` waits forever.

        Returns
        -------
        position : int
            Sample-clock index of ``view[0]``. A position past the end of the previous read
            means samples were lost there (a gap).
        view : ndarray [shape=(n, channels), dtype=float32]
            Zero-copy; ``n`` is 0 on timeout. Call :meth:`release` with ``n`` when done.
        """
        if self._w == self._r:
            self._data.clear()
            if self._w == self._r and not self._data.wait(timeout):
                return self._position(self._r), self._buf[:0]
        w = self._w
        n = min(max_frames, w - self._r)
        # Stop at the next gap so that one view is contiguous on the sample clock.
        for g in range(self._gap_r, self._gap_w):
            at = int(self._gaps[g % self._max_gaps, 0])
            if at > self._r:
                n = min(n, at - self._r)
                break
        i = self._r % self.capacity
        n = min(n, self.capacity - i)
        return self._position(self._r), self._buf[i : i + n]

    def _position(self, stored: int) -> int:
        """Sample-clock index of stored sample number ``stored`` (consumer side)."""
        # Retire gaps whose stored position is at or before `stored` into the running offset.
        while self._gap_r < self._gap_w and self._gaps[self._gap_r % self._max_gaps, 0] <= stored:
            row = self._gaps[self._gap_r % self._max_gaps]
            self._lost_before += int(row[2])
            self._gap_r += 1
        return stored + self._lost_before

    def release(self, n: int) -> None:
        """Give back the first ``n`` samples of the last :meth:`read`."""
        if n < 0 or n > self._w - self._r:
            raise ValueError(f"release({n}) but only {self._w - self._r} samples are held")
        self._r += n
