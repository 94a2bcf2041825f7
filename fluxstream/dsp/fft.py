"""Real FFT backend: pyfftw plans built once and cached, or numpy/scipy as a fallback.

The backend is chosen once per :class:`RealFFT`: ``"pyfftw"`` when the module imports,
``"scipy"`` otherwise. The environment variable ``FLUXSTREAM_FFT`` (``pyfftw`` | ``scipy``)
forces one, which is how the tests run every transform both ways. Both give the same
float32/complex64 results to float32 round-off.

Real-time notes
---------------
A :class:`FFTPlan` owns its input and output arrays, allocated once when the plan is made.
A caller fills ``plan.input`` (for example by ``np.multiply(frames, window,
out=plan.input)``) and calls the plan; the result is ``plan.output``, a buffer that the next
call overwrites. Plans are cached per batch shape in a small LRU, so a steady stream (the
same number of frames per block) plans once. FFTs run single-threaded. Planning writes into
the plan's own new buffers only (FFTW_MEASURE scribbles on its arrays).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict

import numpy as np
import scipy.fft

from ..errors import ConfigError

try:  # pyfftw is a runtime dependency, but a broken or missing build must not break analysis
    import pyfftw as _pyfftw
except Exception:  # pragma: no cover - exercised only where pyfftw is absent
    _pyfftw = None

__all__ = ["BACKENDS", "default_backend", "RealFFT", "FFTPlan"]

BACKENDS = ("pyfftw", "scipy")
_PLAN_CACHE_SIZE = 16
#: Largest batch (frames) of one FFT call: bigger batches run as several power-of-two
#: chunks, so a stream needs at most 7 plans per channel count and stays cache-sized.
MAX_BATCH = 64
_PLAN_TIME_LIMIT_S = 1.0
#: Plans kept for reuse after their RealFFT is gone (all lengths and shapes together).
_POOL_SIZE = 32

# Plans no RealFFT holds, keyed (n_fft, batch, inverse, backend), oldest first. A new
# RealFFT of the same length (the next file of `analyze *.wav`, an engine rebuilt after a
# reset of the configuration) takes its plans from here instead of planning and touching
# fresh buffers again (a few milliseconds per shape). A plan is in the pool or owned by
# exactly one RealFFT, never both: no two stages share buffers.
_POOL: OrderedDict[tuple, list] = OrderedDict()
_POOL_LOCK = threading.Lock()
_POOL_COUNT = [0]


def _checkout(key: tuple):
    with _POOL_LOCK:
        plans = _POOL.get(key)
        if not plans:
            return None
        plan = plans.pop()
        if not plans:
            del _POOL[key]
        _POOL_COUNT[0] -= 1
        return plan


def _release(n_fft: int, backend: str, plans: OrderedDict) -> None:
    """Return a RealFFT's plans to the pool (its finaliser; it must not hold the RealFFT)."""
    with _POOL_LOCK:
        for (batch, inverse), plan in plans.items():
            key = (n_fft, batch, inverse, backend)
            _POOL.setdefault(key, []).append(plan)
            _POOL.move_to_end(key)
            _POOL_COUNT[0] += 1
        plans.clear()
        while _POOL_COUNT[0] > _POOL_SIZE:
            key, lst = next(iter(_POOL.items()))
            lst.pop(0)
            _POOL_COUNT[0] -= 1
            if not lst:
                del _POOL[key]


def default_backend() -> str:
    """The FFT backend used when none is given: ``$FLUXSTREAM_FFT`` or the fastest available."""
    forced = os.environ.get("FLUXSTREAM_FFT", "").strip().lower()
    if forced:
        if forced not in BACKENDS:
            raise ConfigError(f"FLUXSTREAM_FFT={forced!r} is not a backend; allowed: {', '.join(BACKENDS)}")
        if forced == "pyfftw" and _pyfftw is None:
            raise ConfigError("FLUXSTREAM_FFT=pyfftw but pyfftw is not importable")
        return forced
    return "pyfftw" if _pyfftw is not None else "scipy"


