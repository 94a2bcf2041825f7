"""The analysis graph: the requested features and everything they need, computed once.

The graph is built from the registry. Its root is the framer of the STFT clock; every other
node is computed once per tick, in dependency order, from its inputs' outputs of the same
tick, so one FFT feeds every spectral feature.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from ..errors import ConfigError
from . import registry
from .registry import AnalysisContext, FeatureSpec

__all__ = ["Graph", "GraphOutput"]


class GraphOutput:
    """One tick's result.

    Attributes
    ----------
    first_index : int
        Frame index of the first frame.
    n_frames : int
    features : dict of str -> ndarray [shape=(channels, n_frames, dim)]
        Only the requested features. Every kernel allocates its output, so these are owned by
        the caller (the internal ``frames`` and ``stft`` buffers are never outputs).
    """

    __slots__ = ("first_index", "n_frames", "features")

    def __init__(self, first_index: int, n_frames: int, features: dict[str, np.ndarray]):
        self.first_index = first_index
        self.n_frames = n_frames
        self.features = features


class Graph:
    """Nodes for ``names`` and their dependencies, in topological order.

    Parameters
    ----------
    ctx : AnalysisContext
    names : sequence of str
        Public feature names to output.
    params : mapping of str -> params dataclass, optional
        Per-feature parameters (missing ones take their defaults).

    Real-time notes
    ---------------
    Analysis thread. Every node is built in ``__init__``; :meth:`process` allocates only
    the feature outputs. Latency per output is :meth:`latency_samples`.
    """

    def __init__(self, ctx: AnalysisContext, names, params: Mapping[str, object] | None = None):
        names = list(dict.fromkeys(names))
        if not names:
            raise ConfigError("no features requested; available: " + ", ".join(registry.public_names()))
        self.ctx = ctx
        self.outputs = names
        params = dict(params or {})
        self.params = {}
        order: list[str] = []

        def visit(name: str, chain: tuple[str, ...]) -> None:
            if name in order:
                return
            if name in chain:
                raise ValueError(f"dependency cycle: {' -> '.join(chain + (name,))}")
            spec = registry.REGISTRY[name]
            for dep in spec.inputs:
                visit(dep, chain + (name,))
            order.append(name)

        for n in names:
            spec = registry.get(n)  # public names only; clear error otherwise
            visit(spec.name, ())
        self.order = order
        self.specs: dict[str, FeatureSpec] = {n: registry.REGISTRY[n] for n in order}
        for n in order:
            self.params[n] = params.get(n) or self.specs[n].params()
        # The root ("frames", the framer) is fed with blocks; every other node with its
        # inputs' outputs of the same tick.
        self.root = self.specs["frames"].build(ctx, self.params["frames"])
        self._compute = [n for n in order if n != "frames"]
        self._nodes = {n: self.specs[n].build(ctx, self.params[n]) for n in self._compute}
        self.hop_length = ctx.hop_length
        self._ref_offset = (ctx.n_fft // 2 if ctx.center else 0)
        self._lat = {}
        for n in order:
            spec = self.specs[n]
            base = max((self._lat[i] for i in spec.inputs), default=ctx.frame_latency)
            self._lat[n] = base + int(spec.extra_latency(ctx, self.params[n]))

    # --- description -----------------------------------------------------------------

    def dim(self, name: str) -> int:
        return int(self.specs[name].dim(self.ctx, self.params[name]))

    def unit(self, name: str) -> str:
        return self.specs[name].unit

    def freqs(self, name: str) -> np.ndarray | None:
        f = self.specs[name].freqs
        return None if f is None else np.asarray(f(self.ctx, self.params[name]))

    def latency_samples(self, name: str) -> int:
        """Samples between a frame's reference time and the newest input it needs."""
        return self._lat[name]

    def frame_sample(self, index: np.ndarray) -> np.ndarray:
        """Reference (centre) sample of frame ``index`` on the input's timeline."""
        return np.asarray(index) * self.hop_length - self._ref_offset + self.ctx.n_fft // 2

    # --- running -----------------------------------------------------------------------

    def _run(self, frames: np.ndarray, first: int) -> GraphOutput:
        n = frames.shape[1]
        if n == 0:
            return GraphOutput(first, 0, {})
        values = {"frames": frames}
        for name in self._compute:
            spec = self.specs[name]
            values[name] = self._nodes[name].process(*(values[i] for i in spec.inputs))
        return GraphOutput(first, n, {k: values[k] for k in self.outputs})

    def process(self, block: np.ndarray) -> GraphOutput:
        """Add a block [shape=(n_samples, channels)] and compute the frames it completes."""
        frames, first = self.root.process(block)
        return self._run(frames, first)

    def flush(self) -> GraphOutput:
        """End of stream: the centred tail frames."""
        frames, first = self.root.flush()
        return self._run(frames, first)

    def reset(self, start_sample: int = 0) -> None:
        """Forget all state; the next block starts at ``start_sample``."""
        self.root.reset(start_sample)
        for node in self._nodes.values():
            node.reset()

