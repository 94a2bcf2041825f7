"""Validated parameter dataclasses: the machinery behind every config section and every
feature's ``[features.<name>]`` table.

A field declared with :func:`opt` carries its accepted type(s), a range check and the words
users are told; :class:`Params` checks every field on construction, so a dataclass built
from TOML, from ``--set`` or directly in Python is validated the same way. This module
depends on nothing of fluxstream but :mod:`fluxstream.errors`, so ``dsp`` can use it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import field
from typing import Any, ClassVar, Iterable, Mapping

from .errors import ConfigError

__all__ = ["opt", "Params", "build_dataclass", "fmt_value"]


def opt(default: Any, kind: Any, allowed: str, check=None, choices: Iterable | None = None):
    """A config field: its default, accepted Python type(s), and the rule users are told.

    Parameters
    ----------
    default : Any
    kind : type or tuple of types
        ``int`` rejects bool; ``float`` also accepts int (stored as float); ``tuple`` takes
        a TOML array (stored as a tuple).
    allowed : str
        What is allowed, in words, with the unit: ``"an integer >= 1 (samples)"``.
    check : callable(value) -> bool, optional
        Range check.
    choices : iterable, optional
        The only values allowed.
    """
    meta = {"kind": kind, "allowed": allowed, "check": check,
            "choices": None if choices is None else tuple(choices)}
    if isinstance(default, (list, dict)):
        raise TypeError("use a tuple default for array fields")
    return field(default=default, metadata=meta)


def fmt_value(value: Any) -> str:
    """A value as the user wrote it in TOML (strings quoted, booleans lower-case)."""
    return repr(value) if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)


def _coerce(key: str, value: Any, meta: Mapping) -> Any:
    kind = meta["kind"]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    err = ConfigError(f"{key}={fmt_value(value)} is not allowed: must be {meta['allowed']}")
    if isinstance(value, list):
        value = tuple(value)
    ok = False
    for k in kinds:
        if k is int and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        elif k is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise err
            value, ok = float(value), True
        elif k is bool and isinstance(value, bool):
            ok = True
        elif k is str and isinstance(value, str):
            ok = True
        elif k is tuple and isinstance(value, tuple):
            ok = True
        if ok:
            break
    if not ok:
        raise err
    if meta["choices"] is not None and value not in meta["choices"]:
        raise err
    if meta["check"] is not None:
        try:
            good = meta["check"](value)
        except ConfigError as e:  # a check that knows better words (e.g. feature names)
            raise ConfigError(f"{key}: {e}") from None
        if not good:
            raise err
    return value


class Params:
    """Base of every config dataclass: validates (and normalizes) its fields on creation.

    Subclasses set ``_section`` (``"input"``, ``"features.rms"``...) for error messages.
    """

    _section: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if "kind" not in f.metadata:
                continue
            v = getattr(self, f.name)
            if v is None and f.default is None:
                continue
            key = f"{self._section}.{f.name}" if self._section else f.name
            object.__setattr__(self, f.name, _coerce(key, v, f.metadata))
        self.validate()

    def validate(self) -> None:
        """Cross-field checks; override in subclasses."""


def build_dataclass(cls: type, table: Mapping[str, Any], section: str):
    """Build ``cls`` from a TOML table, rejecting unknown keys with the list of valid ones."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"[{section}] must be a table, got {fmt_value(table)}")
    names = [f.name for f in dataclasses.fields(cls)]
    for k in table:
        if k not in names:
            valid = ", ".join(names) if names else "(none: this section takes no keys)"
            raise ConfigError(f"unknown key {section}.{k}; valid keys in [{section}]: {valid}")
    try:
        return cls(**dict(table))
    except ConfigError as e:
        if getattr(cls, "_section", ""):
            raise
        raise ConfigError(f"{section}.{e}") from None  # shared params classes: name the section
