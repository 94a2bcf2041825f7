"""Incremental short-time Fourier transform and its inverse (weighted overlap-add).

:class:`Stft` = :class:`~fluxstream.dsp.framing.Framer` + window + real FFT. Any partition
of the input into blocks gives the frames of the batch transform, and those equal
``librosa.stft(center=True, pad_mode="constant")`` (and ``scipy.signal.ShortTimeFFT`` at
matching parameters) to float32 round-off. :class:`Istft` inverts it by weighted
overlap-add, normalised by the running sum of squared windows, as ``librosa.istft``.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .fft import RealFFT
from .framing import Framer
from .windows import make_window

__all__ = ["Stft", "Istft", "WindowedFFT", "stft", "check_stft_params"]


def check_stft_params(n_fft: int, hop_length: int, win_length: int | None) -> int:
    """Validate STFT sizes; return the effective ``win_length``.

    Raises
    ------
    ConfigError
        ``n_fft`` or ``hop_length`` not an integer >= 1, or ``win_length`` outside 1..n_fft.
    """
    for name, v in (("n_fft", n_fft), ("hop_length", hop_length)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ConfigError(f"{name}={v!r} must be an integer >= 1 (samples)")
    win = n_fft if win_length is None else win_length
    if isinstance(win, bool) or not isinstance(win, (int, np.integer)) or not 1 <= win <= n_fft:
        raise ConfigError(f"win_length={win_length!r} must be an integer in 1..n_fft={n_fft} (samples)")
    return int(win)


class WindowedFFT:
    """Window and real-FFT a batch of frames: the stateless half of the STFT.

    Parameters
    ----------
    n_fft, win_length, window, backend
        As for :class:`Stft`.

    Real-time notes
    ---------------
    :meth:`process` returns the FFT plan's output buffer, overwritten by the next call with
    the same batch shape: consume or copy it within the tick.
    """

    def __init__(self, n_fft: int = 2048, win_length: int | None = None, window: str = "hann",
                 backend: str | None = None):
        self.win_length = check_stft_params(n_fft, 1, win_length)
        self.n_fft = int(n_fft)
        self.window = make_window(window, self.win_length, self.n_fft)
        self.fft = RealFFT(self.n_fft, backend)

    def process(self, frames: np.ndarray) -> np.ndarray:
        """Frames [shape=(channels, n, n_fft)] -> complex64 spectra [shape=(channels, n,
        n_fft//2 + 1)]."""
        return self.fft.frames(frames, self.window)

    def reset(self) -> None:
        return None


class Stft:
    """Streaming STFT: blocks in, complex spectra of the frames they complete out.

    Parameters
    ----------
    n_fft : int > 0
        FFT length (samples); ``n_fft // 2 + 1`` bins.
    hop_length : int > 0
        Samples between frames.
    win_length : int in 1..n_fft, optional
        Window length (samples), centred and zero-padded to ``n_fft``; default ``n_fft``.
    window : str
        Window spec (:mod:`fluxstream.dsp.windows`), e.g. ``"hann"``, ``"kaiser(14)"``.
    center : bool
        Centred frames (librosa's ``center=True`` with ``pad_mode="constant"``).
    channels : int > 0
    backend : {"pyfftw", "scipy"}, optional
        FFT backend; default :func:`fluxstream.dsp.fft.default_backend`.

    Attributes
    ----------
    latency_samples : int
        ``n_fft - n_fft // 2``: samples needed after a frame's reference time.
    hop : int
        ``hop_length``.
    window : ndarray [shape=(n_fft,), dtype=float32]

    Examples
    --------
    >>> import numpy as np
    >>> st = Stft(n_fft=512, hop_length=128)
    >>> X = st.process(np.zeros(1024, dtype=np.float32))
    >>> X.shape, X.dtype
    ((8, 257), dtype('complex64'))

    Real-time notes
    ---------------
    Analysis thread. Window, framer buffer and FFT plans are made in ``__init__`` (plans per
    batch shape on first use). :meth:`process` returns a new array.
    Causal; latency as above.
    """

    causal = True

    def __init__(self, n_fft: int = 2048, hop_length: int = 512, win_length: int | None = None,
                 window: str = "hann", center: bool = True, channels: int = 1,
                 backend: str | None = None, max_block: int = 4096):
        self.win_length = check_stft_params(n_fft, hop_length, win_length)
        self.n_fft, self.hop_length = int(n_fft), int(hop_length)
        self.n_bins = self.n_fft // 2 + 1
        self.framer = Framer(self.n_fft, self.hop_length, channels, center, max_block)
        self.transform = WindowedFFT(self.n_fft, self.win_length, window, backend)
        self.window = self.transform.window
        self.channels = self.framer.channels
        self.center = self.framer.center
        self.hop = self.hop_length
        self.latency_samples = self.framer.latency_samples
        self.reset()

    def reset(self, start_sample: int = 0) -> None:
        """Forget the past; the next block starts at ``start_sample`` (see :class:`Framer`)."""
        self.framer.reset(start_sample)

    @property
    def next_index(self) -> int:
        """Index of the next frame this stage will emit."""
        return self.framer.next_index

    def _finish(self, frames: np.ndarray, mono_in: bool) -> np.ndarray:
        X = np.moveaxis(self.transform.process(frames), 0, 1).copy()  # (n, C, F), owned
        return X[:, 0] if mono_in else X

    def process(self, block: np.ndarray) -> np.ndarray:
        """Spectra of the frames this block completes.

        Parameters
        ----------
        block : ndarray [shape=(n_samples, channels), or (n_samples,) when mono]

        Returns
        -------
        X : ndarray [shape=(n_frames, channels, n_bins), or (n_frames, n_bins) for 1-D
            input, dtype=complex64]
        """
        frames, _ = self.framer.process(block)
        return self._finish(frames, np.ndim(block) == 1)

    def flush(self, mono: bool = False) -> np.ndarray:
        """End of stream: the centred tail frames (none when ``center=False``)."""
        frames, _ = self.framer.flush()
        return self._finish(frames, mono)


def stft(x: np.ndarray, n_fft: int = 2048, hop_length: int = 512, win_length: int | None = None,
         window: str = "hann", center: bool = True, backend: str | None = None) -> np.ndarray:
    """Batch STFT of a whole signal, the same as streaming it through :class:`Stft` and
    flushing.

    Parameters
    ----------
    x : ndarray [shape=(n_samples,) or (n_samples, channels)]

    Returns
    -------
    X : ndarray [shape=(n_frames, n_bins) or (n_frames, channels, n_bins), complex64]
    """
    x = np.asarray(x, dtype=np.float32)
    mono = x.ndim == 1
    chunk = 1 << 16  # streamed in cache-sized chunks: the same frames, less memory traffic
    st = Stft(n_fft, hop_length, win_length, window, center,
              channels=1 if mono else x.shape[1], backend=backend, max_block=chunk)
    parts = [st.process(x[i : i + chunk]) for i in range(0, x.shape[0], chunk)]
    return np.concatenate(parts + [st.flush(mono=mono)], axis=0)


class Istft:
    """Streaming inverse STFT by weighted overlap-add.

    Each frame is inverse-FFT'd, multiplied by the synthesis window (the analysis window),
    added into an accumulator, and the sum of squared windows is accumulated beside it;
    output samples are emitted, divided by that sum, as soon as no later frame overlaps
    them. Where the sum is below float32's ``tiny`` the output is 0 (as librosa).

    Parameters
    ----------
    n_fft, hop_length, win_length, window, center, channels, backend
        As for the :class:`Stft` whose frames are being inverted.

    Attributes
    ----------
    latency_samples : int
        ``n_fft - hop_length``: with input arriving in whole hops, output sample ``t``
        leaves :meth:`process` when input sample ``t + latency_samples`` has entered the
        :class:`Stft`. Blocks that are not whole hops add up to ``hop_length - 1`` samples
        of jitter on top.

    Real-time notes
    ---------------
    Analysis thread. The accumulators are allocated in ``__init__`` and grow (once per new
    maximum) only when more frames arrive in one call than ever before. The output is a new
    array. Causal.
    """

    causal = True

    def __init__(self, n_fft: int = 2048, hop_length: int = 512, win_length: int | None = None,
                 window: str = "hann", center: bool = True, channels: int = 1,
                 backend: str | None = None):
        self.win_length = check_stft_params(n_fft, hop_length, win_length)
        self.n_fft, self.hop_length = int(n_fft), int(hop_length)
        if self.hop_length > self.win_length:
            raise ConfigError(
                f"hop_length={hop_length} > win_length={self.win_length}: frames do not overlap "
                "and the inverse STFT cannot reconstruct the gaps"
            )
        self.n_bins = self.n_fft // 2 + 1
        self.channels = int(channels)
        self.center = bool(center)
        self.window = make_window(window, self.win_length, self.n_fft)
        self._w2 = self.window * self.window
        self.fft = RealFFT(self.n_fft, backend)
        self._offset = self.n_fft // 2 if self.center else 0
        self.hop = self.hop_length
        self.latency_samples = self.n_fft - self.hop_length
        self._acc = np.zeros((self.channels, 2 * self.n_fft), dtype=np.float32)
        self._wss = np.zeros(2 * self.n_fft, dtype=np.float32)
        self.reset()

    def reset(self, start_sample: int = 0) -> None:
        """Forget the past; the next frame is the first the matching :class:`Stft` emits
        after its own ``reset(start_sample)``."""
        k0 = -(-int(start_sample) // self.hop_length)
        self._next_k = k0
        self._base = k0 * self.hop_length - self._offset  # absolute index of _acc[:, 0]
        self._out_pos = int(start_sample)  # next output sample to emit
        self._acc.fill(0.0)
        self._wss.fill(0.0)

    def _emit(self, end: int) -> np.ndarray:
        a = max(self._out_pos, self._base)
        if end <= a:
            return np.zeros((0, self.channels), dtype=np.float32)
        i, j = a - self._base, end - self._base
        w = self._wss[i:j]
        ok = w > np.finfo(np.float32).tiny
        out = np.zeros((j - i, self.channels), dtype=np.float32)
        out[ok] = (self._acc[:, i:j][:, ok] / w[ok]).T
        self._out_pos = end
        # Drop everything before `end`: no future frame reaches back there.
        keep = self._acc.shape[1] - j
        self._acc[:, :keep] = self._acc[:, j:]
        self._acc[:, keep:] = 0.0
        self._wss[:keep] = self._wss[j:]
        self._wss[keep:] = 0.0
        self._base = end
        return out

    def process(self, X: np.ndarray) -> np.ndarray:
        """Add consecutive frames and return the samples they completed.

        Parameters
        ----------
        X : ndarray [shape=(n_frames, channels, n_bins), or (n_frames, n_bins) when mono]

        Returns
        -------
        y : ndarray [shape=(n_out, channels), or (n_out,) for 2-D input, dtype=float32]
        """
        X = np.asarray(X)
        mono = X.ndim == 2
        if mono:
            X = X[:, None, :]
        if X.ndim != 3 or X.shape[1:] != (self.channels, self.n_bins):
            raise ValueError(
                f"frames shape {X.shape} does not match (n_frames, channels={self.channels}, "
                f"n_bins={self.n_bins})"
            )
        n = X.shape[0]
        N, hop = self.n_fft, self.hop_length
        if n:
            span = (n - 1) * hop + N + (self._next_k * hop - self._offset - self._base)
            if span > self._acc.shape[1]:
                acc = np.zeros((self.channels, 2 * span), dtype=np.float32)
                acc[:, : self._acc.shape[1]] = self._acc
                wss = np.zeros(2 * span, dtype=np.float32)
                wss[: self._wss.shape[0]] = self._wss
                self._acc, self._wss = acc, wss
            frames = self.fft.frames(np.moveaxis(X, 0, 1), inverse=True)
            frames = frames * self.window
            pos = self._next_k * hop - self._offset - self._base
            for i in range(n):  # overlap-add: n is the frames of one block, a handful
                p = pos + i * hop
                self._acc[:, p : p + N] += frames[:, i]
                self._wss[p : p + N] += self._w2
            self._next_k += n
        y = self._emit(self._next_k * hop - self._offset)
        return y[:, 0] if mono else y

    def flush(self, end_sample: int | None = None, mono: bool = False) -> np.ndarray:
        """End of stream: emit what is left, up to ``end_sample`` (absolute, exclusive;
        default: the end of the last frame, less the centring pad)."""
        last_end = (self._next_k - 1) * self.hop_length - self._offset + self.n_fft
        end = last_end - self._offset if end_sample is None else min(int(end_sample), last_end)
        y = self._emit(end) if end > self._out_pos else np.zeros((0, self.channels), np.float32)
        return y[:, 0] if mono else y
