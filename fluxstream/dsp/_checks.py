"""Parameter checks shared by the stages: each raises a :class:`ConfigError` that names
the parameter, the value, the constraint and the unit, and returns the value as a plain
Python number; and the shape check of a whole signal given to a batch function."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError

__all__ = ["check_real", "check_positive", "check_int", "as_signal"]


def check_real(name: str, value, unit: str) -> float:
    """A finite real number (bool refused) -> float."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value):
        raise ConfigError(f"{name}={value!r} must be a finite number ({unit})")
    return float(value)


def check_positive(name: str, value, unit: str) -> float:
    """A finite number > 0 -> float."""
    v = check_real(name, value, unit)
    if v <= 0:
        raise ConfigError(f"{name}={value!r} must be > 0 ({unit})")
    return v


def check_int(name: str, value, low: int, unit: str) -> int:
    """An integer >= ``low`` (bool refused) -> int."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ConfigError(f"{name}={value!r} must be an integer >= {low} ({unit})")
    return int(value)


def as_signal(x, dtype) -> np.ndarray:
    """A signal ``x`` [shape=(n_samples,) or (n_samples, channels)] as a 2-D array of
    ``dtype`` (mono gains a channel axis); ValueError for any other shape."""
    a = np.asarray(x, dtype=dtype)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"x shape {a.shape} must be (n_samples,) or (n_samples, channels)")
    return a
