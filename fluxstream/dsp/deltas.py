"""Delta features: Savitzky-Golay derivatives of a feature sequence along the frame axis.

:func:`delta_filter` gives the least-squares derivative weights, :func:`delta` is the batch
reference over a whole sequence (``librosa.feature.delta(mode="interp")`` with frames on
axis -2 instead of last), and :class:`Delta` streams it: chunks of frames in, the deltas
that became final out, :meth:`Delta.flush` for the tail.

Layout: ``(..., n_frames, dim)`` -- frames on axis -2, the feature dimension last, any
leading axes (channels).
"""

from __future__ import annotations

from functools import lru_cache
from math import factorial

import numpy as np

from ..errors import ConfigError
from . import _jit, frame_kernels

__all__ = ["delta_filter", "delta", "Delta"]


def _check_width_order(width, order) -> tuple[int, int]:
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 3 or width % 2 != 1:
        raise ConfigError(f"width={width!r} must be an odd integer >= 3 (frames)")
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
        raise ConfigError(f"order={order!r} must be an integer >= 1")
    if order >= width:
        raise ConfigError(f"order={order!r} must be < width={width!r} (a polynomial of degree "
                          f"order needs more than order frames)")
    return int(width), int(order)


@lru_cache(maxsize=64)
def _sg_weights(n: int, order: int) -> np.ndarray:
    """``order!`` times row ``order`` of the pseudo-inverse of the (n, order+1) Vandermonde
    matrix on centred times: the weights whose dot product with n samples is the order-th
    derivative of their least-squares polynomial of degree ``order`` (read-only, float64)."""
    t = np.arange(n, dtype=np.float64) - (n - 1) / 2.0
    A = t[:, None] ** np.arange(order + 1, dtype=np.float64)[None, :]
    w = factorial(order) * np.linalg.pinv(A)[order]
    # On centred times the weights are exactly (anti)symmetric: w[-t] = (-1)**order w[t].
    # Imposing it removes pinv's round-off (e.g. a -3e-17 centre weight for order 1).
    w = 0.5 * (w + (-1) ** order * w[::-1])
    w.flags.writeable = False
    return w


def delta_filter(width: int = 9, order: int = 1) -> np.ndarray:
    """Savitzky-Golay derivative weights.

    Fit a polynomial of degree ``order`` by least squares to ``width`` consecutive frames
    at times ``t = -h..h`` (``h = width // 2``) and take its ``order``-th derivative at the
    centre ``t = 0``: ``order! * c_order`` with ``c = pinv(A) x``, ``A[t, i] = t**i``. That
    is a fixed linear combination of the frames, whose weights this returns.

    Parameters
    ----------
    width : odd int >= 3 [frames]
    order : int in 1..width-1
        Derivative order (1 = delta, 2 = delta-delta).

    Returns
    -------
    w : ndarray [shape=(width,), dtype=float64]
        Correlation weights: ``delta[j] = sum_k w[k] * x[j - h + k]`` (a per-frame slope
        in feature units per frame**order). Equal to
        ``scipy.signal.savgol_coeffs(width, order, deriv=order, use="dot")``.

    Raises
    ------
    ConfigError
        ``width`` not an odd integer >= 3, ``order`` not an integer in 1..width-1.

    Examples
    --------
    >>> delta_filter(3, 1)
    array([-0.5,  0. ,  0.5])
    """
    width, order = _check_width_order(width, order)
    return _sg_weights(width, order).copy()


