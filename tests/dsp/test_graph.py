import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fluxstream.dsp import registry, spectral
from fluxstream.dsp.graph import Graph
from fluxstream.dsp.registry import AnalysisContext
from fluxstream.dsp.stft import stft
from fluxstream.errors import ConfigError
from tests.helpers import block_sizes, split

CTX = AnalysisContext(sample_rate=16000, n_fft=512, hop_length=128)


def run(graph, blocks):
    """Concatenate each output over all ticks; check every output's frames are consecutive."""
    outs = [graph.process(b) for b in blocks] + [graph.flush()]
    feats, nxt = {}, {}
    for o in outs:
        for k, v in o.features.items():
            assert o.first_index[k] == nxt.get(k, 0)
            nxt[k] = o.first_index[k] + v.shape[1]
            feats.setdefault(k, []).append(v)
    return {k: np.concatenate(v, axis=1) for k, v in feats.items()}, outs


def test_public_names_and_contract():
    assert registry.public_names()[:3] == ["spectrum", "power", "rms"]
    assert {"mel", "mfcc", "mfcc.delta", "chroma", "centroid", "flux", "zcr"} <= set(registry.public_names())
    for name in registry.public_names():
        spec = registry.get(name)
        assert spec.unit and spec.description and spec.inputs


def test_shared_work_is_done_once():
    g = Graph(CTX, ["centroid", "spectrum", "power", "rms"])
    names = [k[0] for k in g.order]
    # frames, stft, spectrum, centroid, power, rms
    assert names.count("stft") == 1 and names.count("frames") == 1 and g.node_count == 6
    assert names.index("stft") < names.index("spectrum") < names.index("centroid")


@given(sizes=block_sizes, n=st.integers(0, 6000), channels=st.integers(1, 2))
def test_graph_streaming_equals_batch_kernels(sizes, n, channels):
    x = np.random.default_rng(n).standard_normal((n, channels)).astype(np.float32)
    ctx = AnalysisContext(sample_rate=16000, channels=channels, n_fft=512, hop_length=128)
    g = Graph(ctx, ["spectrum", "power", "rms", "centroid"])
    got, outs = run(g, split(x, sizes))
    assert sum(o.analysis_frames for o in outs) == got["rms"].shape[1]
    X = np.moveaxis(stft(x, 512, 128), 1, 0) if channels > 1 else stft(x[:, 0], 512, 128)[None]
    S = np.abs(X)
    np.testing.assert_allclose(got["spectrum"], S, atol=1e-4)
    np.testing.assert_allclose(got["power"], S ** 2, rtol=1e-4, atol=1e-4)
    c = spectral.spectral_centroid(S, spectral.fft_frequencies(16000, 512))
    np.testing.assert_allclose(got["centroid"][..., 0], c, rtol=1e-4, atol=1e-2)
    assert got["rms"].shape == (channels, S.shape[1], 1)


def test_latency_and_dims():
    g = Graph(CTX, ["rms", "centroid", "spectrum"])
    assert g.latency_samples("centroid") == 256 == CTX.frame_latency
    assert g.dim("spectrum") == 257 and g.dim("rms") == 1
    np.testing.assert_allclose(g.freqs("spectrum"), np.arange(257) * 16000 / 512)
    assert g.freqs("rms") is None
    np.testing.assert_array_equal(g.frame_sample(np.arange(3)), [0, 128, 256])
    gc = Graph(AnalysisContext(sample_rate=16000, n_fft=512, hop_length=128, center=False), ["rms"])
    np.testing.assert_array_equal(gc.frame_sample(np.arange(2)), [256, 384])


def test_unknown_and_internal_features_are_rejected():
    with pytest.raises(ConfigError, match="unknown feature 'mell'.*available: spectrum"):
        Graph(CTX, ["mell"])
    with pytest.raises(ConfigError, match="unknown feature 'stft'"):
        Graph(CTX, ["stft"])
    with pytest.raises(ConfigError, match="no features"):
        Graph(CTX, [])


def test_registry_rejects_duplicates_and_unknown_inputs():
    spec = registry.get("rms")
    with pytest.raises(ValueError, match="twice"):
        registry.register(spec)
    import dataclasses

    with pytest.raises(ValueError, match="unregistered"):
        registry.register(dataclasses.replace(spec, name="x_test", inputs=("nope",)))