class FFTPlan:
    """One transform of a fixed batch shape: fill :attr:`input`, call, read :attr:`output`.

    Parameters
    ----------
    n_fft : int > 0
        Transform length (samples).
    batch : tuple of int
        Leading shape; the transform runs over the last axis.
    inverse : bool
        False: real -> complex (``rfft``). True: complex -> real (``irfft``).
    backend : {"pyfftw", "scipy"}
    """

    def __init__(self, n_fft: int, batch: tuple[int, ...], inverse: bool, backend: str):
        n_bins = n_fft // 2 + 1
        real_shape = (*batch, n_fft)
        cplx_shape = (*batch, n_bins)
        in_shape, in_dtype = (cplx_shape, np.complex64) if inverse else (real_shape, np.float32)
        out_shape, out_dtype = (real_shape, np.float32) if inverse else (cplx_shape, np.complex64)
        self.n_fft = n_fft
        self.inverse = inverse
        if backend == "pyfftw":
            self.input = _pyfftw.empty_aligned(in_shape, dtype=in_dtype)
            self.output = _pyfftw.empty_aligned(out_shape, dtype=out_dtype)
            direction = "FFTW_BACKWARD" if inverse else "FFTW_FORWARD"
            # FFTW_MEASURE plans ran batched 2048-point transforms 30 % faster than
            # FFTW_ESTIMATE here. Measuring costs ~150 ms for the first plan of a length;
            # FFTW's wisdom (process-wide) makes later batch shapes of that length ~0.1 ms.
            # DESTROY_INPUT is allowed for c2r, where it is faster.
            flags = ("FFTW_MEASURE", "FFTW_DESTROY_INPUT") if inverse else ("FFTW_MEASURE",)
            self._fftw = _pyfftw.FFTW(
                self.input, self.output, axes=(-1,), direction=direction, flags=flags, threads=1,
                planning_timelimit=_PLAN_TIME_LIMIT_S,
            )
            # execute() skips pyfftw's Python-level argument handling; FFTW's backward
            # transform is unnormalised, so irfft's 1/n is applied explicitly.
            self._scale = np.float32(1.0 / n_fft)
            self._run = self._run_fftw
        else:
            self.input = np.zeros(in_shape, dtype=in_dtype)
            self.output = np.zeros(out_shape, dtype=out_dtype)
            self._run = self._run_scipy
        self.input.fill(0)

    def _run_fftw(self) -> np.ndarray:
        self._fftw.execute()
        if self.inverse:
            self.output *= self._scale
        return self.output

    def _run_scipy(self) -> np.ndarray:
        if self.inverse:
            self.output[...] = scipy.fft.irfft(self.input, n=self.n_fft, axis=-1)
        else:
            self.output[...] = scipy.fft.rfft(self.input, axis=-1)
        return self.output

    def __call__(self) -> np.ndarray:
        """Transform :attr:`input` into :attr:`output` and return :attr:`output`."""
        return self._run()


