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
from scipy.signal import get_window as _scipy_window

from ..errors import ConfigError

__all__ = ["WINDOWS", "parse_window", "make_window"]

#: Window names understood by :func:`make_window`, mapped to scipy's name and the number
#: of parameters each takes.
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
    w = _scipy_window((WINDOWS[name][0], *params), win_length, fftbins=True)
    out = np.zeros(n_fft, dtype=np.float32)
    lpad = (n_fft - win_length) // 2
    out[lpad : lpad + win_length] = w
    return out
