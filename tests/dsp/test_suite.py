"""The spectral suite through the graph: every feature runs, streams equal batch, shared
work is shared, and features equal librosa's where conventions agree."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fluxstream.config import load_config
from fluxstream.dsp import registry
from fluxstream.dsp.graph import Graph
from fluxstream.dsp.registry import AnalysisContext
from tests.helpers import split

librosa = pytest.importorskip("librosa")

ALL = [n for n in registry.public_names() if registry.get(n).frames_out]  # onset is event-only


def ctx_for(sr=22050, n_fft=2048, hop=512, channels=1):
    return AnalysisContext(sample_rate=sr, channels=channels, n_fft=n_fft, hop_length=hop)


def run_graph(graph, x, sizes=(None,)):
    """Stream x [shape=(n, C)] through the graph; each output concatenated with its first
    frame index checked to be consecutive."""
    feats, nxt = {}, {}
    blocks = split(x, sizes) if sizes != (None,) else [x]
    for o in [graph.process(b) for b in blocks] + [graph.flush()]:
        for k, v in o.features.items():
            assert o.first_index[k] == nxt.get(k, 0), k
            nxt[k] = o.first_index[k] + v.shape[1]
            feats.setdefault(k, []).append(v)
    return {k: np.concatenate(v, axis=1) for k, v in feats.items()}


def signals(sr, n, rng):
    t = np.arange(n) / sr
    tone = sum(np.sin(2 * np.pi * 220 * h * t) / h for h in range(1, 6)) * 0.2
    return {
        "silence": np.zeros(n, np.float32),
        "noise": rng.uniform(-1, 1, n).astype(np.float32),
        "dc": np.full(n, 0.5, np.float32),
        "sine": (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32),
        "tone": (tone + 0.01 * rng.standard_normal(n)).astype(np.float32),
    }


def test_every_feature_is_finite_with_its_shape_on_known_signals(rng):
    ctx = ctx_for(sr=16000, n_fft=1024, hop=256)
    g = Graph(ctx, ALL)
    for name, x in signals(16000, 8000, rng).items():
        g.reset()
        out = run_graph(g, x[:, None])
        n_frames = 1 + 8000 // 256
        for f in ALL:
            v = out[f]
            assert v.shape == (1, n_frames, g.dim(f)), (f, name, v.shape)
            assert np.isfinite(v).all(), (f, name)
            assert v.dtype == np.float32, (f, v.dtype)


@settings(max_examples=15)
@given(sizes=st.lists(st.integers(0, 5000), min_size=1, max_size=6), channels=st.integers(1, 2))
def test_all_features_streaming_equals_batch(sizes, channels):
    x = np.random.default_rng(sum(sizes)).standard_normal((9000, channels)).astype(np.float32) * 0.3
    cfg = load_config(overrides=['features.chroma.tuning="estimate"', "features.mfcc.delta.width=5"])
    params = {n: cfg.feature_params(n) for n in ALL}
    ctx = ctx_for(sr=16000, n_fft=512, hop=128, channels=channels)
    whole = run_graph(Graph(ctx, ALL, params), x)
    parts = run_graph(Graph(ctx, ALL, params), x, sizes)
    for f in ALL:
        np.testing.assert_allclose(parts[f], whole[f], rtol=2e-4, atol=2e-4, err_msg=f)


@pytest.mark.parametrize("scale,n_bands,fmin", [("mel", 128, 0.0), ("bark", 24, 0.0), ("octave", 36, 110.0)])
def test_sparse_filterbank_product_of_one_frame_equals_the_batch(scale, n_bands, fmin, kernels, rng):
    # A live hop's product may run compiled (the CSR rows summed in scipy's order): the
    # batch's bands within float32 round-off, silence and a single bin included.
    from fluxstream.dsp.suite import BandsNode, BandsSpec

    node = BandsNode(ctx_for(sr=22050, n_fft=1024), BandsSpec(scale=scale, n_bands=n_bands, fmin_hz=fmin, power=2.0))
    assert node._sparse is not None  # triangles are sparse: the path under test
    P = (rng.random((1, 12, 513)) ** 4).astype(np.float32)
    P[0, 0] = 0.0
    P[0, 1] = 0.0
    P[0, 1, 100] = 1.0
    batch = node.process(P)
    alone = np.concatenate([node.process(P[:, i : i + 1]) for i in range(P.shape[1])], axis=1)
    assert alone.shape == batch.shape and alone.dtype == np.float32
    np.testing.assert_allclose(alone, batch, rtol=1e-6, atol=1e-12)


def test_shared_work_is_computed_once():
    ctx = ctx_for()
    g = Graph(ctx, ["mel", "mfcc", "mfcc.delta", "mfcc.delta2", "spectrum", "centroid", "rolloff"])
    names = [k[0] for k in g.order]
    assert names.count("stft") == 1 and names.count("bands.raw") == 1
    # Descriptors on the mel scale share one amplitude filterbank product.
    p = {n: load_config(overrides=[f'features.{n}.scale="mel"']).feature_params(n)
         for n in ("centroid", "spread", "flatness")}
    g = Graph(ctx, ["centroid", "spread", "flatness"], p)
    assert [k[0] for k in g.order].count("bands.raw") == 1
    # A different mel configuration is a different node.
    p2 = {"mel": load_config(overrides=["features.mel.n_mels=64"]).feature_params("mel")}
    g2 = Graph(ctx, ["mel", "mfcc"], p2)
    assert [k[0] for k in g2.order].count("bands.raw") == 2


@pytest.mark.parametrize("sr,n_fft,hop,n_mels,fmin,fmax,htk,norm", [
    (22050, 2048, 512, 128, 0.0, 0.0, False, "slaney"),
    (16000, 512, 160, 40, 20.0, 7600.0, True, "slaney"),
    (44100, 4096, 1024, 96, 0.0, 0.0, False, "none"),
    (48000, 1024, 256, 64, 50.0, 12000.0, True, "none"),
])
def test_mel_and_mfcc_equal_librosa(sr, n_fft, hop, n_mels, fmin, fmax, htk, norm, rng):
    x = signals(sr, sr, rng)["tone"]
    over = [f"features.mel.n_mels={n_mels}", f"features.mel.fmin_hz={fmin}", f"features.mel.fmax_hz={fmax}",
            f"features.mel.htk={str(htk).lower()}", f'features.mel.norm="{norm}"',
            f"features.mfcc.n_mels={n_mels}", f"features.mfcc.fmin_hz={fmin}", f"features.mfcc.fmax_hz={fmax}",
            f"features.mfcc.htk={str(htk).lower()}", f'features.mfcc.norm="{norm}"',
            "features.mfcc.n_mfcc=13", "features.mfcc.lifter=22"]
    cfg = load_config(overrides=over)
    g = Graph(ctx_for(sr, n_fft, hop), ["mel", "mfcc"], {n: cfg.feature_params(n) for n in ("mel", "mfcc")})
    out = run_graph(g, x[:, None])
    kw = dict(sr=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels, fmin=fmin, fmax=fmax or None, htk=htk,
              norm="slaney" if norm == "slaney" else None, center=True, pad_mode="constant")
    M = librosa.feature.melspectrogram(y=x, **kw)
    np.testing.assert_allclose(out["mel"][0], M.T, rtol=1e-4, atol=1e-6 * M.max())
    # librosa's mfcc(y=..., top_db=None) passes top_db on to filters.mel and fails; its
    # documented equivalent is mfcc(S=power_to_db(melspectrogram, top_db=None)).
    C = librosa.feature.mfcc(S=librosa.power_to_db(M, ref=1.0, amin=1e-10, top_db=None), n_mfcc=13, lifter=22)
    np.testing.assert_allclose(out["mfcc"][0], C.T, atol=2e-3 * np.abs(C).max())


def test_mfcc_deltas_equal_librosa_on_every_frame_with_correct_times(rng, tmp_path):
    import soundfile as sf

    from fluxstream import analyze

    sr = 22050
    x = signals(sr, 2 * sr, rng)["tone"]
    p = tmp_path / "t.wav"
    sf.write(p, x, sr, subtype="FLOAT")
    cfg = load_config(overrides=["input.block=777"])
    r = analyze(str(p), ["mfcc", "mfcc.delta", "mfcc.delta2"], cfg)
    C = r["mfcc"].T
    for name, order in (("mfcc.delta", 1), ("mfcc.delta2", 2)):
        ref = librosa.feature.delta(C, width=9, order=order)
        assert r[name].shape == r["mfcc"].shape
        np.testing.assert_allclose(r[name], ref.T, atol=1e-3 * np.abs(ref).max() + 1e-4)
        np.testing.assert_allclose(r[f"{name}.time"], r["mfcc.time"])


def test_delta_alone_follows_its_base_features_table(rng, tmp_path):
    # Asking for mfcc.delta without mfcc: [features.mfcc] still shapes its input.
    import soundfile as sf

    from fluxstream import analyze

    sr = 16000
    p = tmp_path / "t.wav"
    sf.write(p, signals(sr, sr, rng)["tone"], sr, subtype="FLOAT")
    cfg = load_config(overrides=["features.mfcc.n_mfcc=7"])
    r = analyze(str(p), ["mfcc.delta"], cfg)
    both = analyze(str(p), ["mfcc", "mfcc.delta"], cfg)
    assert r["mfcc.delta"].shape[1] == 7
    np.testing.assert_array_equal(r["mfcc.delta"], both["mfcc.delta"])


@pytest.mark.parametrize("sr,n_fft,hop", [(22050, 2048, 512), (16000, 512, 128), (44100, 4096, 1024)])
def test_chroma_equals_librosa_at_fixed_tuning(sr, n_fft, hop, rng):
    x = signals(sr, sr, rng)["tone"]
    for tuning in (0.0, 0.2):
        cfg = load_config(overrides=[f"features.chroma.tuning={tuning}"])
        g = Graph(ctx_for(sr, n_fft, hop), ["chroma"], {"chroma": cfg.feature_params("chroma")})
        out = run_graph(g, x[:, None])["chroma"][0]
        ref = librosa.feature.chroma_stft(y=x, sr=sr, n_fft=n_fft, hop_length=hop, tuning=tuning,
                                          center=True, pad_mode="constant")
        np.testing.assert_allclose(out, ref.T, atol=1e-4)


@pytest.mark.parametrize("sr,n_fft,hop", [(22050, 2048, 512), (48000, 1024, 256), (16000, 4096, 1024)])
def test_descriptors_equal_librosa(sr, n_fft, hop, rng):
    x = signals(sr, sr, rng)["tone"]
    cfg = load_config(overrides=["features.bandwidth.p=3", "features.rolloff.roll_percent=0.5",
                                 "features.contrast.linear=true"])
    names = ["centroid", "bandwidth", "rolloff", "flatness", "contrast", "rms", "zcr"]
    g = Graph(ctx_for(sr, n_fft, hop), names, {n: cfg.feature_params(n) for n in names})
    out = {k: v[0] for k, v in run_graph(g, x[:, None]).items()}
    S = np.abs(librosa.stft(x, n_fft=n_fft, hop_length=hop, center=True, pad_mode="constant"))
    kw = dict(S=S, sr=sr, n_fft=n_fft, hop_length=hop)
    np.testing.assert_allclose(out["centroid"][:, 0], librosa.feature.spectral_centroid(**kw)[0], rtol=1e-4)
    np.testing.assert_allclose(out["bandwidth"][:, 0], librosa.feature.spectral_bandwidth(p=3, **kw)[0], rtol=1e-4)
    np.testing.assert_allclose(out["rolloff"][:, 0], librosa.feature.spectral_rolloff(roll_percent=0.5, **kw)[0],
                               rtol=1e-6)
    np.testing.assert_allclose(out["flatness"][:, 0], librosa.feature.spectral_flatness(S=S)[0], rtol=1e-3,
                               atol=1e-6)
    np.testing.assert_allclose(out["contrast"], librosa.feature.spectral_contrast(linear=True, **kw).T,
                               rtol=1e-3, atol=1e-5 * S.max())
    np.testing.assert_allclose(out["rms"][:, 0], librosa.feature.rms(y=x, frame_length=n_fft, hop_length=hop,
                                                                     pad_mode="constant")[0], rtol=1e-4)
    z = librosa.feature.zero_crossing_rate(x, frame_length=n_fft, hop_length=hop)[0]
    edge = n_fft // hop + 1  # librosa pads zcr frames with edge values, fluxstream with zeros
    np.testing.assert_allclose(out["zcr"][edge:-edge, 0], z[edge:-edge], atol=1e-6)


def test_descriptors_on_other_scales_use_band_centres():
    cfg = load_config(overrides=['features.centroid.scale="mel"', "features.centroid.n_bands=64"])
    g = Graph(ctx_for(sr=16000, n_fft=1024, hop=256), ["centroid"], {"centroid": cfg.feature_params("centroid")})
    t = np.arange(16000) / 16000
    out = run_graph(g, (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)[:, None])["centroid"][0, 4:-4, 0]
    assert np.all(np.abs(out - 1000) < 150)  # band-resolution accurate, on band centres


def test_deconvolution_multiplies_back(rng):
    g = Graph(ctx_for(sr=16000, n_fft=512, hop=128), ["envelope", "fine", "spectrum"])
    out = run_graph(g, signals(16000, 4000, rng)["tone"][:, None])
    np.testing.assert_allclose(out["envelope"] * out["fine"], np.maximum(out["spectrum"], 1e-10), rtol=1e-4)


def test_feature_config_errors_name_the_key():
    from fluxstream.errors import ConfigError

    for over, msg in [("features.mel.n_mels=0", "features.mel.n_mels=0"),
                      ("features.mfcc.n_mfcc=200", "n_mfcc=200"),
                      ('features.centroid.scale="cents"', "features.centroid.scale='cents'"),
                      ("features.mfcc.delta.width=4", "features.mfcc.delta.width=4"),
                      ('features.chroma.tuning="auto"', "features.chroma.tuning='auto'"),
                      ("features.rolloff.roll_percent=1.5", "features.rolloff.roll_percent=1.5"),
                      ("features.mel.bogus=1", "unknown key features.mel.bogus")]:
        with pytest.raises(ConfigError, match=msg.replace(".", r"\.").replace("(", r"\(")):
            load_config(overrides=[over])
