"""The feature registry: one place that says what every feature is and how it is made.

Each :class:`FeatureSpec` maps a name to its stage (a builder), its dimension, unit,
latency, the frequencies of its bins (if any), its parameters (a frozen dataclass, the
``[features.<name>]`` config table) and the nodes it is computed from. The engine's
:class:`~fluxstream.dsp.graph.Graph` is built from these entries, so shared work (one
framing, one FFT) is done once, and ``fluxstream features`` prints them.

Adding a feature = a kernel (a pure function), a node (this module's small adapters, or a
stateful stage class), one :func:`register` call below, and its tests.

Internal nodes (``frames``, ``stft``) are registered with ``public=False``: features depend
on them, users cannot request them. ``frames`` is the graph's root: its node is a
:class:`~fluxstream.dsp.framing.Framer`, fed with blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from ..errors import ConfigError
from ..params import Params, build_dataclass, opt
from . import spectral
from .framing import Framer
from .stft import WindowedFFT

__all__ = [
    "AnalysisContext",
    "FeatureSpec",
    "FramesParams",
    "Node",
    "NoParams",
    "REGISTRY",
    "register",
    "get",
    "TRANSFORM_SCALES",
    "TRANSFORM_SPECTRA",
    "public_names",
]


@dataclass(frozen=True, kw_only=True)
class AnalysisContext:
    """What every node builder may depend on: the stream and the STFT clock.

    Attributes
    ----------
    sample_rate : int > 0 [Hz]
    channels : int > 0
    n_fft, hop_length, win_length : int > 0 [samples]
    window : str
    center : bool
    fft_backend : str or None
    """

    sample_rate: int
    channels: int = 1
    n_fft: int = 2048
    hop_length: int = 512
    win_length: int | None = None
    window: str = "hann"
    center: bool = True
    fft_backend: str | None = None
    #: ``((name, params), ...)``: the graph's parameters for plainly named nodes (its
    #: ``[features.<name>]`` tables), for builders that read another feature's settings
    #: (a descriptor on the ``cqt`` spectrum needs the configured CQT's bin frequencies).
    feature_params: tuple = ()

    def params_of(self, name: str):
        """The parameters node ``name`` has when named plainly: its configured table, else
        the registry's defaults."""
        for n, p in self.feature_params:
            if n == name:
                return p
        return REGISTRY[name].params()

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def frame_latency(self) -> int:
        """Samples after a frame's reference time that its window needs."""
        return self.n_fft - self.n_fft // 2


class Node(Protocol):
    """A graph node: ``process(*inputs)`` over one tick's frame batch, ``reset()``.

    Inputs and output are laid out ``(channels, n_frames, ...)``; the output's last axis is
    the feature dimension.
    """

    def process(self, *inputs: np.ndarray) -> np.ndarray: ...

    def reset(self) -> None: ...


#: Spectra of the multi-resolution transforms, which descriptors and onset functions read
#: with ``scale = "<name>"`` (their magnitudes as configured in ``[features.<name>]``).
TRANSFORM_SCALES = ("cqt", "vqt", "nsgt", "cwt")

#: name -> an object with ``magnitude_key(ctx)``, ``power_key(ctx)``, ``freqs(ctx)`` and
#: ``dim(ctx)``: filled by :mod:`fluxstream.dsp.transforms` when it registers them.
TRANSFORM_SPECTRA: dict[str, object] = {}


@dataclass(frozen=True, kw_only=True)
class NoParams(Params):
    """Parameters of a feature that has none."""


@dataclass(frozen=True, kw_only=True)
class FramesParams(Params):
    """A framer (a root of the graph): frames of ``frame_length`` samples every
    ``hop_length`` samples, centred as the STFT's. 0 means the STFT's value, which is the
    STFT's own framer: build these with :meth:`on`, so that equal framers are one node."""

    frame_length: int = opt(0, int, "an integer >= 0 (samples; 0 = [stft] n_fft)", check=lambda v: v >= 0)
    hop_length: int = opt(0, int, "an integer >= 0 (samples; 0 = [stft] hop_length)", check=lambda v: v >= 0)

    @classmethod
    def on(cls, ctx: "AnalysisContext", frame_length: int = 0, hop_length: int = 0) -> "FramesParams":
        """The params of frames of this length and hop (0: the STFT's), normalised."""
        return cls(frame_length=0 if frame_length in (0, ctx.n_fft) else int(frame_length),
                   hop_length=0 if hop_length in (0, ctx.hop_length) else int(hop_length))

    def resolved(self, ctx: "AnalysisContext") -> tuple[int, int]:
        """``(frame_length, hop_length)`` in samples."""
        return (self.frame_length or ctx.n_fft, self.hop_length or ctx.hop_length)


