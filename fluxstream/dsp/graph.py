"""The analysis graph: the requested features and everything they need, computed once.

Nodes are keyed by ``(name, params)``: two features that need the same intermediate with
the same parameters (one STFT, one power spectrum, one mel filterbank product) share one
node, while differently-configured ones get their own. The root is the framer of the STFT
clock; every other node runs once per tick, in dependency order, on its inputs' outputs of
that tick.

A node may emit fewer frames than it receives and catch up later (a delta needs frames
from the future): the graph tracks, per node, the index of the next frame it will emit, so
every output carries its own frame indices. Nodes with such a delay have a ``flush()`` that
returns their last frames at the end of the stream.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

import numpy as np

from ..errors import ConfigError
from . import registry
from .registry import AnalysisContext, FeatureSpec

__all__ = ["Graph", "GraphOutput", "NodeKey"]

NodeKey = tuple  # (name, params): params is a frozen (hashable) dataclass instance


class GraphOutput:
    """One tick's result: the requested features, each with the index of its first frame.

    Attributes
    ----------
    features : dict of str -> ndarray [shape=(channels, n, dim)]
        Only the requested features with frame outputs; arrays belong to the caller.
    first_index : dict of str -> int
        Frame index of each feature's first row on its clock (features with a delay lag
        behind).
    analysis_frames : int
        Frames the main (STFT) framer completed in this tick.
    events : list of Event
        Events the nodes decided in this tick (onsets...), in node order.
    """

    __slots__ = ("features", "first_index", "analysis_frames", "events", "_clusters", "_clock")

    def __init__(self, features: dict[str, np.ndarray], first_index: dict[str, int],
                 analysis_frames: int = 0, clusters: tuple[tuple[str, ...], ...] | None = None,
                 events: list | None = None, clock: dict[str, tuple[int, int]] | None = None):
        self.features = features
        self.first_index = first_index
        self.analysis_frames = analysis_frames  # main-clock frames completed in this tick
        self.events = events if events is not None else []
        # Names that always share a frame range (same framer, same total delay).
        self._clusters = clusters
        self._clock = clock or {}

    @property
    def n_frames(self) -> int:
        """Most frames any feature has in this tick."""
        return max((v.shape[1] for v in self.features.values()), default=0)

    def groups(self) -> list[tuple[tuple[int, int], int, dict[str, np.ndarray]]]:
        """Features grouped by identical frame ranges on one clock: ``[(clock,
        first_index, {name: array})]``, ``clock = (hop_length, offset)`` in samples (see
        :meth:`Graph.clock`), in order of clock then first index; empty ranges left out."""
        feats, first, clock = self.features, self.first_index, self._clock
        merged: dict[tuple, dict[str, np.ndarray]] = {}
        if self._clusters is not None:
            # Outputs of one framer with the same delay are computed from the same frames
            # in every tick (test_graph checks it), so one range look-up per cluster groups
            # them: this runs on every live hop, where grouping name by name cost 10 us.
            # Different clusters can still meet on one range (a short stream's flush).
            for c in self._clusters:
                n = feats[c[0]].shape[1]
                if n:
                    group = merged.setdefault((clock.get(c[0], (0, 0)), first[c[0]], n), {})
                    for name in c:
                        group[name] = feats[name]
        else:
            for name, arr in feats.items():
                if arr.shape[1]:
                    merged.setdefault((clock.get(name, (0, 0)), first[name], arr.shape[1]), {})[name] = arr
        return [(k[0], k[1], v) for k, v in sorted(merged.items())]


class Graph:
    """Nodes for ``names`` and their dependencies, in topological order.

    Parameters
    ----------
    ctx : AnalysisContext
    names : sequence of str
        Public feature names to output.
    params : mapping of str -> params dataclass, optional
        Per-feature parameters (missing ones take their defaults). An input named by a
        plain string in the registry uses these too (``mfcc.delta`` follows ``[features.mfcc]``).

    Real-time notes
    ---------------
    Analysis thread. Every node is built in ``__init__``; :meth:`process` allocates only
    node outputs. Latency per output is :meth:`latency_samples`.
    """

    def __init__(self, ctx: AnalysisContext, names, params: Mapping[str, object] | None = None):
        names = list(dict.fromkeys(names))
        if not names:
            raise ConfigError("no features requested; available: " + ", ".join(registry.public_names()))
        self._params = dict(params or {})
        ctx = dataclasses.replace(ctx, feature_params=tuple(sorted(self._params.items(), key=lambda kv: kv[0])))
        self.ctx = ctx
        self.outputs = names
        self.specs: dict[NodeKey, FeatureSpec] = {}
        self._inputs: dict[NodeKey, tuple[NodeKey, ...]] = {}
        order: list[NodeKey] = []

        def visit(key: NodeKey, chain: tuple) -> None:
            if key in self._inputs:
                return
            if key in chain:
                raise ValueError(f"dependency cycle: {' -> '.join(k[0] for k in chain + (key,))}")
            spec = registry.REGISTRY[key[0]]
            deps = tuple(self._resolve(d) for d in spec.input_keys(ctx, key[1]))
            for dep in deps:
                visit(dep, chain + (key,))
            self.specs[key] = spec
            self._inputs[key] = deps
            order.append(key)

        self.output_keys: dict[str, NodeKey] = {}
        for n in names:
            spec = registry.get(n)  # public names only: a clear error otherwise
            key = (spec.name, self.params_for(spec.name))
            self.output_keys[n] = key
            visit(key, ())
        # The recursive closure refers to itself (and to self): unbound, so that a dropped
        # graph is freed at once, not at the next garbage collection (its FFT plans go back
        # to the pool for the next engine only then).
        visit = None
        self.order = order
        # Roots: one framer per (frame length, hop) any node needs; the STFT's is the main
        # one (its frames count as the engine's analysis frames).
        self._root_keys = [k for k in order if k[0] == "frames"]
        self.roots = {k: self.specs[k].build(ctx, k[1]) for k in self._root_keys}
        main = ("frames", registry.FramesParams())
        self._main_key = main if main in self.roots else self._root_keys[0]
        self.root = self.roots[self._main_key]
        self._compute = [k for k in order if k[0] != "frames"]
        self._nodes = {k: self.specs[k].build(ctx, k[1]) for k in self._compute}
        self.hop_length = ctx.hop_length
        self._delay: dict[NodeKey, int] = {}
        self._root_of: dict[NodeKey, NodeKey] = {}
        for k in order:
            ins = self._inputs[k]
            delays = {self._delay[i] for i in ins}
            if len(delays) > 1:
                raise ConfigError(f"feature {k[0]!r} combines inputs with different delays")
            self._delay[k] = (delays.pop() if delays else 0) + int(self.specs[k].delay_frames(ctx, k[1]))
            roots = {self._root_of[i] for i in ins} if ins else {k}
            if len(roots) > 1:
                raise ConfigError(f"feature {k[0]!r} combines inputs framed differently "
                                  "(frame lengths or hops)")
            self._root_of[k] = roots.pop()
        self._build_plan()
        self.set_threads(1)
        self.reset(0)

    def _build_plan(self) -> None:
        # The per-tick loop works on positions, not keys: hashing a params dataclass on
        # every look-up cost more than some kernels (100 us per tick for 30 nodes).
        pos = {k: i for i, k in enumerate(self.order)}
        # Entries (position, process, inputs): a bound (or C-level) process callable, and
        # one input position as a plain int for the common one-input node.
        self._plan = []
        for k in self._compute:
            ins = tuple(pos[i] for i in self._inputs[k])
            self._plan.append((pos[k], self._nodes[k].process, ins[0] if len(ins) == 1 else ins))
        self._flushing = {pos[k]: self._nodes[k] for k in self._compute if hasattr(self._nodes[k], "flush")}
        framed = {n: k for n, k in self.output_keys.items() if self.specs[k].frames_out}
        self._out_pos = {n: pos[k] for n, k in framed.items()}
        by_delay: dict[tuple, list[str]] = {}
        for n, k in framed.items():
            by_delay.setdefault((self._root_of[k], self._delay[k]), []).append(n)
        self._clusters = tuple(tuple(v) for v in by_delay.values())
        self._clock_of = {n: self._root_clock(self._root_of[k]) for n, k in framed.items()}
        self._root_pos = [(pos[k], self.roots[k]) for k in self._root_keys]
        self._main_pos = pos[self._main_key]
        self._event_nodes = [self._nodes[k] for k in self._compute if self.specs[k].events]

    def instrument(self, wrap) -> None:
        """Replace every node by ``wrap(key, node)`` (e.g. a timer for benchmarks); the
        wrapper must keep the node's ``process``/``reset`` (and ``flush``) behaviour."""
        self._nodes = {k: wrap(k, n) for k, n in self._nodes.items()}
        self._build_plan()
        self.set_threads(self._threads)

    def params_for(self, name: str):
        """The parameters the graph uses for node ``name`` when it is named plainly."""
        p = self._params.get(name)
        return p if p is not None else registry.REGISTRY[name].params()

    def _resolve(self, dep) -> NodeKey:
        if isinstance(dep, str):
            return (dep, self.params_for(dep))
        name, p = dep
        return (name, p if p is not None else self.params_for(name))

    # --- description -----------------------------------------------------------------

    def _key(self, name: str) -> NodeKey:
        return self.output_keys[name]

    def dim(self, name: str) -> int:
        return self._dim(self._key(name))

    def _dim(self, key: NodeKey) -> int:
        dim = self.specs[key].dim
        return self._dim(self._inputs[key][0]) if dim is None else int(dim(self.ctx, key[1]))

    def unit(self, name: str) -> str:
        k = self._key(name)
        return self.specs[k].unit_for(k[1])

    def freqs(self, name: str) -> np.ndarray | None:
        k = self._key(name)
        f = self.specs[k].freqs
        return None if f is None else np.asarray(f(self.ctx, k[1]))

    def delay_frames(self, name: str) -> int:
        """Frames by which this output lags its framer's frames (deltas: width // 2)."""
        return self._delay[self._key(name)]

    def framing(self, name: str) -> tuple[int, int]:
        """``(frame_length, hop_length)`` [samples] of the frames this output is made of."""
        return self._root_of[self._key(name)][1].resolved(self.ctx)

    def _root_clock(self, root: NodeKey) -> tuple[int, int]:
        length, hop = root[1].resolved(self.ctx)
        return (hop, 0 if self.ctx.center else length // 2)

    def clock(self, name: str) -> tuple[int, int]:
        """``(hop_length, offset)`` [samples] of this output's frame clock: frame ``k``'s
        reference (centre) sample is ``k * hop_length + offset`` (offset 0 with centred
        framing). Outputs on one clock have comparable frame indices."""
        return self._root_clock(self._root_of[self._key(name)])

    def latency_samples(self, name: str) -> int:
        """Samples between a frame's reference time and the newest input it needs."""
        length, hop = self.framing(name)
        return length - length // 2 + self.delay_frames(name) * hop

    def frame_sample(self, index: np.ndarray, name: str | None = None) -> np.ndarray:
        """Reference (centre) sample of frame ``index`` on the input's timeline, on the
        clock of output ``name`` (default: the STFT's)."""
        hop, offset = self.clock(name) if name is not None else self._root_clock(self._main_key)
        return np.asarray(index) * hop + offset

    def nodes_named(self, name: str) -> list:
        """The nodes of feature ``name`` (any parameters): for control changes such as
        the onset threshold."""
        return [node for k, node in self._nodes.items() if k[0] == name]

    @property
    def frame_outputs(self) -> list[str]:
        """The requested features that have per-frame values (not the event-only ones)."""
        return list(self._out_pos)

    @property
    def event_kinds(self) -> dict[str, str]:
        """Event kind -> the requested feature that publishes it."""
        return {kind: n for n, k in self.output_keys.items() for kind in self.specs[k].events}

    @property
    def node_count(self) -> int:
        """Nodes computed per tick (shared work counted once)."""
        return len(self.order)

    # --- running -----------------------------------------------------------------------

    # --- threads -----------------------------------------------------------------------

    #: Nodes that feed many features: computed first, before the independent branches.
    _TRUNK = ("stft", "spectrum", "power")

    def set_threads(self, threads: int) -> None:
        """Compute independent branches of the graph on ``threads`` threads (1 or 2).

        The trunk (STFT, magnitude, power) runs first; the branches that hang off it (a
        descriptor, the mel -> mfcc -> delta chain, chroma...) share no node, so they can
        run at once: numpy releases the GIL in its loops. The branches are balanced by
        their measured cost over the first ticks (which run on one thread). Results do not
        depend on the thread count. Meant for file analysis (large blocks); live blocks of
        one frame are too small to gain.
        """
        if threads not in (1, 2):
            raise ConfigError(f"threads={threads!r} is not allowed: must be 1 or 2")
        self._threads = threads
        self._groups = None
        self._probe = {} if threads > 1 else None
        self._probe_ticks = 0

    def close(self) -> None:
        """Stop the worker thread, if any (idempotent); the graph stays usable, on one
        thread until :meth:`set_threads` is called again."""
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=True)
            self._pool = None
        self.set_threads(1)

    def _branches(self) -> tuple[list, list[list]]:
        """(trunk plan, [branch plans]): branches are the connected parts of the graph
        once the root and the trunk are taken out."""
        trunk = [e for e in self._plan if self.order[e[0]][0] in self._TRUNK]
        rest = [e for e in self._plan if self.order[e[0]][0] not in self._TRUNK]
        parent = {e[0]: e[0] for e in rest}

        def find(i):
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for i, _, ins in rest:
            for j in ((ins,) if ins.__class__ is int else ins):
                if j in parent:
                    parent[find(i)] = find(j)
        groups: dict[int, list] = {}
        for e in rest:  # plan order is topological, and stays so within each branch
            groups.setdefault(find(e[0]), []).append(e)
        return trunk, list(groups.values())

    @staticmethod
    def _run_plan(plan, values) -> None:
        # The per-tick inner loop of the live path: kept to a call per node.
        for i, proc, ins in plan:
            values[i] = proc(values[ins]) if ins.__class__ is int else proc(*[values[j] for j in ins])

    def _run_flush(self, values) -> None:
        """The plan at the end of stream: each delayed node's last frames are appended to
        its output before its consumers run."""
        for i, proc, ins in self._plan:
            out = proc(values[ins]) if ins.__class__ is int else proc(*[values[j] for j in ins])
            node = self._flushing.get(i)
            if node is not None:
                out = np.concatenate([out, node.flush()], axis=1)
            values[i] = out

    def _run_parallel(self, values) -> None:
        if self._groups is None:
            trunk, branches = self._branches()
            self._run_plan(trunk, values)
            import time

            for b in branches:  # probe: one thread, timing each branch
                t0 = time.perf_counter()
                self._run_plan(b, values)
                key = b[0][0]
                self._probe[key] = self._probe.get(key, 0.0) + time.perf_counter() - t0
            self._probe_ticks += 1
            if self._probe_ticks >= 3:  # longest first onto the lighter side (LPT)
                sides: list[list] = [[], []]
                load = [0.0, 0.0]
                for b in sorted(branches, key=lambda b: -self._probe[b[0][0]]):
                    k = 0 if load[0] <= load[1] else 1
                    sides[k] += b
                    load[k] += self._probe[b[0][0]]
                self._groups = (trunk, sides)
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(1, thread_name_prefix="fluxstream-graph")
            return
        trunk, (mine, theirs) = self._groups
        self._run_plan(trunk, values)
        job = self._pool.submit(self._run_plan, theirs, values)
        self._run_plan(mine, values)
        job.result()

    # --- running ---------------------------------------------------------------------

    def _run(self, roots: list, flush: bool) -> GraphOutput:
        values: list = [None] * len(self.order)
        for (i, _), (frames, _first) in zip(self._root_pos, roots):
            values[i] = frames
        if flush:
            for node in self._nodes.values():
                if hasattr(node, "end_of_stream"):
                    node.end_of_stream()  # what follows are the zero-padded tail frames
            self._run_flush(values)
        elif self._threads > 1 and values[self._main_pos].shape[1]:
            self._run_parallel(values)
        else:
            self._run_plan(self._plan, values)
        # Frame indices: each output's next frame advances by what it emitted.
        nxt = self._next
        starts = nxt.copy()
        for n, i in self._out_pos.items():
            k = values[i].shape[1]
            if k:
                nxt[n] += k
        events = [e for node in self._event_nodes for e in node.pop_events()] if self._event_nodes else None
        return GraphOutput({n: values[i] for n, i in self._out_pos.items()}, starts,
                           values[self._main_pos].shape[1], self._clusters, events, self._clock_of)

    def process(self, block: np.ndarray) -> GraphOutput:
        """Add a block [shape=(n_samples, channels)] and compute what it completes."""
        return self._run([root.process(block) for _, root in self._root_pos], flush=False)

    def flush(self) -> GraphOutput:
        """End of stream: the centred tail frames, and every delayed node's last frames."""
        return self._run([root.flush() for _, root in self._root_pos], flush=True)

    def reset(self, start_sample: int = 0) -> None:
        """Forget all state; the next block starts at ``start_sample``."""
        for root in self.roots.values():
            root.reset(start_sample)
        for k, node in self._nodes.items():
            node.reset()
            if hasattr(node, "start_at"):
                # Nodes that count frames themselves (the onset picker) learn where their
                # framer restarts: frame indices stay on the sample clock across a gap.
                node.start_at(self.roots[self._root_of[k]].next_index)
        self._next = {n: self.roots[self._root_of[k]].next_index for n, k in self.output_keys.items()
                      if n in self._out_pos}
