"""The built-in demo signal: music-like audio with known ground truth, on any machine.

A loop of :data:`LOOP_S` seconds: a melody of harmonic notes (known onsets and pitches),
percussive noise hits (known times) and a low background noise. It is generated once,
deterministically (a fixed seed), and played in real time, so ``fluxstream listen`` shows
meaningful levels, centroids, pitches and onsets without a sound card.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..errors import ConfigError
from .source import Pacer

__all__ = ["DemoSource", "DemoNote", "demo_signal", "LOOP_S", "NOTES", "HITS_S"]

LOOP_S = 8.0
_NOTE_S = 0.5
#: MIDI notes of the melody, one every 0.5 s.
_MELODY = (60, 64, 67, 72, 71, 67, 64, 62, 60, 65, 69, 72, 74, 71, 67, 55)
#: Times of the percussive hits within the loop [s] (off the note grid).
HITS_S = tuple(0.25 + i for i in range(8))
_SEED = 20261121


@dataclass(frozen=True)
class DemoNote:
    """One note of the demo melody: onset [s] within the loop, MIDI number, f0 [Hz],
    duration [s]."""

    onset_s: float
    midi: int
    f0_hz: float
    duration_s: float


NOTES = tuple(
    DemoNote(i * _NOTE_S, m, 440.0 * 2.0 ** ((m - 69) / 12.0), 0.42) for i, m in enumerate(_MELODY)
)


def demo_signal(sample_rate: int = 48000) -> np.ndarray:
    """One loop of the demo signal.

    Notes: 6 harmonics with amplitudes 1/h (sum normalized to 0.3 peak), 5 ms linear
    attack, exponential decay to 60 % over the note, 30 ms release. Hits: white noise with a
    12 ms exponential decay, 0.25 peak. Background: white noise at -60 dBFS RMS.

    Returns
    -------
    x : ndarray [shape=(LOOP_S * sample_rate,), dtype=float32]
    """
    if sample_rate < 8000:
        raise ConfigError(f"sample_rate={sample_rate} is not allowed for the demo: must be >= 8000 (Hz)")
    n = int(round(LOOP_S * sample_rate))
    t = np.arange(n) / sample_rate
    x = np.zeros(n, dtype=np.float64)
    harm = np.arange(1, 7)
    amps = 1.0 / harm
    amps *= 0.3 / amps.sum()
    for note in NOTES:
        i0 = int(round(note.onset_s * sample_rate))
        m = int(round(note.duration_s * sample_rate))
        tt = t[:m]
        env = np.minimum(1.0, tt / 0.005) * np.exp(np.log(0.6) * tt / note.duration_s)
        rel = int(0.03 * sample_rate)
        env[-rel:] *= np.linspace(1.0, 0.0, rel)
        partials = harm[harm * note.f0_hz < sample_rate / 2]
        tone = (amps[: len(partials), None] * np.sin(2 * np.pi * note.f0_hz * partials[:, None] * tt)).sum(0)
        x[i0 : i0 + m] += env * tone
    rng = np.random.default_rng(_SEED)
    hit_len = int(0.1 * sample_rate)
    decay = np.exp(-np.arange(hit_len) / (0.012 * sample_rate))
    for h in HITS_S:
        i0 = int(round(h * sample_rate))
        x[i0 : i0 + hit_len] += 0.25 * decay * rng.uniform(-1.0, 1.0, hit_len)
    x += rng.standard_normal(n) * 10 ** (-60 / 20)
    return x.astype(np.float32)


class DemoSource:
    """The demo signal as a live source, looping, paced at real time.

    Parameters
    ----------
    sample_rate : int >= 8000 [Hz]
    block : int > 0 [samples]
    realtime : bool
        Pace at real time (default); False yields as fast as consumed (tests).
    duration_s : float, optional [s]
        Stop after this much audio; default: loop forever.

    Attributes
    ----------
    notes : tuple of DemoNote
        Ground truth of one loop (repeats every ``LOOP_S`` seconds).
    hits_s : tuple of float

    Real-time notes
    ---------------
    The loop is rendered in :meth:`open` (about 1.5 MB at 48 kHz); :meth:`blocks` yields
    views of it and allocates nothing.
    """

    channels = 1

    def __init__(self, sample_rate: int = 48000, block: int = 512, realtime: bool = True,
                 duration_s: float | None = None):
        if block < 1:
            raise ConfigError(f"input.block={block} is not allowed: must be an integer >= 1 (samples)")
        self.sample_rate = int(sample_rate)
        self.block = int(block)
        self.live = bool(realtime)
        self.duration_s = duration_s
        self.notes = NOTES
        self.hits_s = HITS_S
        self._stop = threading.Event()
        self._loop: np.ndarray | None = None
        self.description = f"built-in demo signal ({self.sample_rate} Hz)"

    def open(self) -> None:
        """Render the loop (with one block of wrap-around so every slice is contiguous)."""
        one = demo_signal(self.sample_rate)
        reps = 1 + -(-self.block // one.shape[0])
        self._loop = np.tile(one, reps + 1)[:, None]
        self._period = one.shape[0]
        self._stop.clear()

    def blocks(self) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(position, block)`` forever (or for ``duration_s``), at real time."""
        if self._loop is None:
            self.open()
        pacer = Pacer(self.sample_rate, self._stop)
        pacer.start()
        end = None if self.duration_s is None else int(round(self.duration_s * self.sample_rate))
        pos = 0
        while not self._stop.is_set() and (end is None or pos < end):
            n = self.block if end is None else min(self.block, end - pos)
            if self.live and not pacer.wait_until(pos + n):
                return
            i = pos % self._period
            yield pos, self._loop[i : i + n]
            pos += n

    def close(self) -> None:
        """Stop :meth:`blocks` (idempotent)."""
        self._stop.set()
