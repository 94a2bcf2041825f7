"""Analysis windows.

A window is named by a short string: ``"hann"``, ``"hamming"``, ``"blackman"``,
``"blackmanharris"``, ``"rectangular"`` (aliases ``"rect"``, ``"boxcar"``), or a
parameterized one written as a call: ``"kaiser(14.0)"`` (beta) and ``"gaussian(256)"``
(standard deviation sigma in samples, the Gabor case). Windows are periodic ("DFT-even"),
as librosa and ``scipy.signal.get_window(fftbins=True)`` build them for spectral analysis.
"""

from __future__ import annotations

import re

import numpy as np

from ..errors import ConfigError

__all__ = ["WINDOWS", "parse_window", "make_window", "periodic_window"]

# Cosine-sum coefficients a_k of w[n] = sum_k (-1)^k a_k cos(2 pi k n / M) (Harris 1978;
# Nuttall 1981 for the 4-term Blackman-Harris).
_COSINE = {
    "hann": (0.5, 0.5),
    "hamming": (0.54, 0.46),
    "blackman": (0.42, 0.5, 0.08),
    "blackmanharris": (0.35875, 0.48829, 0.14128, 0.01168),
    "boxcar": (1.0,),
}

#: Window names understood by :func:`make_window`, mapped to the formula's name and the
#: number of parameters each takes.
WINDOWS: dict[str, tuple[str, int]] = {
    "hann": ("hann", 0),
    "hamming": ("hamming", 0),
    "blackman": ("blackman", 0),
    "blackmanharris": ("blackmanharris", 0),
    "rectangular": ("boxcar", 0),
    "rect": ("boxcar", 0),
    "boxcar": ("boxcar", 0),
    "kaiser": ("kaiser", 1),
    "gaussian": ("gaussian", 1),
}


def periodic_window(kind: str, params: tuple[float, ...], length: int) -> np.ndarray:
    """A periodic ("DFT-even") window: the symmetric window of ``length + 1`` points
    without its last point, as ``scipy.signal.get_window(..., fftbins=True)``.

    Parameters
    ----------
    kind : str
        A formula name (the values of :data:`WINDOWS`).
    params : tuple of float
        ``(beta,)`` for kaiser, ``(sigma,)`` [samples] for gaussian, else ``()``.
    length : int > 0

    Returns
    -------
    window : ndarray [shape=(length,), dtype=float64]
    """
    if length == 1:
        return np.ones(1)
    n = np.arange(length, dtype=np.float64)
    if kind in _COSINE:
        w = np.zeros(length)
        for k, a in enumerate(_COSINE[kind]):
            w += (-1) ** k * a * np.cos(2.0 * np.pi * k * n / length)
        return w
    if kind == "kaiser":
        return np.kaiser(length + 1, params[0])[:-1]
    if kind == "gaussian":
        return np.exp(-0.5 * ((n - length / 2.0) / params[0]) ** 2)
    raise ConfigError(f"window kind {kind!r} is not known")

_CALL = re.compile(r"^\s*([a-z_]+)\s*(?:\(\s*([^()]*?)\s*\))?\s*$")


def parse_window(spec: str) -> tuple[str, tuple[float, ...]]:
    """Split a window spec such as ``"kaiser(14)"`` into ``("kaiser", (14.0,))``.

    Parameters
    ----------
    spec : str
        A name from :data:`WINDOWS`, with its parameter in parentheses when it takes one.

    Returns
    -------
    name : str
    params : tuple of float

    Raises
    ------
    ConfigError
        Unknown name, missing or extra parameter, or a parameter out of range.
    """
    allowed = ", ".join(f"{n}(x)" if p else n for n, (_, p) in WINDOWS.items())
    m = _CALL.match(spec.lower()) if isinstance(spec, str) else None
    if m is None or m.group(1) not in WINDOWS:
        raise ConfigError(f"window={spec!r} is not a known window; allowed: {allowed}")
    name, arg = m.group(1), m.group(2)
    n_params = WINDOWS[name][1]
    params: tuple[float, ...] = ()
    if arg:
        try:
            params = tuple(float(a) for a in arg.split(","))
        except ValueError:
            raise ConfigError(f"window={spec!r}: parameter {arg!r} is not a number") from None
    if len(params) != n_params:
        want = "no parameter" if n_params == 0 else f"{n_params} parameter"
        raise ConfigError(f"window={spec!r}: {name} takes {want}, e.g. {name}{'(x)' if n_params else ''}")
    if name == "gaussian" and params[0] <= 0:
        raise ConfigError(f"window={spec!r}: gaussian sigma must be > 0 (samples)")
    if name == "kaiser" and params[0] < 0:
        raise ConfigError(f"window={spec!r}: kaiser beta must be >= 0")
    return name, params


def make_window(spec: str, win_length: int, n_fft: int | None = None) -> np.ndarray:
    """Build a periodic window, centred and zero-padded to ``n_fft`` samples.

    Parameters
    ----------
    spec : str
        Window spec, see :func:`parse_window`.
    win_length : int > 0
        Length of the non-zero part (samples).
    n_fft : int >= win_length, optional
        Total length (samples); defaults to ``win_length``. The window sits in the middle
        with ``(n_fft - win_length) // 2`` zeros before it, as ``librosa.util.pad_center``.

    Returns
    -------
    window : ndarray [shape=(n_fft,), dtype=float32]
    """
    n_fft = win_length if n_fft is None else n_fft
    if win_length < 1 or win_length > n_fft:
        raise ConfigError(f"win_length={win_length} must be an integer in 1..n_fft={n_fft} (samples)")
    name, params = parse_window(spec)
    w = periodic_window(WINDOWS[name][0], params, win_length)
    out = np.zeros(n_fft, dtype=np.float32)
    lpad = (n_fft - win_length) // 2
    out[lpad : lpad + win_length] = w
    return out