class RealFFT:
    """Real FFTs of one length over batches of any shape, with plans cached per shape.

    Parameters
    ----------
    n_fft : int > 0
        Transform length (samples).
    backend : {"pyfftw", "scipy"}, optional
        Defaults to :func:`default_backend`.

    Examples
    --------
    >>> import numpy as np
    >>> fft = RealFFT(8)
    >>> plan = fft.plan((2,))
    >>> plan.input[:] = np.ones(8, dtype=np.float32)
    >>> plan()[:, 0].real.tolist()
    [8.0, 8.0]

    Real-time notes
    ---------------
    Planning happens on the first use of a batch shape (FFTW_MEASURE: about 150 ms for the
    first shape of a length, then a fraction of a millisecond thanks to FFTW's wisdom);
    afterwards a call allocates nothing. The engine warms its plans up in ``open()``, before
    the first live block. Not thread-safe: one
    :class:`RealFFT` per stage. When a RealFFT is garbage collected its plans go to a small
    process-wide pool, from which a later RealFFT of the same length and shape takes them
    (analysing many files builds one engine per file); a plan belongs to one RealFFT, or to
    the pool, at any time.
    """

    def __init__(self, n_fft: int, backend: str | None = None):
        if not isinstance(n_fft, (int, np.integer)) or isinstance(n_fft, bool) or n_fft < 1:
            raise ConfigError(f"n_fft={n_fft!r} must be an integer >= 1 (samples)")
        backend = default_backend() if backend is None else backend
        if backend not in BACKENDS:
            raise ConfigError(f"backend={backend!r} is not an FFT backend; allowed: {', '.join(BACKENDS)}")
        if backend == "pyfftw" and _pyfftw is None:
            raise ConfigError("backend='pyfftw' but pyfftw is not importable")
        self.n_fft = int(n_fft)
        self.backend = backend
        self._plans: OrderedDict[tuple, FFTPlan] = OrderedDict()
        # When this RealFFT goes, its plans go back to the pool for the next one.
        weakref.finalize(self, _release, self.n_fft, backend, self._plans)

    def plan(self, batch: tuple[int, ...], inverse: bool = False) -> FFTPlan:
        """The cached plan for this batch shape and direction (made on first use)."""
        key = (tuple(int(b) for b in batch), inverse)
        plan = self._plans.get(key)
        if plan is None:
            plan = _checkout((self.n_fft, key[0], inverse, self.backend)) or \
                FFTPlan(self.n_fft, key[0], inverse, self.backend)
            self._plans[key] = plan
            if len(self._plans) > _PLAN_CACHE_SIZE:
                # Dropped, not pooled: a stage may still hold it (Yin keeps its one-frame
                # plans), and a pooled plan must have no owner.
                self._plans.popitem(last=False)
        else:
            self._plans.move_to_end(key)
        return plan

    def frames(self, x: np.ndarray, window: np.ndarray | None = None, inverse: bool = False) -> np.ndarray:
        """Transform frames ``x`` [shape=(channels, n, n_fft)] (times ``window`` first, if
        given), or spectra [shape=(channels, n, n_fft//2+1)] when ``inverse``.

        Batches run through plans of 1, 2, 4 ... :data:`MAX_BATCH` frames. When ``n`` is
        one of those sizes the result is the plan's output buffer (valid until the next
        call of that size); otherwise a new array.
        """
        C, n = x.shape[0], x.shape[1]
        if n and n <= MAX_BATCH and n & (n - 1) == 0:
            return self._chunk(x, window, inverse, C, n)
        width = self.n_fft if inverse else self.n_fft // 2 + 1
        out = np.empty((C, n, width), dtype=np.float32 if inverse else np.complex64)
        i = 0
        while i < n:
            b = min(MAX_BATCH, 1 << ((n - i).bit_length() - 1))
            out[:, i : i + b] = self._chunk(x[:, i : i + b], window, inverse, C, b)
            i += b
        return out

    def _chunk(self, x, window, inverse, C, b):
        plan = self.plan((C, b), inverse=inverse)
        if window is None:
            plan.input[...] = x
        else:
            np.multiply(x, window, out=plan.input)
        return plan()

    def rfft(self, x: np.ndarray) -> np.ndarray:
        """Forward transform of ``x`` [shape=(..., n_fft)]; returns a new complex64 array."""
        flat = x.reshape(1, -1, self.n_fft)
        return np.array(self.frames(flat), copy=True).reshape(*x.shape[:-1], self.n_fft // 2 + 1)

    def irfft(self, X: np.ndarray) -> np.ndarray:
        """Inverse transform of ``X`` [shape=(..., n_fft//2+1)]; returns a new float32 array."""
        flat = X.reshape(1, -1, self.n_fft // 2 + 1)
        return np.array(self.frames(flat, inverse=True), copy=True).reshape(*X.shape[:-1], self.n_fft)
