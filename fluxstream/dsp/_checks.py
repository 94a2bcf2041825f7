"""Parameter checks shared by the stages: each raises a :class:`ConfigError` that names
the parameter, the value, the constraint and the unit, and returns the value as a plain
Python number."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError

__all__ = ["check_real", "check_positive", "check_int"]


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
