"""Whole-file analysis through the streaming engine: the ``analyze`` command's core."""

from __future__ import annotations

import json
from typing import Callable, Sequence

import numpy as np

from . import __version__
from .config import Config
from .plugins.recorders import FeatureRecorder
from .stream.engine import Engine, EngineStats
from .stream.file import FileSource

__all__ = ["analyze", "analyze_to", "clocks_of", "describe", "layout_of", "meta_of"]


def describe(engine: Engine) -> tuple[dict, dict]:
    """``(meta, freqs)`` of an opened engine: what ``_meta`` and ``<feature>.freqs`` hold."""
    g, ctx = engine.graph, engine.ctx
    meta = {
        "fluxstream": __version__,
        "sample_rate": ctx.sample_rate, "channels": ctx.channels,
        "n_fft": ctx.n_fft, "hop_length": ctx.hop_length,
        "win_length": ctx.win_length or ctx.n_fft, "window": ctx.window, "center": ctx.center,
        "source": engine.source.description,
        "features": {n: {"dim": g.dim(n), "unit": g.unit(n), "latency_samples": g.latency_samples(n),
                         "delay_frames": g.delay_frames(n), "frame_length": g.framing(n)[0],
                         "hop_length": g.framing(n)[1]}
                     for n in g.frame_outputs},
        "events": {kind: {"feature": n, "latency_samples": g.latency_samples(n)}
                   for kind, n in g.event_kinds.items()},
    }
    freqs = {n: f for n in g.frame_outputs if (f := g.freqs(n)) is not None}
    return meta, freqs


def layout_of(engine: Engine) -> dict[str, tuple]:
    """Per-frame shape of each output feature: ``(dim,)`` mono, ``(channels, dim)`` else."""
    g, ch = engine.graph, engine.ctx.channels
    return {n: (g.dim(n),) if ch == 1 else (ch, g.dim(n)) for n in g.frame_outputs}


def clocks_of(engine: Engine) -> dict[str, int]:
    """The hop [samples] of each output feature's frame clock."""
    return {n: engine.graph.clock(n)[0] for n in engine.graph.frame_outputs}


def analyze_to(path: str, out: str | None, config: Config | None = None,
               features: Sequence[str] | None = None,
               on_progress: Callable[[float], None] | None = None,
               outputs=None) -> tuple[dict | None, EngineStats]:
    """Analyse the audio file ``path`` and write ``out`` (``.npz``/``.csv``/``.jsonl``).

    Parameters
    ----------
    path : str
    out : str or None
        None: keep the results in memory and return them.
    config : Config, optional
    features : sequence of str, optional
        Overrides ``config.analysis.features``.
    on_progress : callable(fraction), optional
        Called from the analysis thread with the fraction done (0..1).
    outputs : fluxstream.outputs.Outputs, optional
        OSC destinations, plugins and control, started once the engine is open (the
        caller stops them: :meth:`~fluxstream.outputs.Outputs.stop`).

    Returns
    -------
    arrays : dict or None
        The ``.npz`` content when ``out`` is None.
    stats : EngineStats
    """
    config = config if config is not None else Config()
    inp = config.input
    source = FileSource(path, block=inp.block_for("file"), select=inp.select, mono=inp.mono,
                        realtime=inp.realtime, sample_rate=inp.sample_rate)
    engine = Engine(config, source=source, features=features)
    engine.open()
    meta, freqs = describe(engine)
    meta["file"] = str(path)
    rec = FeatureRecorder(out, freqs=freqs, meta=meta, layout=layout_of(engine), clocks=clocks_of(engine))
    engine.subscribe(rec)
    if on_progress is not None and source.n_samples > 0:
        total = source.duration_s

        def progress(item) -> None:
            t = getattr(item, "time_s", None)
            if isinstance(t, np.ndarray) and t.size:
                on_progress(min(1.0, float(t[-1]) / total))

        engine.subscribe(progress)
    try:
        if outputs is not None:
            outputs.start(engine)
        stats = engine.run()
    finally:
        rec.close()
    if on_progress is not None:
        on_progress(1.0)
    return (rec.arrays() if out is None else None), stats


def analyze(path: str, features: Sequence[str] | None = None, config: Config | None = None) -> dict:
    """Analyse a whole file; return what ``analyze --out x.npz`` would write.

    Parameters
    ----------
    path : str
        Any file libsndfile reads.
    features : sequence of str, optional
        Feature names (default: ``config.analysis.features``, i.e. rms and centroid).
    config : Config, optional

    Returns
    -------
    arrays : dict of str -> ndarray
        ``<feature>`` ``(n_frames, dim)``, ``<feature>.time`` [s], ``<feature>.freqs``
        [Hz] where bins have frequencies, and ``_meta`` (JSON string; :func:`json.loads`
        of ``arrays["_meta"].item()`` gives a dict).

    Examples
    --------
    >>> import numpy as np, soundfile as sf, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "tone.wav")
    >>> sr = 22050
    >>> sf.write(p, 0.5 * np.sin(2 * np.pi * 1000 * np.arange(sr) / sr), sr)
    >>> r = analyze(p, ["rms", "centroid"])
    >>> r["rms"].shape, round(float(np.median(r["centroid"])))
    ((44, 1), 1000)
    """
    arrays, _ = analyze_to(path, None, config, features)
    return arrays


def meta_of(arrays: dict) -> dict:
    """The ``_meta`` entry of an analysis result, parsed."""
    return json.loads(np.asarray(arrays["_meta"]).item())
