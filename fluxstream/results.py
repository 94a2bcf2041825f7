"""What the engine hands on: :class:`Frames` (features per analysis frame) and
:class:`Event` (gaps, sanitized samples; onsets and gate changes in later stages).

Plain data, no behaviour: plugins and subscribers depend on this module only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

__all__ = ["Frames", "Event"]


@dataclass(frozen=True)
class Frames:
    """Features of consecutive analysis frames, computed in one engine step.

    Attributes
    ----------
    index : ndarray [shape=(n_frames,), dtype=int64]
        Frame indices on the STFT hop clock (frame ``k`` is ``k * hop_length`` samples
        after the stream's first sample when ``center = true``).
    time_s : ndarray [shape=(n_frames,), dtype=float64] [s]
        Each frame's reference time: the centre of its analysis window on the input's
        timeline.
    features : mapping of str -> ndarray
        ``(n_frames, dim)`` for a mono stream, ``(n_frames, channels, dim)`` otherwise.
        The arrays belong to the receiver (not reused by the engine).
    stream : str
        Name of the stream (``"in"``).
    hop_length : int >= 0 [samples]
        Hop of the frame clock these indices count (the STFT's, unless a feature is framed
        on its own hop, e.g. ``[features.pitch] hop_length``); 0 when unspecified.
    """

    index: np.ndarray
    time_s: np.ndarray
    features: Mapping[str, np.ndarray]
    stream: str = "in"
    hop_length: int = 0

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.features[name]


@dataclass(frozen=True)
class Event:
    """Something that happened at one point of the stream.

    Attributes
    ----------
    kind : str
        ``"gap"`` (samples lost to an overrun: ``value`` = samples lost, ``sample`` = the
        first lost sample), ``"nonfinite"`` (NaN/inf samples replaced by 0 in a block:
        ``value`` = how many).
    sample : int
        Position on the input's sample clock.
    time_s : float [s]
    value : float
    info : mapping
        Extra fields, by kind.
    """

    kind: str
    sample: int
    time_s: float
    value: float
    info: Mapping[str, Any] = field(default_factory=dict)