def test_instrument_wraps_every_node_and_keeps_results(rng):
    x = rng.standard_normal((4000, 1)).astype(np.float32)
    plain, _ = run(Graph(CTX, ["rms", "centroid", "spectrum"]), [x])
    calls = []

    class Counting:
        def __init__(self, key, node):
            self.key, self.node = key, node

        def process(self, *a):
            calls.append(self.key[0])
            return self.node.process(*a)

        def reset(self):
            return self.node.reset()

    g = Graph(CTX, ["rms", "centroid", "spectrum"])
    g.instrument(Counting)
    wrapped, _ = run(g, [x])
    assert set(calls) == {"stft", "spectrum", "centroid", "rms"}
    for k in plain:
        np.testing.assert_array_equal(wrapped[k], plain[k])


@pytest.mark.parametrize("threads", [1, 2])
def test_two_threads_give_identical_results(threads, rng):
    from fluxstream.config import load_config

    names = ["mel", "mfcc", "mfcc.delta", "chroma", "centroid", "spread", "rolloff", "contrast", "flux", "rms"]
    cfg = load_config()
    ctx = AnalysisContext(sample_rate=16000, n_fft=512, hop_length=128)
    x = rng.standard_normal((40000, 1)).astype(np.float32)
    ref, _ = run(Graph(ctx, names, {n: cfg.feature_params(n) for n in names}), split(x, [4000]))
    g = Graph(ctx, names, {n: cfg.feature_params(n) for n in names})
    g.set_threads(threads)
    got, _ = run(g, split(x, [4000]))  # 10 ticks: 3 probing on one thread, then threads
    g.close()
    for k in names:
        np.testing.assert_array_equal(got[k], ref[k], err_msg=k)


def test_bad_thread_count():
    with pytest.raises(ConfigError, match="threads=3"):
        Graph(CTX, ["rms"]).set_threads(3)


def _generic_groups(out, graph):
    by = {}
    for name, arr in out.features.items():
        if arr.shape[1]:
            by.setdefault((graph.clock(name), out.first_index[name], arr.shape[1]), {})[name] = arr
    return [(k[0], k[1], v) for k, v in sorted(by.items())]


@given(sizes=block_sizes, n=st.integers(0, 4000), gap=st.booleans())
def test_groups_by_delay_equal_grouping_by_frame_range(sizes, n, gap):
    # GraphOutput.groups() trusts that outputs with the same delay always cover the same
    # frames (one look-up per delay instead of per feature): check it against grouping
    # name by name, through the head, steady ticks, a reset (a gap) and the flush.
    x = np.random.default_rng(n).standard_normal((n, 1)).astype(np.float32)
    g = Graph(CTX, ["mfcc", "mfcc.delta", "mfcc.delta2", "centroid", "spread", "flux", "rms"])
    outs = []
    for i, b in enumerate(split(x, sizes)):
        if gap and i == 3:
            g.reset(10_000)
        outs.append(g.process(b))
    outs.append(g.flush())
    for o in outs:
        want = _generic_groups(o, g)
        got = o.groups()
        assert [(c, f, sorted(d)) for c, f, d in got] == [(c, f, sorted(d)) for c, f, d in want]
        for (_, _, a), (_, _, b) in zip(got, want):
            for k in a:
                assert a[k] is b[k]


@pytest.mark.parametrize("names,params", [(["rms", "mfcc", "contrast"], {}),
                                          (["pitch", "onset"], {"pitch": {"method": "yin"}}),
                                          (["pitch"], {"pitch": {"method": "hps"}})])
def test_a_dropped_graph_is_freed_without_the_garbage_collector(names, params):
    # Its FFT plans go back to the pool when its stages are freed; a reference cycle would
    # keep them until the next collection, and the next engine (analyze *.wav) would plan
    # and page-fault its own again.
    import gc
    import weakref

    from fluxstream.dsp.fft import RealFFT
    from fluxstream.dsp.tracking import PitchParams

    typed = {"pitch": PitchParams(**params["pitch"])} if "pitch" in params else None
    graph = Graph(AnalysisContext(sample_rate=16000, n_fft=512, hop_length=128), names, typed)
    graph.process(np.random.default_rng(0).standard_normal((4096, 1)).astype(np.float32))
    held = [weakref.ref(v) for v in gc.get_referents(*graph._nodes.values(), *graph.roots.values())
            if isinstance(v, RealFFT)]
    held += [weakref.ref(v) for n in graph._nodes.values() for v in vars(getattr(n, "_est", n)).values()
             if isinstance(v, RealFFT)]
    assert held  # the check below would be empty otherwise
    gc.disable()
    try:
        ref = weakref.ref(graph)
        del graph
        assert ref() is None
        assert all(r() is None for r in held)
    finally:
        gc.enable()
