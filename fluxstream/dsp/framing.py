"""Turning blocks of any size into overlapping analysis frames.

:class:`Framer` is the one place where the stream's sample clock becomes a frame clock:
frame ``k`` starts at input sample ``k * hop_length - offset`` with ``offset =
frame_length // 2`` for a centred framing (librosa's ``center=True`` with
``pad_mode="constant"``: zeros before the first sample and, at :meth:`Framer.flush`, after
the last) and ``offset = 0`` otherwise. Its reference time is the centre sample
``k * hop_length - offset + frame_length // 2``, so a centred frame ``k`` sits at
``k * hop_length`` as in ``librosa.frames_to_samples``.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError

__all__ = ["Framer", "frame_signal", "n_frames_for"]


def _check_int(name: str, value, low: int, unit: str = "samples") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ConfigError(f"{name}={value!r} must be an integer >= {low} ({unit})")
    return int(value)


def n_frames_for(n_samples: int, frame_length: int, hop_length: int, center: bool) -> int:
    """Number of frames a whole signal of ``n_samples`` gives (librosa's count).

    With ``center`` the signal is padded by ``frame_length // 2`` on both sides.
    """
    padded = n_samples + (2 * (frame_length // 2) if center else 0)
    return 0 if padded < frame_length else 1 + (padded - frame_length) // hop_length


def frame_signal(x: np.ndarray, frame_length: int, hop_length: int, center: bool = True) -> np.ndarray:
    """Batch framing of a whole signal: the reference that :class:`Framer` streams.

    Parameters
    ----------
    x : ndarray [shape=(n_samples, n_channels)]
    frame_length, hop_length : int > 0 (samples)
    center : bool
        Pad ``frame_length // 2`` zeros on both sides first.

    Returns
    -------
    frames : ndarray [shape=(n_channels, n_frames, frame_length), dtype=float32]
        A new array (not a view).
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    pad = frame_length // 2 if center else 0
    y = np.zeros((x.shape[1], x.shape[0] + 2 * pad), dtype=np.float32)
    y[:, pad : pad + x.shape[0]] = x.T
    n = n_frames_for(x.shape[0], frame_length, hop_length, center)
    idx = np.arange(n)[:, None] * hop_length + np.arange(frame_length)[None, :]
    return y[:, idx] if n else np.zeros((x.shape[1], 0, frame_length), dtype=np.float32)


class Framer:
    """Stream framer: blocks of any size in, overlapping frames out, sample-accurate.

    Parameters
    ----------
    frame_length : int > 0
        Samples per frame.
    hop_length : int > 0
        Samples between frame starts (may exceed ``frame_length``).
    channels : int > 0
        Channels of every block.
    center : bool
        Centred framing (librosa ``center=True``, constant padding).

    Attributes
    ----------
    latency_samples : int
        Samples that must arrive after a frame's reference (centre) sample before the frame
        is emitted: ``frame_length - frame_length // 2``.
    hop : int
        Same as ``hop_length``.
    next_index : int
        Index of the next frame to be emitted.

    Examples
    --------
    >>> import numpy as np
    >>> f = Framer(4, 2, center=False)
    >>> frames, k0 = f.process(np.arange(7, dtype=np.float32)[:, None])
    >>> k0, frames.shape
    (0, (1, 2, 4))

    Real-time notes
    ---------------
    Runs in the analysis thread. The buffer is allocated in ``__init__`` for blocks of up to
    ``max_block`` samples and grows (once per new maximum) only when a larger block
    arrives. :meth:`process` returns a strided *view* into that buffer, valid until the next
    call: copy it to keep it. Causal; no look-ahead beyond the frame itself.
    """

    causal = True

    def __init__(self, frame_length: int = 2048, hop_length: int = 512, channels: int = 1,
                 center: bool = True, max_block: int = 4096):
        self.frame_length = _check_int("frame_length", frame_length, 1)
        self.hop_length = _check_int("hop_length", hop_length, 1)
        self.channels = _check_int("channels", channels, 1, "channels")
        self.center = bool(center)
        self.hop = self.hop_length
        self._offset = self.frame_length // 2 if self.center else 0
        self.latency_samples = self.frame_length - self.frame_length // 2
        cap = self.frame_length + self.hop_length + _check_int("max_block", max_block, 1)
        self._buf = np.zeros((self.channels, 2 * cap), dtype=np.float32)
        self.reset()

    def reset(self, start_sample: int = 0) -> None:
        """Forget the past; the next block's first sample is ``start_sample``.

        Samples before ``start_sample`` count as zeros, so the first frame emitted is the
        first whose reference sample is at or after ``start_sample`` (for a centred framing
        at 0, librosa's frame 0). Frame indices stay on the global clock.
        """
        self._pos = int(start_sample)  # absolute index of the next input sample
        hop, off = self.hop_length, self._offset
        k0 = -(-self._pos // hop)  # ceil: the first frame clock tick at or after start_sample
        self.next_index = k0
        first_start = k0 * hop - off  # absolute index of the next frame's first sample
        zeros = max(0, self._pos - first_start)
        self._lo = 0  # buffer column of the next frame's first sample
        self._fill = zeros  # valid columns from _lo
        self._buf[:, :zeros] = 0.0
        self._skip = max(0, first_start - self._pos)  # input samples to drop before buffering
        self._flushed = False

    def _make_room(self, m: int) -> None:
        need = self._fill + m
        if self._lo + need <= self._buf.shape[1]:
            return
        if need > self._buf.shape[1]:
            # Rare: a block larger than any before. Grow once to twice the need.
            new = np.zeros((self.channels, 2 * need), dtype=np.float32)
            new[:, : self._fill] = self._buf[:, self._lo : self._lo + self._fill]
            self._buf = new
        else:
            # Compact: move the unconsumed tail to the front (amortized, the buffer is 2x).
            self._buf[:, : self._fill] = self._buf[:, self._lo : self._lo + self._fill]
        self._lo = 0

    def process(self, block: np.ndarray) -> tuple[np.ndarray, int]:
        """Add a block and return the frames it completed.

        Parameters
        ----------
        block : ndarray [shape=(n_samples, channels) or (n_samples,) when mono]
            Any ``n_samples >= 0``; converted to float32 on the copy into the buffer.

        Returns
        -------
        frames : ndarray [shape=(channels, n_frames, frame_length), dtype=float32]
            A view, valid until the next call.
        first_index : int
            Frame index of ``frames[:, 0]``.
        """
        x = self._check_block(block)
        if self._flushed:
            raise RuntimeError("Framer.process after flush(): call reset() first")
        return self._push(x)

    def _check_block(self, block) -> np.ndarray:
        x = np.asarray(block)
        if x.ndim == 1 and self.channels == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != self.channels:
            raise ValueError(
                f"block shape {x.shape} does not match (n_samples, channels={self.channels})"
            )
        return x

    def _push(self, x: np.ndarray) -> tuple[np.ndarray, int]:
        n = x.shape[0]
        self._pos += n
        if self._skip:
            d = min(self._skip, n)
            x = x[d:]
            self._skip -= d
        m = x.shape[0]
        if m:
            self._make_room(m)
            end = self._lo + self._fill
            self._buf[:, end : end + m] = x.T
            self._fill += m
        N, hop = self.frame_length, self.hop_length
        n_frames = 0 if self._fill < N else 1 + (self._fill - N) // hop
        first = self.next_index
        s0, s1 = self._buf.strides
        # A strided view built directly (as_strided's generic path costs several us per
        # call, which matters at one frame per block). Read-only: callers must not write.
        frames = np.ndarray((self.channels, n_frames, N), np.float32, self._buf,
                            self._lo * s1, (s0, hop * s1, s1))
        frames.flags.writeable = False
        if n_frames:
            consumed = n_frames * hop
            self.next_index += n_frames
            if consumed >= self._fill:
                self._skip = consumed - self._fill
                self._lo, self._fill = 0, 0
            else:
                self._lo += consumed
                self._fill -= consumed
        return frames, first

    def flush(self) -> tuple[np.ndarray, int]:
        """End of stream: with a centred framing, pad ``frame_length // 2`` zeros and return
        the last frames (librosa's tail frames); otherwise return no frames."""
        if self._flushed or not self.center:
            self._flushed = True
            return np.zeros((self.channels, 0, self.frame_length), np.float32), self.next_index
        pad = np.zeros((self.frame_length // 2, self.channels), dtype=np.float32)
        out = self._push(pad)
        self._flushed = True
        return out