def _interior(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``sum_k w[k] x[..., j + k, :]`` for every full window of ``x`` (float64, ``m -
    width + 1`` frames).

    Summed in a fixed order over k (products rounded, then added in window order: a
    reduction over a non-innermost axis), so that the streaming stage, which calls this on
    other slices of the same frames, gets bit-identical values."""
    width = w.shape[0]
    m = x.shape[-2] - width + 1
    if m == 1:
        win = x[..., None, :, :]
    else:
        s = x.strides
        win = np.lib.stride_tricks.as_strided(
            x, shape=x.shape[:-2] + (m, width, x.shape[-1]), strides=s[:-1] + s[-2:], writeable=False)
    return np.add.reduce(win * w[:, None], axis=-2)


def _short(x: np.ndarray, order: int) -> np.ndarray:
    """Deltas of a sequence shorter than the window (all its ``n`` frames at once): the
    ``order``-th derivative of the least-squares polynomial of degree ``order`` over all
    ``n`` frames, the same for every frame (0 when ``n <= order``)."""
    n = x.shape[-2]
    if n <= order:
        return np.zeros(x.shape, dtype=np.float64)
    w = _sg_weights(n, order)
    val = np.einsum("...nd,n->...d", x, w)[..., None, :]
    return np.broadcast_to(val, x.shape).copy()


def delta(data: np.ndarray, width: int = 9, order: int = 1) -> np.ndarray:
    """Delta features of a whole sequence along the frame axis (batch reference).

    Interior frames ``h <= j < n - h`` (``h = width // 2``) get the Savitzky-Golay
    derivative over frames ``j-h .. j+h`` (:func:`delta_filter`). The first and last ``h``
    frames get the ``order``-th derivative of the degree-``order`` polynomial fitted to the
    first / last ``width`` frames (scipy's ``mode="interp"``); that derivative is constant,
    so they equal the delta of frame ``h`` / ``n - 1 - h``.

    Sequences shorter than the window (``n < width``, where librosa raises): every frame
    gets the ``order``-th derivative of the degree-``order`` least-squares polynomial over
    all ``n`` frames (the same fit, over what there is; it coincides with the rule above at
    ``n = width``), and 0 when ``n <= order`` (no polynomial of that degree is determined).

    Parameters
    ----------
    data : ndarray [shape=(..., n_frames, dim)]
    width : odd int >= 3 [frames]
    order : int in 1..width-1

    Returns
    -------
    delta : ndarray [shape=(..., n_frames, dim)]
        [feature units per frame**order]; float32 for float32 (or integer) input, float64
        for float64. Summed in float64: deltas are differences of nearby values (MFCC c0 is
        about -500, its delta about 1), where float32 sums would lose 4 digits.

    Notes
    -----
    Equals ``librosa.feature.delta(data_T, width=width, order=order, mode="interp",
    axis=-1)`` with ``data_T`` the frames-last transpose (to float32 round-off).

    References
    ----------
    A. Savitzky, M. J. E. Golay, "Smoothing and differentiation of data by simplified least
    squares procedures", Analytical Chemistry 36(8), 1964.

    Examples
    --------
    >>> import numpy as np
    >>> x = (np.arange(12.0) ** 2)[:, None].astype(np.float32)   # frames x 1
    >>> delta(x, width=5, order=2)[:, 0]
    array([2., 2., 2., 2., 2., 2., 2., 2., 2., 2., 2., 2.], dtype=float32)
    """
    width, order = _check_width_order(width, order)
    x = np.asarray(data)
    if x.ndim < 2:
        raise ValueError(f"data shape {x.shape} must be (..., n_frames, dim)")
    out_dtype = np.result_type(x.dtype, np.float32)
    x64 = x.astype(np.float64)
    n, h = x.shape[-2], width // 2
    if n < width:
        return _short(x64, order).astype(out_dtype)
    inner = _interior(x64, _sg_weights(width, order))
    out = np.empty(x.shape, dtype=out_dtype)
    out[..., h : n - h, :] = inner
    out[..., :h, :] = inner[..., :1, :]
    out[..., n - h :, :] = inner[..., -1:, :]
    return out


class Delta:
    """Streaming delta features: chunks of frames in, the deltas that became final out.

    Parameters
    ----------
    width : odd int >= 3 [frames]
    order : int in 1..width-1
    hop_length : int > 0 [samples]
        Samples between the input frames; only used to state ``latency_samples`` and ``hop``
        on the stream's sample clock.

    Attributes
    ----------
    latency_frames : int
        ``width // 2``: frame ``j``'s delta needs frames up to ``j + width // 2``.
    latency_samples : int
        ``latency_frames * hop_length``.
    hop : int
        ``hop_length``.
    causal : bool
        True: outputs use only frames already given (they are delayed, never predicted).

    Notes
    -----
    Emission rule, with ``k`` frames given so far and ``h = width // 2``:

    - nothing while ``k < width``;
    - once ``k >= width``, exactly ``k - h`` deltas have been emitted (frames ``0 .. k-1-h``,
      in order): interior frame ``j >= h`` leaves with frame ``j + h``, and the first ``h``
      (interp edge, equal to frame ``h``'s delta) leave with it, when frame ``width - 1``
      arrives;
    - :meth:`flush` (end of stream) returns the remaining ``h`` (the interp tail, equal to
      the last interior delta), or, for a stream shorter than ``width``, all its frames by
      :func:`delta`'s short-sequence rule.

    The concatenation of every :meth:`process` output and :meth:`flush` equals
    :func:`delta` of the whole sequence, bit for bit, for any partition into chunks.

    Examples
    --------
    >>> import numpy as np
    >>> d = Delta(width=3)
    >>> x = np.arange(5, dtype=np.float32).reshape(1, 5, 1)       # (C, n, dim)
    >>> d.process(x[:, :2]).shape, d.process(x[:, 2:]).shape, d.flush().shape
    ((1, 0, 1), (1, 4, 1), (1, 1, 1))

    Real-time notes
    ---------------
    Analysis thread. The history (the last ``width - 1`` frames and the last interior
    delta, float64) is allocated on the first :meth:`process` call, when the channel count
    and dimension become known; ``(C, dim)`` is then fixed until :meth:`reset` (which keeps
    the buffers and reuses them when the next stream has the same shape). Nothing grows
    with the stream; each call allocates its output and a working copy of
    ``width - 1 + n`` frames. Latency ``width // 2`` frames; outputs are new arrays.
    """

    causal = True

    def __init__(self, width: int = 9, order: int = 1, *, hop_length: int = 512):
        self.width, self.order = _check_width_order(width, order)
        if isinstance(hop_length, bool) or not isinstance(hop_length, (int, np.integer)) or hop_length < 1:
            raise ConfigError(f"hop_length={hop_length!r} must be an integer >= 1 (samples)")
        self.hop_length = int(hop_length)
        self.hop = self.hop_length
        self.latency_frames = self.width // 2
        self.latency_samples = self.latency_frames * self.hop_length
        self._w = _sg_weights(self.width, self.order)
        self._buf: np.ndarray | None = None  # (C, width, dim) float64, lazily
        self._hist: np.ndarray | None = None  # its first width - 1 frames: the history
        self._last: np.ndarray | None = None  # (C, 1, dim) float64: last interior delta
        self.reset()

    def reset(self) -> None:
        """Forget every frame; the next :meth:`process` starts a new sequence."""
        self._k = 0  # frames given so far
        self._shape: tuple[int, int] | None = None  # (C, dim) of the current stream
        self._dtype = np.dtype(np.float32)
        self._flushed = False

    def _bind(self, x: np.ndarray) -> None:
        C, _, dim = x.shape
        if self._shape is None:
            if self._hist is None or self._hist.shape[::2] != (C, dim):
                # History in the first width - 1 slots; the last one takes a live frame.
                self._buf = np.zeros((C, self.width, dim), dtype=np.float64)
                self._hist = self._buf[:, : self.width - 1]
                self._last = np.zeros((C, 1, dim), dtype=np.float64)
            self._shape = (C, dim)
            self._dtype = np.result_type(x.dtype, np.float32)
        elif (C, dim) != self._shape:
            raise ValueError(f"frames shape {x.shape} does not match (C, n, dim) with "
                             f"(C, dim)={self._shape} of this stream; reset() first")

    def process(self, x: np.ndarray) -> np.ndarray:
        """Add frames; return the deltas that became final.

        Parameters
        ----------
        x : ndarray [shape=(C, n, dim)]
            Any ``n >= 0`` new frames.

        Returns
        -------
        d : ndarray [shape=(C, n_out, dim)]
            Deltas of the frames that became final, in frame order (see the class Notes
            for ``n_out``); float32 for float32 input.
        """
        x = np.asarray(x)
        if x.ndim != 3:
            raise ValueError(f"frames shape {x.shape} must be (C, n, dim)")
        if self._flushed:
            raise RuntimeError("Delta.process after flush(): call reset() first")
        self._bind(x)
        C, n, dim = x.shape
        if n == 0:
            return np.zeros((C, 0, dim), dtype=self._dtype)
        W, h = self.width, self.latency_frames
        k0, k1 = self._k, self._k + n
        if n == 1 and k0 >= W:
            # A live hop: one frame after the head. The window is the history plus this
            # frame, in place; the same arithmetic as the general path below.
            buf = self._buf
            if _jit.ENABLED and x.dtype == np.float32 and x.flags.c_contiguous:
                out = np.empty((C, 1, dim), dtype=np.float32)
                frame_kernels.delta_hop(buf, x, self._w, self._last)
                out[...] = self._last
                self._k = k1
                return out
            buf[:, W - 1] = x[:, 0]
            inner = _interior(buf, self._w)
            buf[:, : W - 1] = buf[:, 1:]
            self._last[:] = inner
            self._k = k1
            return inner.astype(self._dtype)
        m = min(k0, W - 1)  # history frames held: absolute frames k0-m .. k0-1
        self._k = k1
        ext = np.empty((C, m + n, dim), dtype=np.float64)
        ext[:, :m] = self._hist[:, W - 1 - m :]
        ext[:, m:] = x
        # Keep the newest W-1 frames, right-aligned.
        keep = min(k1, W - 1)
        self._hist[:, W - 1 - keep :] = ext[:, m + n - keep :]
        if k1 < W:
            return np.zeros((C, 0, dim), dtype=self._dtype)
        # Interior frames j with j + h <= k1 - 1 not yet emitted start at max(h, k0 - h).
        j0 = max(h, k0 - h)
        inner = _interior(ext[:, j0 - h - (k0 - m) :], self._w)
        self._last[:] = inner[:, -1:]
        if k0 < W:  # the interp head leaves with the first interior delta
            out = np.empty((C, h + inner.shape[1], dim), dtype=self._dtype)
            out[:, :h] = inner[:, :1]
            out[:, h:] = inner
            return out
        return inner.astype(self._dtype)

    def flush(self) -> np.ndarray:
        """End of stream: the deltas of the last frames (interp tail), then no more.

        Returns
        -------
        d : ndarray [shape=(C, n_out, dim)]
            ``width // 2`` frames (all equal to the last interior delta) after a stream of
            at least ``width`` frames; all ``k`` frames (short-sequence rule of
            :func:`delta`) after ``0 < k < width``; none after an empty stream or a second
            flush. Shape ``(0, 0, 0)`` when no chunk was ever given (unknown C and dim).
        """
        if self._shape is None:
            self._flushed = True
            return np.zeros((0, 0, 0), dtype=np.float32)
        C, dim = self._shape
        k, W, h = self._k, self.width, self.latency_frames
        if self._flushed or k == 0:
            self._flushed = True
            return np.zeros((C, 0, dim), dtype=self._dtype)
        self._flushed = True
        if k < W:
            return _short(self._hist[:, W - 1 - k :], self.order).astype(self._dtype)
        return np.repeat(self._last, h, axis=1).astype(self._dtype)