@dataclass(frozen=True, kw_only=True)
class FeatureSpec:
    """Registry entry of one feature (or internal node).

    Attributes
    ----------
    name : str
    unit : str
        Unit of the values (``"Hz"``, ``"linear"``, ``"dB"``...).
    description : str
        One line for ``fluxstream features``.
    inputs : tuple, or callable(ctx, params) -> tuple
        The nodes it consumes, in the order ``process`` takes them: a plain name (that
        node with the graph's parameters for it), or a ``(name, params)`` pair (a node
        with these parameters, shared with every other user of the same pair).
    dim : callable(ctx, params) -> int, or None
        Values per frame (per channel); None: the same as its first input's.
    build : callable(ctx, params) -> Node
    params : type
        Frozen dataclass of its ``[features.<name>]`` parameters.
    freqs : callable(ctx, params) -> ndarray, optional
        Frequency of each bin [Hz], for features whose bins have one.
    delay_frames : callable(ctx, params) -> int
        Frames this node lags its inputs (it emits frame k once frame k + delay arrived;
        such a node has ``flush()`` for its last frames).
    unit_of : callable(params) -> str, optional
        The unit when it depends on the parameters (e.g. dB or not); default ``unit``.
    public : bool
        Whether users may request it.
    events : tuple of str
        Kinds of :class:`~fluxstream.results.Event` its node publishes (its
        ``pop_events()`` returns them after each tick).
    frames_out : bool
        False for an event-only feature (``onset``): requested like any other, it adds no
        per-frame output, only its events.
    params_from : str, optional
        Another feature whose ``[features.<name>]`` table this one reads when it has none
        of its own (``onset_strength`` follows ``[features.onset]``); same params class.
    """

    name: str
    unit: str
    description: str
    inputs: tuple | Callable[[AnalysisContext, object], tuple]
    dim: Callable[[AnalysisContext, object], int] | None
    build: Callable[[AnalysisContext, object], Node]
    params: type = NoParams
    freqs: Callable[[AnalysisContext, object], np.ndarray] | None = None
    delay_frames: Callable[[AnalysisContext, object], int] = field(default=lambda ctx, p: 0)
    unit_of: Callable[[object], str] | None = None
    public: bool = True
    events: tuple[str, ...] = ()
    frames_out: bool = True
    params_from: str | None = None

    def input_keys(self, ctx: AnalysisContext, params) -> tuple:
        """The inputs for these parameters (names or ``(name, params)`` pairs)."""
        return tuple(self.inputs(ctx, params) if callable(self.inputs) else self.inputs)

    def unit_for(self, params) -> str:
        """The unit of the values under these parameters."""
        return self.unit if self.unit_of is None else self.unit_of(params)

    def make_params(self, table: dict | None = None):
        """Build this feature's params from a config table (unknown keys are errors)."""
        return build_dataclass(self.params, table or {}, f"features.{self.name}")


REGISTRY: dict[str, FeatureSpec] = {}


def register(spec: FeatureSpec) -> FeatureSpec:
    """Add ``spec`` to the registry (names are unique)."""
    if spec.name in REGISTRY:
        raise ValueError(f"feature {spec.name!r} is registered twice")
    missing = [] if callable(spec.inputs) else [i for i in spec.inputs if i not in REGISTRY]
    if missing:
        raise ValueError(f"feature {spec.name!r} depends on unregistered {missing}")
    REGISTRY[spec.name] = spec
    return spec


def public_names() -> list[str]:
    """Names users may request, in registration order."""
    return [n for n, s in REGISTRY.items() if s.public]


def get(name: str) -> FeatureSpec:
    """The public spec called ``name``; :class:`ConfigError` listing the names otherwise."""
    spec = REGISTRY.get(name)
    if spec is None or not spec.public:
        raise ConfigError(f"unknown feature {name!r}; available: {', '.join(public_names())}")
    return spec


# --- node adapters ------------------------------------------------------------------------


class FunctionNode:
    """A stateless node: ``fn(*inputs)`` with the result given a trailing feature axis when
    the kernel returns one value per frame."""

    def __init__(self, fn: Callable[..., np.ndarray], scalar: bool = False):
        self._fn = fn
        self._scalar = scalar
        if not scalar:
            # The kernel itself is the process step: one Python call less per tick.
            self.process = fn

    def process(self, *inputs: np.ndarray) -> np.ndarray:
        out = self._fn(*inputs)
        return out[..., None] if self._scalar else out

    def reset(self) -> None:
        return None


# --- entries -------------------------------------------------------------------------------

register(FeatureSpec(
    name="frames", unit="linear", public=False, params=FramesParams,
    description="time-domain analysis frames (n_fft samples, unwindowed)",
    inputs=(), dim=lambda c, p: p.resolved(c)[0],
    build=lambda c, p: Framer(*p.resolved(c), c.channels, c.center),
))
register(FeatureSpec(
    name="stft", unit="complex", public=False,
    description="complex STFT (windowed frames -> rFFT)",
    inputs=("frames",), dim=lambda c, p: c.n_bins,
    build=lambda c, p: WindowedFFT(c.n_fft, c.win_length, c.window, c.fft_backend),
    freqs=lambda c, p: spectral.fft_frequencies(c.sample_rate, c.n_fft),
))
register(FeatureSpec(
    name="spectrum", unit="linear",
    description="STFT magnitude |X|",
    inputs=("stft",), dim=lambda c, p: c.n_bins,
    build=lambda c, p: FunctionNode(spectral.magnitude),
    freqs=lambda c, p: spectral.fft_frequencies(c.sample_rate, c.n_fft),
))
register(FeatureSpec(
    name="power", unit="power",
    description="STFT power |X|^2",
    inputs=("stft",), dim=lambda c, p: c.n_bins,
    build=lambda c, p: FunctionNode(spectral.power),
    freqs=lambda c, p: spectral.fft_frequencies(c.sample_rate, c.n_fft),
))
register(FeatureSpec(
    name="rms", unit="linear",
    description="RMS of each (unwindowed) frame, as librosa.feature.rms",
    inputs=("frames",), dim=lambda c, p: 1,
    build=lambda c, p: FunctionNode(spectral.frame_rms, scalar=True),
))


# The spectral suite registers itself on import (scales, cepstra, chroma, descriptors),
# then the pitch and onset detectors.
from . import suite  # noqa: E402,F401
from . import tracking  # noqa: E402,F401
from . import transforms  # noqa: E402,F401
